//! Two and three nodes on 127.0.0.1 over TCP: gossip, direct messages, requests with their
//! answers or failures, validation with penalties and bans, peers found through one bootnode
//! and again from the peer store. Every wait is bounded.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;

struct Sink(Mutex<mpsc::Sender<Inbound>>);

impl InboundSink for Sink {
    fn deliver(&self, inbound: Inbound) {
        let _ = self.0.lock().unwrap().send(inbound);
    }
}

/// Refuses payloads that start with 0xff (on the transactions topic: whose first transaction
/// does, after the count).
struct NoFf;

impl GossipValidator for NoFf {
    fn validate(&self, topic: Topic, payload: &[u8]) -> Acceptance {
        let first = if topic == Topic::Transactions { 1 } else { 0 };
        if payload.get(first) == Some(&0xff) {
            Acceptance::Reject
        } else {
            Acceptance::Accept
        }
    }
}

fn node(bootnodes: Vec<Multiaddr>) -> (Libp2pNetwork, mpsc::Receiver<Inbound>) {
    node_on("/ip4/127.0.0.1/tcp/0", bootnodes)
}

fn node_on(listen: &str, bootnodes: Vec<Multiaddr>) -> (Libp2pNetwork, mpsc::Receiver<Inbound>) {
    node_with(listen, bootnodes, Limits::default())
}

fn node_with(
    listen: &str,
    bootnodes: Vec<Multiaddr>,
    limits: Limits,
) -> (Libp2pNetwork, mpsc::Receiver<Inbound>) {
    node_full(Keypair::generate_ed25519(), listen, bootnodes, limits, None)
}

