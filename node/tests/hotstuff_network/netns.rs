//! A lab of network namespaces for partition tests (Linux, root, iproute2's `ip`).
//!
//! Each node gets its own namespace with two links:
//! - data: a veth into a hub namespace, where it is a port of one of the hub's bridges; nodes on
//!   one bridge reach each other at `10.77.0.<i + 1>`, nodes on different bridges do not — a
//!   partition moves ports between bridges, a heal puts them all back on the first;
//! - management: a veth to the test's own namespace (RPC and metrics), never cut, on a /30 whose
//!   address is drawn from the test's pid so that concurrent runs do not collide.
//!
//! Dropping the lab deletes the namespaces, and with them every link it made.

use std::process::Command;

/// The most nodes one lab holds (the management addresses leave room for four per run).
const MAX_NODES: usize = 4;

/// The namespaces, bridges and links of one test.
pub struct Lab {
    tag: String,
    nodes: usize,
    /// Second and third octets of the management /30s.
    mgmt: (u32, u32),
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lab {
    /// Builds a lab of `nodes` namespaces, all on one bridge (no partition).
    pub fn new(nodes: usize) -> Result<Lab, String> {
        assert!(nodes <= MAX_NODES, "at most {MAX_NODES} nodes");
        let pid = std::process::id();
        let lab = Lab {
            tag: format!("{:04x}", pid & 0xffff),
            nodes,
            mgmt: (100 + pid % 100, (pid / 100) % 60 * 4),
        };
        // Leftovers of an earlier run that had the same pid and was killed.
        lab.teardown();
        lab.build()?;
        Ok(lab)
    }

    fn namespace(&self, i: usize) -> String {
        format!("aeth-{}-{i}", self.tag)
    }

    fn hub(&self) -> String {
        format!("aeth-{}-hub", self.tag)
    }

    /// The hub's end of node `i`'s data link.
    fn port(&self, i: usize) -> String {
        format!("ap{}{i}", self.tag)
    }

    fn build(&self) -> Result<(), String> {
        let hub = self.hub();
        ip(&["netns", "add", &hub])?;
        for b in 0..self.nodes {
            let bridge = format!("br{b}");
            ip(&["-n", &hub, "link", "add", &bridge, "type", "bridge"])?;
            ip(&["-n", &hub, "link", "set", &bridge, "up"])?;
        }
        for i in 0..self.nodes {
            let ns = self.namespace(i);
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            let (inside, port) = (format!("ad{}{i}", self.tag), self.port(i));
            ip(&[
                "link", "add", &inside, "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &hub,
            ])?;
            ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"])?;
            let data = format!("{}/24", data_ip(i));
            ip(&["-n", &ns, "addr", "add", &data, "dev", &inside])?;
            ip(&["-n", &ns, "link", "set", &inside, "up"])?;
            let (outer, inner) = (format!("am{}{i}", self.tag), format!("an{}{i}", self.tag));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &ns,
            ])?;
            let (a, b) = self.mgmt;
            ip(&[
                "addr",
                "add",
                &format!("10.{a}.{}.1/30", b + i as u32),
                "dev",
                &outer,
            ])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/30", self.mgmt_ip(i)),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
        }
        Ok(())
    }

    fn teardown(&self) {
        for i in 0..self.nodes {
            let _ = ip(&["netns", "del", &self.namespace(i)]);
        }
        let _ = ip(&["netns", "del", &self.hub()]);
    }

    /// The command prefix that runs a program in node `i`'s namespace.
    pub fn wrapper(&self, i: usize) -> Vec<String> {
        ["ip", "netns", "exec", &self.namespace(i)]
            .map(String::from)
            .to_vec()
    }

    /// Node `i`'s management address, reachable from the test.
    pub fn mgmt_ip(&self, i: usize) -> String {
        let (a, b) = self.mgmt;
        format!("10.{a}.{}.2", b + i as u32)
    }

    /// Puts each group on its own bridge: nodes of a group reach each other and nobody else.
    pub fn partition(&self, groups: &[&[usize]]) -> Result<(), String> {
        for (b, group) in groups.iter().enumerate() {
            for &i in *group {
                let bridge = format!("br{b}");
                ip(&[
                    "-n",
                    &self.hub(),
                    "link",
                    "set",
                    &self.port(i),
                    "master",
                    &bridge,
                ])?;
            }
        }
        Ok(())
    }

    /// Every node back on one bridge.
    pub fn heal(&self) -> Result<(), String> {
        let all: Vec<usize> = (0..self.nodes).collect();
        self.partition(&[&all])
    }
}

/// Node `i`'s address on the data network.
pub fn data_ip(i: usize) -> String {
    format!("10.77.0.{}", i + 1)
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}
