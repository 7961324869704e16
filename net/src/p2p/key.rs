//! The node's network key: an Ed25519 key kept in the base path, so the node's libp2p peer id
//! is the same across restarts (peers and bootnode lists name it).

use std::io::Write;
use std::path::Path;

use libp2p::identity::Keypair;

/// Why the network key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read or written.
    #[error("network key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a key (it is never replaced: the node's identity would change).
    #[error("network key {path} is damaged: {reason}; restore it or remove it knowingly")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The key in `path` (32 secret bytes), created (readable by its owner only) if there is none.
pub fn load_or_create(path: &Path) -> Result<Keypair, KeyError> {
    let shown = path.display().to_string();
    let io = |source| KeyError::Io {
        path: shown.clone(),
        source,
    };
    match std::fs::read(path) {
        Ok(mut bytes) => {
            if bytes.len() != 32 {
                return Err(KeyError::Damaged {
                    path: shown,
                    reason: format!("{} bytes, a key has 32", bytes.len()),
                });
            }
            Keypair::ed25519_from_bytes(&mut bytes).map_err(|e| KeyError::Damaged {
                path: shown.clone(),
                reason: e.to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let key = Keypair::generate_ed25519();
            let secret = key
                .clone()
                .try_into_ed25519()
                .map_err(|e| KeyError::Damaged {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
                .secret();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io)?;
            file.write_all(secret.as_ref()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_kept_and_never_replaced_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network/secret_ed25519");
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, [1u8; 31]).unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(KeyError::Damaged { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap().len(), 31, "left as it was");
    }
}
