//! The peer store: addresses of peers this node found (bootnodes, peers' identify answers,
//! Kademlia), kept in a file in the base path so that a restarted node can reach the network
//! again without its bootnodes. One address per line, each ending with `/p2p/<peer id>`;
//! lines that do not parse are skipped (and counted), so a damaged file costs peers, never the
//! start.

use std::path::Path;

use libp2p::multiaddr::Protocol as Part;
use libp2p::{Multiaddr, PeerId};

/// Peers kept at most.
pub const MAX_PEERS: usize = 256;
/// Addresses kept per peer at most.
pub const MAX_ADDRESSES: usize = 8;
/// Peers, each with its addresses (without the `/p2p/` part).
pub type Peers = Vec<(PeerId, Vec<Multiaddr>)>;

/// Largest peer store file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The peers of a peer store file, each with its addresses (without the `/p2p/` part), and how
/// many lines were skipped. A missing file is an empty store.
pub fn load(path: &Path) -> std::io::Result<(Peers, usize)> {
    let text = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return Err(std::io::Error::other(format!(
                "{} is larger than {MAX_FILE_BYTES} bytes",
                path.display()
            )));
        }
        Ok(_) => std::fs::read(path)?,
    };
    let text = String::from_utf8_lossy(&text);
    let mut peers: Peers = Vec::new();
    let mut skipped = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((peer, addr)) = line.parse::<Multiaddr>().ok().and_then(split) else {
            skipped += 1;
            continue;
        };
        let full = peers.len() >= MAX_PEERS;
        match peers.iter_mut().find(|(p, _)| *p == peer) {
            Some((_, addrs)) => {
                if addrs.len() < MAX_ADDRESSES && !addrs.contains(&addr) {
                    addrs.push(addr)
                }
            }
            None if !full => peers.push((peer, vec![addr])),
            None => skipped += 1,
        }
    }
    Ok((peers, skipped))
}

/// The text of a peer store holding `peers` (bounded as [`load`] reads it).
pub fn render(peers: &[(PeerId, Vec<Multiaddr>)]) -> String {
    let mut out = String::new();
    for (peer, addrs) in peers.iter().take(MAX_PEERS) {
        for addr in addrs.iter().take(MAX_ADDRESSES) {
            out.push_str(&with_peer(addr, *peer).to_string());
            out.push('\n');
        }
    }
    out
}

/// Writes `text` to `path` whole (a temporary file renamed over it).
pub fn save(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// `addr` with `/p2p/<peer>` at its end (once).
pub fn with_peer(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Part::P2p(_)) => addr.clone(),
        _ => addr.clone().with(Part::P2p(peer)),
    }
}

/// The peer an address names at its end, and the address without that part.
pub fn split(mut addr: Multiaddr) -> Option<(PeerId, Multiaddr)> {
    match addr.pop() {
        Some(Part::P2p(peer)) if !addr.is_empty() => Some((peer, addr)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(i: u8) -> PeerId {
        libp2p::identity::Keypair::ed25519_from_bytes([i; 32])
            .unwrap()
            .public()
            .to_peer_id()
    }

    #[test]
    fn a_saved_store_loads_back_and_damaged_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network").join("peers");
        assert_eq!(load(&path).unwrap(), (Vec::new(), 0));
        let peers = vec![
            (
                peer(1),
                vec![
                    "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
                    "/ip4/10.0.0.1/tcp/1".parse().unwrap(),
                ],
            ),
            (peer(2), vec!["/ip4/127.0.0.1/tcp/2".parse().unwrap()]),
        ];
        save(&path, &render(&peers)).unwrap();
        assert_eq!(load(&path).unwrap(), (peers.clone(), 0));
        // Garbage, an address without a peer, a bare peer: skipped, the rest kept.
        let mut text = render(&peers);
        text.push_str("garbage\n/ip4/127.0.0.1/tcp/3\n");
        text.push_str(&format!("/p2p/{}\n\u{0}\u{ff}\n", peer(3)));
        std::fs::write(&path, text).unwrap();
        assert_eq!(load(&path).unwrap(), (peers, 4));
    }

    #[test]
    fn a_store_is_bounded_in_peers_addresses_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers");
        // 300 peers (more than 256 distinct keys: the seeds wrap) with 12 addresses each.
        let mut text = String::new();
        for i in 0..300u32 {
            let p = libp2p::identity::Keypair::ed25519_from_bytes({
                let mut seed = [7u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                seed
            })
            .unwrap()
            .public()
            .to_peer_id();
            for port in 0..12 {
                text.push_str(&format!("/ip4/127.0.0.1/tcp/{}/p2p/{p}\n", 1000 + port));
            }
        }
        std::fs::write(&path, text).unwrap();
        let (peers, _) = load(&path).unwrap();
        assert_eq!(peers.len(), MAX_PEERS);
        assert!(peers.iter().all(|(_, a)| a.len() == MAX_ADDRESSES));
        std::fs::write(&path, vec![b'x'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(load(&path).is_err());
    }
}
