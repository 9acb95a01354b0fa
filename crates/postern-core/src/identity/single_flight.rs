//! Exactly one process signs in or refreshes at a time; the others wait for it and then read
//! its result from the keychain. A lock file (no secret in it) is the meeting point.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::IdentityError;

pub(crate) struct FlightLock {
    _file: File,
}

pub(crate) fn lock_path(dir: &Path, start_url: &str) -> PathBuf {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(start_url.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    dir.join(format!("signin-{hex}.lock"))
}

/// Waits up to `wait` for the lock; the OS releases it if the holder dies.
pub(crate) async fn acquire(path: &Path, wait: Duration) -> Result<FlightLock, IdentityError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| IdentityError::Listener {
            detail: format!("cannot create {}: {e}", dir.display()),
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| IdentityError::Listener {
            detail: format!("cannot open {}: {e}", path.display()),
        })?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(FlightLock { _file: file }),
            Err(TryLockError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(TryLockError::WouldBlock) => return Err(IdentityError::Busy),
            Err(TryLockError::Error(e)) => {
                return Err(IdentityError::Listener {
                    detail: format!("cannot lock {}: {e}", path.display()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_and_then_gets_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "https://x.awsapps.com/start");
        let first = acquire(&path, Duration::from_secs(1)).await.unwrap();
        assert!(matches!(
            acquire(&path, Duration::from_millis(100)).await,
            Err(IdentityError::Busy)
        ));
        let p2 = path.clone();
        let second =
            tokio::spawn(async move { acquire(&p2, Duration::from_secs(5)).await.is_ok() });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(first);
        assert!(second.await.unwrap());
    }
}
