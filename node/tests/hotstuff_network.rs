//! Four validators as separate `aether run --consensus hotstuff` processes over the libp2p
//! network: they agree on the same blocks (each executed by every node), a transaction sent to
//! one node reaches the proposers, the chain goes on when one validator stops (three of four are
//! a quorum), the stopped one catches up when it comes back, and a new node syncs the committed
//! chain from its peers' stores and then follows consensus (and takes transactions); a validator
//! killed with SIGKILL is caught up and votes again; with two of four killed nothing is final,
//! and once they return the chain goes on without a fork. Kill/restart cycles lose no committed
//! block to the chain (`AETHER_NET_CYCLES` sets how many: 3 by default, 50 in the long mode). In network
//! namespaces the test creates, a validator cut off by a partition forks nothing and catches up
//! after the heal, and a 2–2 split finalizes nothing on either side until it heals.

mod common;
#[path = "hotstuff_network/netns.rs"]
mod netns;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Node, aether, free_port, http_get, json_of, rpc, try_rpc};
use serde_json::Value;

fn finalized(node: &Node) -> u64 {
    // A node that stopped answering says why in its last lines.
    try_rpc(&node.rpc, "system_health", vec![])
        .unwrap_or_else(|e| panic!("{e}; the node's last lines:\n{}", node.log_tail(40)))
        ["finalizedHeight"]
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
        if Instant::now() > deadline {
            // Where each node's consensus stands, its last lines, and all its lines in files.
            let logs = std::env::temp_dir().join(format!("aether-stall-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&logs);
            let report: Vec<String> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let _ = n.save_log(&logs.join(format!("node-{i}.log")));
                    let health = rpc(&n.rpc, "system_health", vec![]);
                    format!("--- node {i}: {health}\n{}", n.log_tail(30))
                })
                .collect();
            panic!(
                "not all at height {height}: {heights:?} (full logs in {})\n{}",
                logs.display(),
                report.join("\n")
            );
        }
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

/// Votes the node has sent, from its network metrics.
fn votes_in(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("aether_net_messages_total{topic=\"aether/votes/1\",direction=\"out\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// The node's metrics once `ready` holds for them, or after `secs` the last ones read (for the
/// caller's assertion): a gauge or counter can trail the event the test waited for.
fn metrics_when(node: &Node, secs: u64, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let metrics = http_get(node.metrics.as_deref().unwrap(), "/metrics");
        if ready(&metrics) || Instant::now() > deadline {
            return metrics;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn all(nodes: &[Option<Node>]) -> Vec<&Node> {
    nodes.iter().flatten().collect()
}

fn highest(nodes: &[Option<Node>]) -> u64 {
    all(nodes).iter().map(|n| finalized(n)).max().unwrap()
}

/// Every node holds the same block at every height from `from` to the lowest finalized one,
/// which is returned.
fn assert_one_chain(nodes: &[&Node], from: u64) -> u64 {
    let top = nodes.iter().map(|n| finalized(n)).min().unwrap();
    for h in from..=top {
        let hashes: Vec<String> = nodes.iter().map(|n| block_hash(n, h)).collect();
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "fork at height {h}: {hashes:?}"
        );
    }
    top
}

/// A genesis with `n` dev validators and where each one listens.
struct Cluster {
    dir: tempfile::TempDir,
    genesis: PathBuf,
    peer_ids: Vec<String>,
    /// Each validator's IP and TCP port on the libp2p network.
    listen: Vec<(String, u16)>,
    /// Namespaces to run the validators in, when the test partitions the network.
    lab: Option<netns::Lab>,
    /// Validator key files (`aether keys validator`), when the validators do not use dev keys.
    key_files: Option<Vec<PathBuf>>,
    /// Each node is told of one bootnode only (v1 for v0, v0 for the others and v1 for nodes
    /// that are not validators): the rest it must find (Kademlia, its peer store).
    one_bootnode: bool,
    /// `--recent-blocks` of every node (committed blocks kept for block retrieval).
    recent_blocks: Option<u32>,
}

impl Cluster {
    fn new(n: usize, lab: Option<netns::Lab>) -> Cluster {
        Cluster::with_keys(n, lab, false)
    }

    /// `n` validators with dev keys, or (`key_files`) with keys of their own: key files from
    /// `aether keys validator`, their printed entries put in the genesis.
    fn with_keys(n: usize, lab: Option<netns::Lab>, key_files: bool) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let genesis = dir.path().join("genesis.json");
        let mut args: Vec<String> = vec!["init-genesis".into(), "--dev".into()];
        let key_files = key_files.then(|| {
            (0..n)
                .map(|i| {
                    let key = dir.path().join(format!("v{i}.key"));
                    let entry = json_of(&aether(&[
                        "keys",
                        "validator",
                        "--name",
                        &format!("v{i}"),
                        "--out",
                        key.to_str().unwrap(),
                    ]));
                    let entry_file = dir.path().join(format!("v{i}.json"));
                    std::fs::write(&entry_file, entry.to_string()).unwrap();
                    args.extend([
                        "--validator-entry".into(),
                        entry_file.to_str().unwrap().into(),
                    ]);
                    key
                })
                .collect::<Vec<_>>()
        });
        if key_files.is_none() {
            args.extend(["--dev-validators".into(), n.to_string()]);
        }
        args.extend(["--out".into(), genesis.to_str().unwrap().into()]);
        let out = aether(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
        let peer_ids = spec["validators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["peer_id"].as_str().unwrap().to_string())
            .collect();
        let listen = (0..n)
            .map(|i| match lab {
                // Each namespace has its own ports: all may use one.
                Some(_) => (netns::data_ip(i), 30333),
                None => ("127.0.0.1".to_string(), free_port()),
            })
            .collect();
        Cluster {
            dir,
            genesis,
            peer_ids,
            listen,
            lab,
            key_files,
            one_bootnode: false,
            recent_blocks: None,
        }
    }

    /// Validator `i`'s address with its peer id, as a bootnode.
    fn addr(&self, i: usize) -> String {
        let (ip, port) = &self.listen[i];
        format!("/ip4/{ip}/tcp/{port}/p2p/{}", self.peer_ids[i])
    }

    /// Starts `aether run` on `base`, listening at `listen`, with every other validator as a
    /// bootnode, in validator `slot`'s namespace when there is a lab.
    fn run(&self, base: &str, listen: (&str, u16), extra: &[&str], slot: usize) -> Node {
        self.run_with(base, listen, extra, slot, None)
    }

    /// [`Cluster::run`] with these validators as its bootnodes, if given.
    fn run_with(
        &self,
        base: &str,
        listen: (&str, u16),
        extra: &[&str],
        slot: usize,
        bootnodes: Option<&[usize]>,
    ) -> Node {
        let genesis = self.genesis.to_str().unwrap();
        let base = self.dir.path().join(base);
        let mut args: Vec<String> = [
            "--genesis",
            genesis,
            "--base-path",
            base.to_str().unwrap(),
            "--consensus",
            "hotstuff",
            "--listen-addr",
            &format!("/ip4/{}/tcp/{}", listen.0, listen.1),
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        if let Some(n) = self.recent_blocks {
            args.extend(["--recent-blocks".to_string(), n.to_string()]);
        }
        let me = (0..self.listen.len())
            .find(|j| (self.listen[*j].0.as_str(), self.listen[*j].1) == listen);
        let bootnodes: Vec<usize> = match (bootnodes, self.one_bootnode, me) {
            (Some(given), _, _) => given.to_vec(),
            (None, false, _) => (0..self.listen.len()).filter(|j| Some(*j) != me).collect(),
            (None, true, Some(0)) | (None, true, None) => vec![1],
            (None, true, Some(_)) => vec![0],
        };
        for j in bootnodes {
            args.push("--bootnodes".into());
            args.push(self.addr(j));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match &self.lab {
            Some(lab) => {
                let wrapper = lab.wrapper(slot);
                let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
                Node::launch(&wrapper, &args, &lab.mgmt_ip(slot))
            }
            None => Node::start_with(&args),
        }
    }

    /// Starts validator `i` (its base path kept across restarts).
    fn start(&self, i: usize) -> Node {
        let (ip, port) = self.listen[i].clone();
        let name = format!("v{i}");
        let keys = match &self.key_files {
            Some(files) => ["--validator-key", files[i].to_str().unwrap()],
            None => ["--validator", name.as_str()],
        };
        self.run(&name, (&ip, port), &keys, i)
    }

    /// Starts every validator.
    fn start_all(&self) -> Vec<Option<Node>> {
        (0..self.listen.len())
            .map(|i| Some(self.start(i)))
            .collect()
    }
}

#[test]
fn four_validators_agree_through_stops_kills_a_lost_quorum_and_a_new_node() {
    let cluster = Cluster::new(4, None);
    let start = |i: usize| cluster.start(i);
    let mut nodes = cluster.start_all();

    wait_all(&all(&nodes), 5, 90);
    let health = rpc(&all(&nodes)[0].rpc, "system_health", vec![]);
    assert_eq!(health["peers"], 3, "{health}");
    // `aether peers` shows each peer's role (by the genesis's peer ids), address and latency.
    let peers = json_of(&aether(&["peers", "--rpc", &all(&nodes)[0].rpc, "--json"]));
    let peers = peers.as_array().unwrap();
    assert_eq!(peers.len(), 3, "{peers:?}");
    let mut names: Vec<&str> = peers
        .iter()
        .map(|p| p["validator"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["v1", "v2", "v3"], "{peers:?}");
    for p in peers {
        assert_eq!(p["role"], "validator", "{p}");
        assert!(
            p["address"]
                .as_str()
                .unwrap()
                .starts_with("/ip4/127.0.0.1/tcp/"),
            "{p}"
        );
        assert!(
            p["latencyMs"].as_f64().is_some_and(|ms| ms < 5_000.0),
            "{p}"
        );
        // The name it gave itself (its validator name by default) comes with identify.
        let agent = format!(
            "aether/{} ({})",
            env!("CARGO_PKG_VERSION"),
            p["validator"].as_str().unwrap()
        );
        assert_eq!(p["agent"], agent.as_str(), "{p}");
    }
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
    let votes_out = votes_in(&metrics);
    assert!(metrics.contains("aether_net_peers 3"), "{metrics}");
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
    let follower = cluster.run(
        "follower",
        ("127.0.0.1", free_port()),
        &["--name", "follower-1"],
        0,
    );
    assert!(
        follower.wait_for_log("synced", 60).is_some(),
        "the new node did not sync"
    );
    assert!(
        finalized(&follower) >= 30,
        "sync brought it to the chain's height"
    );
    // Its metrics count the blocks it synced, and say it is done (the gauge is cleared just
    // after the log line).
    let metrics = metrics_when(&follower, 10, |m| m.contains("aether_syncing 0"));
    let synced = metrics
        .lines()
        .find_map(|l| l.strip_prefix("aether_sync_blocks_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(synced >= 30, "{metrics}");
    assert!(metrics.contains("aether_syncing 0"), "{metrics}");
    let now = all(&nodes).iter().map(|n| finalized(n)).max().unwrap();
    nodes.push(Some(follower));
    wait_all(&all(&nodes), now + 2, 90);
    // The validators see it as a full node, by the name it chose.
    let peers = rpc(&all(&nodes)[0].rpc, "system_peers", vec![]);
    assert!(
        peers.as_array().unwrap().iter().any(|p| p["role"] == "full"
            && p["validator"].is_null()
            && p["agent"]
                .as_str()
                .is_some_and(|a| a.ends_with("(follower-1)"))),
        "{peers}"
    );
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
    // It may reach that height through the catch-up at start before its consensus runs: its
    // first vote can come a moment later.
    let metrics = metrics_when(nodes[1].as_ref().unwrap(), 60, |m| votes_in(m) > 0);
    assert!(
        votes_in(&metrics) > 0,
        "the restarted validator votes again: {metrics}"
    );

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

    assert_one_chain(&all(&nodes), 1);
}

#[test]
fn validators_with_their_own_key_files_agree_and_one_started_late_joins_and_votes_and_a_snapshot_syncs()
 {
    // Validators told of one bootnode each find the others (their votes go straight to the
    // next leader); once v0, the bootnode of most, is stopped, they still reach each other.
    let started = Instant::now();
    let mut cluster = Cluster::with_keys(4, None, true);
    cluster.one_bootnode = true;
    // Peers keep only 2 committed blocks for block retrieval (the late node below must sync
    // from their stores while it runs).
    cluster.recent_blocks = Some(2);
    // Three of four are a quorum: they commit without the fourth.
    let mut nodes: Vec<Option<Node>> = (0..3).map(|i| Some(cluster.start(i))).collect();
    wait_all(&all(&nodes), 4, 90);
    eprintln!("three at 4 ({:.0?})", started.elapsed());
    // The fourth starts for the first time on a chain that went on without it: it syncs the
    // committed blocks and, being new (its database was at genesis when it opened), starts a
    // fresh safety record instead of refusing as a validator that lost its record would.
    nodes.push(Some(cluster.start(3)));
    let top = highest(&nodes);
    wait_all(&all(&nodes), top + 2, 90);
    eprintln!("the fourth joined ({:.0?})", started.elapsed());
    assert_one_chain(&all(&nodes), 1);
    // Each runs under the identity its key file gives, as the genesis lists it. A quorum
    // finalizes through any three, so v0 may not have dialled the last one yet: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let peers = rpc(&all(&nodes)[0].rpc, "system_peers", vec![]);
        let mut names: Vec<String> = peers
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["validator"]
                    .as_str()
                    .unwrap_or("not a validator")
                    .to_string()
            })
            .collect();
        names.sort();
        if names == ["v1", "v2", "v3"] || std::time::Instant::now() > deadline {
            assert_eq!(names, ["v1", "v2", "v3"], "{peers}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Each found the others, though told of one bootnode.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let peers: Vec<u64> = all(&nodes)
            .iter()
            .map(|n| {
                rpc(&n.rpc, "system_health", vec![])["peers"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        if peers.iter().all(|p| *p == 3) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "peers of each validator: {peers:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Without v0 the chain goes on only if the late one votes.
    assert!(nodes[0].take().unwrap().stop().success());
    let top = highest(&nodes);
    wait_all(&all(&nodes), top + 3, 90);
    eprintln!("v0 stopped, three went on ({:.0?})", started.elapsed());
    assert_one_chain(&all(&nodes), 1);

    // A node restored from a snapshot of the stopped v0's state syncs the blocks committed
    // since from its peers (executing each on the restored state) and then follows consensus.
    let base = |name: &str| cluster.dir.path().join(name).to_str().unwrap().to_string();
    let snapshots = base("snapshots");
    let made = aether(&[
        "snapshots",
        "create",
        "--base-path",
        &base("v0"),
        "--out",
        &snapshots,
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let file = std::fs::read_dir(&snapshots)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let restored = aether(&[
        "snapshots",
        "restore",
        file.to_str().unwrap(),
        "--base-path",
        &base("restored"),
    ]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let snapshot_height: u64 = String::from_utf8_lossy(&restored.stdout)
        .split_whitespace()
        .nth(2)
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&restored.stdout)));
    let top = highest(&nodes);
    assert!(top > snapshot_height + 2, "{top} {snapshot_height}");
    let follower = cluster.run("restored", ("127.0.0.1", free_port()), &[], 0);
    assert!(
        follower.wait_for_log("synced", 60).is_some(),
        "the restored node did not sync: {}",
        follower.log_tail(30)
    );
    let metrics = http_get(follower.metrics.as_deref().unwrap(), "/metrics");
    let synced = metrics
        .lines()
        .find_map(|l| l.strip_prefix("aether_sync_blocks_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        synced >= top - snapshot_height,
        "synced {synced} blocks from {snapshot_height} to {top}"
    );
    nodes.push(Some(follower));
    let top = highest(&nodes);
    wait_all(&all(&nodes), top + 2, 90);
    eprintln!("the restored node follows ({:.0?})", started.elapsed());
    // It holds the chain's blocks (whose headers carry their state roots) from just after the
    // snapshot on.
    assert_one_chain(&all(&nodes), snapshot_height + 1);

    // A node whose one bootnode (the stopped v0) cannot be reached starts consensus at genesis
    // after waiting for peers. Once v0 is back, it hears of blocks far older than what its
    // peers keep for retrieval, sees its consensus stuck behind, and syncs from their stores
    // while it runs (it never had a connection that could deliver what it missed).
    let late = cluster.run_with("late", ("127.0.0.1", free_port()), &[], 0, Some(&[0]));
    assert!(
        late.wait_for_log("no peer to sync from", 30).is_some(),
        "{}",
        late.log_tail(20)
    );
    nodes[0] = Some(cluster.start(0));
    eprintln!("v0 restarted ({:.0?})", started.elapsed());
    assert!(
        late.wait_for_log("consensus restarted after the sync", 90)
            .is_some(),
        "the late node did not sync while running: {}",
        late.log_tail(30)
    );
    nodes.push(Some(late));
    let top = highest(&nodes);
    wait_all(&all(&nodes), top + 2, 90);
    eprintln!("the late node caught up ({:.0?})", started.elapsed());
    assert_one_chain(&all(&nodes), snapshot_height + 1);
}

#[test]
fn kill_restart_cycles_lose_no_committed_block_and_fork_nothing() {
    let cycles: usize = std::env::var("AETHER_NET_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let cluster = Cluster::new(4, None);
    let mut nodes = cluster.start_all();
    wait_all(&all(&nodes), 3, 90);
    let (started, mut checked, mut refetched) = (Instant::now(), 1, 0);
    for cycle in 0..cycles {
        // Each validator in turn, so every one is killed as leader, voter and next leader.
        let victim = cycle % nodes.len();
        let before = finalized(nodes[victim].as_ref().unwrap());
        let block_before = block_hash(nodes[victim].as_ref().unwrap(), before);
        drop(nodes[victim].take()); // SIGKILL
        let now = highest(&nodes);
        wait_all(&all(&nodes), now + 2, 90);
        nodes[victim] = Some(cluster.start(victim));
        // ParityDB writes a commit in the background: SIGKILL may take the last blocks
        // committed with it (docs/storage.md), which the node then fetches from its peers.
        let back = finalized(nodes[victim].as_ref().unwrap());
        if back < before {
            refetched += before - back;
        }
        let now = highest(&nodes);
        wait_all(&all(&nodes), now + 2, 90);
        // Nothing committed is lost to the chain: the node is past where it was, on the block
        // it had committed there, and every node holds one chain.
        assert_eq!(
            block_hash(nodes[victim].as_ref().unwrap(), before),
            block_before,
            "cycle {cycle}: v{victim}'s block at {before} changed across the restart"
        );
        checked = assert_one_chain(&all(&nodes), checked);
        eprintln!(
            "cycle {} of {cycles}: v{victim} killed at {before}, back at {back}; one chain to {checked} ({:.0?})",
            cycle + 1,
            started.elapsed()
        );
    }
    eprintln!("{refetched} committed blocks lost to SIGKILL were fetched again from peers");
}

#[test]
fn partitions_fork_nothing_and_the_cut_off_catch_up_after_the_heal() {
    let lab = match netns::Lab::new(4) {
        Ok(lab) => lab,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: no network namespaces here ({e}); run as root with iproute2");
            return;
        }
        Err(e) => panic!("CI runs this test in network namespaces: {e}"),
    };
    let cluster = Cluster::new(4, Some(lab));
    let lab = cluster.lab.as_ref().unwrap();
    let nodes = cluster.start_all();
    let nodes = all(&nodes);
    wait_all(&nodes, 3, 90);

    // One validator cut off: the other three are a quorum and go on; it finalizes nothing new
    // (a block whose QC reached it just before may still commit).
    lab.partition(&[&[0, 1, 2][..], &[3]]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let cut = finalized(nodes[3]);
    let majority = &nodes[..3];
    let now = majority.iter().map(|n| finalized(n)).max().unwrap();
    wait_all(majority, now + 5, 90);
    let alone = finalized(nodes[3]);
    assert!(
        alone <= cut + 1,
        "a validator alone finalized {cut} -> {alone}"
    );
    // Healed: it catches up, and all four hold one chain.
    lab.heal().unwrap();
    let now = majority.iter().map(|n| finalized(n)).max().unwrap();
    wait_all(&nodes, now + 3, 120);
    let checked = assert_one_chain(&nodes, 1);

    // A 2–2 split: neither half is a quorum, so nothing more is final on either side.
    lab.partition(&[&[0, 1][..], &[2, 3]]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let stalled = nodes.iter().map(|n| finalized(n)).max().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let after = nodes.iter().map(|n| finalized(n)).max().unwrap();
    assert!(
        after <= stalled + 1,
        "progress without a quorum: {stalled} -> {after}"
    );
    // Healed: the chain goes on, with no fork.
    lab.heal().unwrap();
    wait_all(&nodes, after + 3, 120);
    assert_one_chain(&nodes, checked);
}
