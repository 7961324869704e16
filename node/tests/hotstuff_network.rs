//! Four validators as separate `aether run --consensus hotstuff` processes on 127.0.0.1, over
//! the libp2p network: they agree on the same blocks (each executed by every node), a
//! transaction sent to one node reaches the proposers, the chain goes on when one validator
//! stops (three of four are a quorum), the stopped one catches up when it comes back, and a new
//! node syncs the committed chain from its peers' stores and then follows consensus (and takes
//! transactions); a validator killed with SIGKILL is caught up and votes again; with two of
//! four killed nothing is final, and once they return the chain goes on without a fork.

mod common;

use std::time::{Duration, Instant};

use common::{Node, aether, json_of};
use serde_json::Value;

fn rpc(url: &str, method: &str, params: Vec<Value>) -> Value {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use jsonrpsee_core::client::ClientT;
        let c = jsonrpsee_http_client::HttpClientBuilder::default()
            .build(url)
            .unwrap();
        let mut p = jsonrpsee_core::params::ArrayParams::new();
        for v in params {
            p.insert(v).unwrap();
        }
        c.request::<Value, _>(method, p).await.unwrap()
    })
}

fn finalized(node: &Node) -> u64 {
    rpc(&node.rpc, "system_health", vec![])["finalizedHeight"]
        .as_u64()
        .unwrap()
}

fn wait_all(nodes: &[&Node], height: u64, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let heights: Vec<u64> = nodes.iter().map(|n| finalized(n)).collect();
        if heights.iter().all(|h| *h >= height) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not all at height {height}: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn block_hash(node: &Node, height: u64) -> String {
    let block = rpc(&node.rpc, "chain_getBlockByHeight", vec![height.into()]);
    block["header"]["hash"]
        .as_str()
        .unwrap_or_else(|| panic!("no block at height {height}: {block}"))
        .to_string()
}

fn all(nodes: &[Option<Node>]) -> Vec<&Node> {
    nodes.iter().flatten().collect()
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to metrics");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn four_validators_agree_through_stops_kills_a_lost_quorum_and_a_new_node() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    let g = genesis.to_str().unwrap();
    let out = aether(&["init-genesis", "--dev", "--dev-validators", "4", "--out", g]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    let peer_ids: Vec<String> = spec["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["peer_id"].as_str().unwrap().to_string())
        .collect();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let addr = |i: usize| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[i], peer_ids[i]);
    let start = |i: usize| {
        let base = dir.path().join(format!("v{i}"));
        let mut args: Vec<String> = [
            "--genesis",
            g,
            "--base-path",
            base.to_str().unwrap(),
            "--consensus",
            "hotstuff",
            "--validator",
            &format!("v{i}"),
            "--listen-addr",
            &format!("/ip4/127.0.0.1/tcp/{}", ports[i]),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for j in (0..4).filter(|j| *j != i) {
            args.push("--bootnodes".into());
            args.push(addr(j));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Node::start_with(&args)
    };
    let mut nodes: Vec<Option<Node>> = (0..4).map(|i| Some(start(i))).collect();

    wait_all(&all(&nodes), 5, 90);
    let health = rpc(&all(&nodes)[0].rpc, "system_health", vec![]);
    assert_eq!(health["peers"], 3, "{health}");
    assert_eq!(health["shouldHavePeers"], true);
    for h in 1..=5 {
        let hashes: Vec<String> = all(&nodes).iter().map(|n| block_hash(n, h)).collect();
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "height {h}: {hashes:?}"
        );
    }
    // The network's metrics count what went through it.
    let metrics = http_get(all(&nodes)[0].metrics.as_deref().unwrap(), "/metrics");
    assert!(metrics.contains("aether_net_peers 3"), "{metrics}");
    let votes_out = metrics
        .lines()
        .find(|l| {
            l.starts_with("aether_net_messages_total{topic=\"aether/votes/1\",direction=\"out\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(votes_out > 0, "{metrics}");
    // Honest validators never penalise each other.
    assert!(metrics.contains("aether_net_bans_total 0"), "{metrics}");
    assert!(
        metrics.contains("aether_net_penalties_total 0"),
        "{metrics}"
    );
    // A transaction sent to one node is gossiped to the proposers and included.
    let paid = json_of(&aether(&[
        "transfer",
        "--from",
        "//alice",
        "--to",
        "//bob",
        "--amount",
        "7",
        "--rpc",
        &all(&nodes)[3].rpc,
        "--json",
    ]));
    assert_eq!(paid["status"], "success", "{paid}");

    // One validator stops: three of four go on.
    let stopped = nodes[2].take().unwrap();
    assert!(stopped.stop().success());
    let now = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    wait_all(&all(&nodes), now + 3, 90);

    // It comes back and catches up.
    nodes[2] = Some(start(2));
    let now = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    wait_all(&all(&nodes), now + 2, 90);
    // A new node (a follower, no validator key) joins a chain 30 blocks long: it syncs the
    // committed blocks with their proofs from its peers' stores, then follows consensus.
    wait_all(&all(&nodes), 30, 120);
    let follower_base = dir.path().join("follower");
    let mut args: Vec<String> = vec![
        "--genesis".into(),
        g.into(),
        "--base-path".into(),
        follower_base.to_str().unwrap().into(),
        "--consensus".into(),
        "hotstuff".into(),
        "--listen-addr".into(),
        format!("/ip4/127.0.0.1/tcp/{}", free_port()),
    ];
    for j in 0..4 {
        args.push("--bootnodes".into());
        args.push(addr(j));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let follower = Node::start_with(&args);
    assert!(
        follower.wait_for_log("synced", 60).is_some(),
        "the new node did not sync"
    );
    assert!(
        finalized(&follower) >= 30,
        "sync brought it to the chain's height"
    );
    let now = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    nodes.push(Some(follower));
    wait_all(&all(&nodes), now + 2, 90);
    // A transaction sent to the follower reaches a block.
    let paid = json_of(&aether(&[
        "transfer",
        "--from",
        "//bob",
        "--to",
        "//alice",
        "--amount",
        "3",
        "--rpc",
        &nodes[4].as_ref().unwrap().rpc,
        "--json",
    ]));
    assert_eq!(paid["status"], "success", "{paid}");

    // kill -9 of one validator: the other three go on; restarted, it catches up and votes.
    drop(nodes[1].take());
    let now = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    wait_all(&all(&nodes), now + 3, 90);
    nodes[1] = Some(start(1));
    let now = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    wait_all(&all(&nodes), now + 3, 90);
    let metrics = http_get(
        nodes[1].as_ref().unwrap().metrics.as_deref().unwrap(),
        "/metrics",
    );
    let votes = metrics
        .lines()
        .find(|l| {
            l.starts_with("aether_net_messages_total{topic=\"aether/votes/1\",direction=\"out\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(votes > 0, "the restarted validator votes again: {metrics}");

    // kill -9 of two of four: no quorum, so nothing more is final (a block whose QC formed
    // just before may still commit); restarted, the chain goes on, with no fork.
    drop(nodes[0].take());
    drop(nodes[3].take());
    std::thread::sleep(Duration::from_millis(500));
    let stalled = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let after = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    assert!(
        after <= stalled + 1,
        "progress without a quorum: {stalled} -> {after}"
    );
    nodes[0] = Some(start(0));
    nodes[3] = Some(start(3));
    wait_all(&all(&nodes), after + 3, 120);

    let h = all(&nodes).iter().map(|n| finalized(n)).min().unwrap();
    let hashes: Vec<String> = all(&nodes).iter().map(|n| block_hash(n, h)).collect();
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "height {h}: {hashes:?}"
    );
}