fn node_full(
    key: Keypair,
    listen: &str,
    bootnodes: Vec<Multiaddr>,
    limits: Limits,
    peer_store: Option<std::path::PathBuf>,
) -> (Libp2pNetwork, mpsc::Receiver<Inbound>) {
    let net = Libp2pNetwork::start(P2pConfig {
        key,
        listen: vec![listen.parse().unwrap()],
        bootnodes,
        // Only the test of discovery finds peers beyond the bootnodes: the others build
        // their topologies (a line, say) from bootnodes alone.
        discovery: peer_store.is_some(),
        peer_store,
        protocol_version: "/aether/test/1".into(),
        agent: "aether-test/1".into(),
        validator: Arc::new(NoFf),
        limits: Limits {
            heartbeat: Duration::from_millis(100),
            request_timeout: Duration::from_secs(2),
            ..limits
        },
    })
    .unwrap();
    let (tx, rx) = mpsc::channel();
    net.set_inbound(Arc::new(Sink(Mutex::new(tx))));
    (net, rx)
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn address(net: &Libp2pNetwork) -> Multiaddr {
    let addr = wait_for("a listen address", || net.listening().first().cloned());
    addr.with(libp2p::multiaddr::Protocol::P2p(net.local_peer_id()))
}

fn next(rx: &mpsc::Receiver<Inbound>) -> Inbound {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("an inbound message")
}

#[cfg(feature = "quic")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_talk_over_quic() {
    let (a, a_in) = node_on("/ip4/127.0.0.1/udp/0/quic-v1", Vec::new());
    let a_addr = address(&a);
    assert!(a_addr.to_string().contains("/quic-v1"), "{a_addr}");
    let (b, b_in) = node_on("/ip4/127.0.0.1/udp/0/quic-v1", vec![a_addr]);
    let a_id = port_peer(&a.local_peer_id());
    let b_id = port_peer(&b.local_peer_id());
    tokio::task::spawn_blocking(move || {
        wait_for("the peers to connect over QUIC", || {
            (a.peers() == vec![b_id.clone()] && b.peers() == vec![a_id.clone()]).then_some(())
        });
        let info = b.peer_info();
        assert!(info[0].address.to_string().contains("/udp/"), "{info:?}");
        // A direct message, and a request with its answer.
        a.send(&b_id, Topic::Votes, vec![5; 64]);
        match next(&b_in) {
            Inbound::Message { from, payload, .. } => {
                assert_eq!((from, payload), (a_id.clone(), vec![5; 64]))
            }
            other => panic!("{other:?}"),
        }
        let asked = b.request(&a_id, Protocol::CommittedRange, vec![1; 16]);
        let id = loop {
            match next(&a_in) {
                Inbound::Request { id, payload, .. } => {
                    assert_eq!(payload, vec![1; 16]);
                    break id;
                }
                Inbound::Message { .. } => continue,
                other => panic!("{other:?}"),
            }
        };
        a.respond(id, vec![2; 100_000]);
        match next(&b_in) {
            Inbound::Response { id, result, .. } => {
                assert_eq!(id, asked);
                assert_eq!(result, Ok(vec![2; 100_000]));
            }
            other => panic!("{other:?}"),
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_gossip_send_and_answer_requests() {
    let (a, a_in) = node(Vec::new());
    let (b, b_in) = node(vec![address(&a)]);
    let a_id = port_peer(&a.local_peer_id());
    let b_id = port_peer(&b.local_peer_id());
    tokio::task::spawn_blocking(move || {
        wait_for("the peers to connect", || {
            (a.peers() == vec![b_id.clone()] && b.peers() == vec![a_id.clone()]).then_some(())
        });
        // Each knows where the other is and, once a ping is answered, how far.
        let seen = wait_for("a ping's round trip", || {
            let info = b.peer_info();
            (info.len() == 1 && info[0].rtt.is_some()).then(|| info[0].clone())
        });
        assert_eq!(seen.peer_id, a.local_peer_id());
        assert!(
            a.listening().contains(&seen.address),
            "b dialed a at its listen address: {seen:?}"
        );
        assert!(seen.rtt.unwrap() < Duration::from_secs(5), "{seen:?}");

        // Gossip: resent until the subscription is known (publishing before fails quietly).
        let got = wait_for("gossip", || {
            b.broadcast(Topic::Proposals, vec![1, 2, 3]);
            match a_in.recv_timeout(Duration::from_millis(200)) {
                Ok(Inbound::Message {
                    from,
                    topic,
                    payload,
                }) => Some((from, topic, payload)),
                _ => None,
            }
        });
        assert_eq!(got, (b_id.clone(), Topic::Proposals, vec![1, 2, 3]));

        // Direct.
        a.send(&b_id, Topic::Votes, vec![9; 100]);
        match next(&b_in) {
            Inbound::Message {
                from,
                topic,
                payload,
            } => {
                assert_eq!(
                    (from, topic, payload),
                    (a_id.clone(), Topic::Votes, vec![9; 100])
                )
            }
            other => panic!("{other:?}"),
        }

        // A request and its answer.
        let asked = b.request(&a_id, Protocol::BlockById, vec![7; 32]);
        let (id, payload) = loop {
            match next(&a_in) {
                Inbound::Request {
                    id,
                    protocol,
                    payload,
                    from,
                } => {
                    assert_eq!((protocol, from), (Protocol::BlockById, b_id.clone()));
                    break (id, payload);
                }
                // Gossip resent above may still arrive.
                Inbound::Message { .. } => continue,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(payload, vec![7; 32]);
        a.respond(id, b"the block".to_vec());
        a.respond(id, b"a second answer is ignored".to_vec());
        match next(&b_in) {
            Inbound::Response { id, result, from } => {
                assert_eq!((id, from), (asked, a_id.clone()));
                assert_eq!(result, Ok(b"the block".to_vec()));
            }
            other => panic!("{other:?}"),
        }

        // A request nobody answers times out; one to a peer not connected fails at once.
        let asked = b.request(&a_id, Protocol::CommittedRange, vec![1]);
        while !matches!(next(&a_in), Inbound::Request { .. }) {}
        match next(&b_in) {
            Inbound::Response { id, result, .. } => {
                assert_eq!(id, asked);
                assert!(result.is_err(), "{result:?}");
            }
            other => panic!("{other:?}"),
        }
        let stranger = port_peer(&Keypair::generate_ed25519().public().to_peer_id());
        let asked = b.request(&stranger, Protocol::BlockById, vec![1]);
        match next(&b_in) {
            Inbound::Response { id, result, .. } => {
                assert_eq!((id, result), (asked, Err(RequestFailure::NotConnected)));
            }
            other => panic!("{other:?}"),
        }
        let garbage = PeerId(vec![1, 2, 3]);
        let asked = b.request(&garbage, Protocol::BlockById, vec![1]);
        match next(&b_in) {
            Inbound::Response { id, result, .. } => {
                assert_eq!((id, result), (asked, Err(RequestFailure::NotConnected)));
            }
            other => panic!("{other:?}"),
        }
        assert!(a.stats().messages_in[1].load(Ordering::Relaxed) >= 1);
        assert!(b.stats().messages_in[2].load(Ordering::Relaxed) >= 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_gossip_is_not_forwarded_and_gets_its_sender_banned() {
    // A line: bad — relay — far. The relay rejects what starts with 0xff.
    let (relay, relay_in) = node(Vec::new());
    let (far, far_in) = node(vec![address(&relay)]);
    let (bad, _bad_in) = node(vec![address(&relay)]);
    let relay_id = port_peer(&relay.local_peer_id());
    let bad_id = port_peer(&bad.local_peer_id());
    tokio::task::spawn_blocking(move || {
        wait_for("the line to connect", || {
            (relay.peers().len() == 2 && far.peers() == vec![relay_id.clone()]).then_some(())
        });
        // A valid message crosses the relay (resent until the mesh knows the topic).
        // (A transactions message is a SCALE list: 0x04 is a count of one.)
        wait_for("a valid message at the far end", || {
            bad.broadcast(Topic::Transactions, vec![0x04, 1]);
            match far_in.recv_timeout(Duration::from_millis(200)) {
                Ok(Inbound::Message { payload, .. }) if payload == vec![0x04, 1] => Some(()),
                _ => None,
            }
        });
        // Invalid ones are not delivered at the relay nor forwarded, and cost the sender
        // its connection.
        for i in 0..3u8 {
            bad.broadcast(Topic::Transactions, vec![0x04, 0xff, i]);
        }
        wait_for("the ban", || {
            (relay.stats().bans.load(Ordering::Relaxed) == 1).then_some(())
        });
        wait_for("the disconnection", || {
            (!relay.peers().contains(&bad_id)).then_some(())
        });
        let leaked = |rx: &mpsc::Receiver<Inbound>| {
            rx.try_iter().any(
                |m| matches!(m, Inbound::Message { payload, .. } if payload.get(1) == Some(&0xff)),
            )
        };
        assert!(!leaked(&relay_in), "the relay delivered an invalid message");
        assert!(!leaked(&far_in), "an invalid message was forwarded");
        // The banned peer cannot come back at once.
        bad.dial(address(&relay));
        std::thread::sleep(Duration::from_millis(500));
        assert!(!relay.peers().contains(&bad_id));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_counted_inside_messages_and_never_come_directly() {
    // The relay takes at most 2,000 gossiped transactions a second from one peer.
    let (relay, relay_in) = node_with(
        "/ip4/127.0.0.1/tcp/0",
        Vec::new(),
        Limits {
            max_gossiped_txs_per_second: 2_000,
            ..Limits::default()
        },
    );
    let (bad, _bad_in) = node(vec![address(&relay)]);
    let relay_id = port_peer(&relay.local_peer_id());
    tokio::task::spawn_blocking(move || {
        wait_for("the peers to connect", || {
            (relay.peers().len() == 1).then_some(())
        });
        wait_for("a message of one transaction", || {
            bad.broadcast(Topic::Transactions, vec![0x04, 1]);
            match relay_in.recv_timeout(Duration::from_millis(200)) {
                Ok(Inbound::Message { payload, .. }) if payload == vec![0x04, 1] => Some(()),
                _ => None,
            }
        });
        // Messages each claiming 1,024 transactions (compact 1,024 = [0x01, 0x10]): within
        // the message rate (1,000 a second), beyond the transaction rate by the third.
        let dropped = relay.stats().dropped.load(Ordering::Relaxed);
        let penalties = relay.stats().penalties.load(Ordering::Relaxed);
        for i in 0..6u8 {
            bad.broadcast(Topic::Transactions, vec![0x01, 0x10, i, 2, 3]);
        }
        wait_for("the transaction rate to cut in", || {
            (relay.stats().dropped.load(Ordering::Relaxed) > dropped
                && relay.stats().penalties.load(Ordering::Relaxed) > penalties)
                .then_some(())
        });
        let delivered = relay_in
            .try_iter()
            .filter(|m| matches!(m, Inbound::Message { payload, .. } if payload.len() == 5))
            .count();
        assert!(
            delivered <= 2,
            "{delivered} messages of 1,024 delivered at 2,000 a second"
        );
        // Transactions sent directly (not gossiped, so never checked): refused, and they cost
        // the sender its standing.
        let penalties = relay.stats().penalties.load(Ordering::Relaxed);
        bad.send(&relay_id, Topic::Transactions, vec![0x04, 1]);
        wait_for("the penalty", || {
            (relay.stats().penalties.load(Ordering::Relaxed) > penalties).then_some(())
        });
        assert!(
            !relay_in.try_iter().any(|m| matches!(
                m,
                Inbound::Message {
                    topic: Topic::Transactions,
                    ..
                }
            )),
            "a direct transaction was delivered"
        );
    })
    .await
    .unwrap();
}

/// Nodes that know only one bootnode find each other (Kademlia), and a node restarted without
/// bootnodes reaches its peers again from its peer store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_found_through_one_bootnode_and_again_from_the_peer_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("network").join("peers");
    let discovering = |name: &str, bootnodes| {
        node_full(
            Keypair::generate_ed25519(),
            "/ip4/127.0.0.1/tcp/0",
            bootnodes,
            Limits::default(),
            Some(dir.path().join(name)),
        )
    };
    let (a, _a_in) = discovering("a-peers", Vec::new());
    let a_addr = address(&a);
    let (b, _b_in) = discovering("b-peers", vec![a_addr.clone()]);
    let c_key = Keypair::generate_ed25519();
    let (c, c_in) = node_full(
        c_key.clone(),
        "/ip4/127.0.0.1/tcp/0",
        vec![a_addr],
        Limits::default(),
        Some(store.clone()),
    );
    let (a_id, b_id) = (port_peer(&a.local_peer_id()), port_peer(&b.local_peer_id()));
    tokio::task::spawn_blocking(move || {
        // b and c were told only of a: they find each other.
        wait_for("b and c to find each other", || {
            let mut peers = c.peers();
            peers.sort();
            let mut want = vec![a_id.clone(), b_id.clone()];
            want.sort();
            // Both identified (their listen addresses known): what the peer store keeps.
            let identified = c.peer_info().iter().all(|p| p.agent.is_some());
            (peers == want && identified).then_some(())
        });
        // A direct message from c reaches b over the connection it found.
        c.send(&b_id, Topic::Votes, vec![9; 8]);
        drop((c, c_in));
        // What c found is in its peer store (saved when it stopped)...
        let (saved, skipped) = wait_for("c's peer store", || {
            let loaded = peer_store::load(&store).ok()?;
            (loaded.0.len() >= 2).then_some(loaded)
        });
        assert_eq!(skipped, 0);
        assert!(saved.iter().any(|(p, _)| port_peer(p) == a_id), "{saved:?}");
        assert!(saved.iter().any(|(p, _)| port_peer(p) == b_id), "{saved:?}");
        // ...and c started again without bootnodes reaches both.
        let (c, _c_in) = node_full(
            c_key,
            "/ip4/127.0.0.1/tcp/0",
            Vec::new(),
            Limits::default(),
            Some(store),
        );
        wait_for("c to reach its stored peers", || {
            let peers = c.peers();
            (peers.contains(&a_id) && peers.contains(&b_id)).then_some(())
        });
        drop((a, b));
    })
    .await
    .unwrap();
}
