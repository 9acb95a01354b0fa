//! Where sign-in secrets live: the OS keychain (macOS Keychain, Windows Credential Manager, the
//! Secret Service on Linux) through `keyring`, and nowhere else.
//!
//! Windows Credential Manager caps an item at 2560 bytes (1280 UTF-16 units), less than an
//! Identity Center token record; values above [`MAX_ITEM_UNITS`] are split over numbered items
//! under one header item, on every OS alike so the code path is tested here.

#[cfg(any(test, feature = "test-support"))]
use std::collections::HashMap;
#[cfg(any(test, feature = "test-support"))]
use std::sync::Mutex;

use std::sync::atomic::{AtomicUsize, Ordering};

use postern_types::problem::{ExitCode, Problem};

/// The keychain "service" every Postern item is filed under.
pub const KEYCHAIN_SERVICE: &str = "postern";

/// Largest item written in one piece, in UTF-16 code units, leaving room under Windows' 1280.
pub const MAX_ITEM_UNITS: usize = 1000;

const WHOLE: &str = "v1:";
const CHUNKED: &str = "chunks:";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeychainError {
    #[error("No keychain is available ({detail}).")]
    Unavailable { detail: String },
    #[error("The keychain is locked or refused access ({detail}).")]
    Locked { detail: String },
    #[error("The keychain item '{key}' is unreadable.")]
    Corrupt { key: String },
    #[error("The keychain failed: {detail}.")]
    Failed { detail: String },
}

impl Problem for KeychainError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Keychain
    }

    fn next_step(&self) -> String {
        match self {
            KeychainError::Unavailable { .. } => {
                if cfg!(target_os = "linux") {
                    "Start your desktop's keyring (a Secret Service such as gnome-keyring or KWallet) and try again.".into()
                } else {
                    "Check that you are signed in to a desktop session and try again.".into()
                }
            }
            KeychainError::Locked { .. } => {
                "Unlock your keychain (log in again to your desktop session) and try again.".into()
            }
            KeychainError::Corrupt { .. } => {
                "Run `postern logout`, then `postern login` to replace it.".into()
            }
            KeychainError::Failed { .. } => {
                "Try again; if it persists, send this message to your helpdesk.".into()
            }
        }
    }
}

/// A flat key-value secret store, one item per key, with no size handling.
pub trait RawSecretStore: Send + Sync {
    fn read(&self, key: &str) -> Result<Option<String>, KeychainError>;
    fn write(&self, key: &str, value: &str) -> Result<(), KeychainError>;
    /// Deleting a missing item is not an error.
    fn remove(&self, key: &str) -> Result<(), KeychainError>;
}

/// Secrets by key, of any size. Implemented for every [`RawSecretStore`].
pub trait SecretStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<String>, KeychainError>;
    fn set(&self, key: &str, value: &str) -> Result<(), KeychainError>;
    fn delete(&self, key: &str) -> Result<(), KeychainError>;
}

fn part_key(key: &str, n: usize) -> String {
    format!("{key}#{n}")
}

fn chunk_count(key: &str, header: &str) -> Result<Option<usize>, KeychainError> {
    match header.strip_prefix(CHUNKED) {
        None => Ok(None),
        Some(n) => n
            .parse()
            .map(Some)
            .map_err(|_| KeychainError::Corrupt { key: key.into() }),
    }
}

/// Splits at character boundaries so no piece exceeds `max_units` UTF-16 units.
fn split_units(value: &str, max_units: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (i, c) in value.char_indices() {
        if units + c.len_utf16() > max_units {
            parts.push(&value[start..i]);
            start = i;
            units = 0;
        }
        units += c.len_utf16();
    }
    parts.push(&value[start..]);
    parts
}

impl<S: RawSecretStore + ?Sized> SecretStore for S {
    fn get(&self, key: &str) -> Result<Option<String>, KeychainError> {
        let Some(header) = self.read(key)? else {
            return Ok(None);
        };
        if let Some(value) = header.strip_prefix(WHOLE) {
            return Ok(Some(value.to_string()));
        }
        let Some(count) = chunk_count(key, &header)? else {
            return Err(KeychainError::Corrupt { key: key.into() });
        };
        let mut value = String::new();
        for n in 1..=count {
            match self.read(&part_key(key, n))? {
                Some(part) => value.push_str(&part),
                None => return Err(KeychainError::Corrupt { key: key.into() }),
            }
        }
        Ok(Some(value))
    }

    fn set(&self, key: &str, value: &str) -> Result<(), KeychainError> {
        let old_parts = match self.read(key) {
            Ok(Some(header)) => chunk_count(key, &header).ok().flatten().unwrap_or(0),
            _ => 0,
        };
        let whole = format!("{WHOLE}{value}");
        let new_parts = if whole.encode_utf16().count() <= MAX_ITEM_UNITS {
            self.write(key, &whole)?;
            0
        } else {
            let parts = split_units(value, MAX_ITEM_UNITS);
            for (n, part) in parts.iter().enumerate() {
                self.write(&part_key(key, n + 1), part)?;
            }
            // The header goes last: a reader never sees a header whose parts are missing.
            self.write(key, &format!("{CHUNKED}{}", parts.len()))?;
            parts.len()
        };
        for n in new_parts + 1..=old_parts {
            self.remove(&part_key(key, n))?;
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KeychainError> {
        if let Ok(Some(header)) = self.read(key) {
            for n in 1..=chunk_count(key, &header).ok().flatten().unwrap_or(0) {
                self.remove(&part_key(key, n))?;
            }
        }
        self.remove(key)
    }
}

/// Keychain calls this process has in progress. A client that ends in the middle of a Secret
/// Service call can crash gnome-keyring-daemon (its `OpenSession` handler asserts that the
/// caller is still connected; GNOME/gnome-keyring#196, also in Debian 12's 42.1), and the
/// daemon that D-Bus then starts in its place is locked. So a Postern process that is asked to
/// stop waits for these to finish first ([`keychain_calls_in_progress`]).
static IN_PROGRESS: AtomicUsize = AtomicUsize::new(0);

/// How many keychain calls this process is in the middle of.
pub fn keychain_calls_in_progress() -> usize {
    IN_PROGRESS.load(Ordering::Acquire)
}

/// Counts one keychain call for as long as it lives.
struct KeychainCall;

impl KeychainCall {
    fn begin() -> Self {
        IN_PROGRESS.fetch_add(1, Ordering::AcqRel);
        KeychainCall
    }
}

impl Drop for KeychainCall {
    fn drop(&mut self) {
        IN_PROGRESS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The OS keychain.
#[derive(Debug, Default)]
pub struct KeyringStore;

impl KeyringStore {
    fn entry(key: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(KEYCHAIN_SERVICE, key).map_err(|e| map_keyring_error(key, e))
    }
}

fn map_keyring_error(key: &str, e: keyring::Error) -> KeychainError {
    use keyring::Error as E;
    match e {
        E::NoDefaultStore => KeychainError::Unavailable {
            detail: "no credential store could be opened".into(),
        },
        E::PlatformFailure(inner) => KeychainError::Unavailable {
            detail: inner.to_string(),
        },
        E::NoStorageAccess(inner) => KeychainError::Locked {
            detail: inner.to_string(),
        },
        E::BadEncoding(_) | E::BadDataFormat(..) => KeychainError::Corrupt { key: key.into() },
        other => KeychainError::Failed {
            detail: other.to_string(),
        },
    }
}

impl RawSecretStore for KeyringStore {
    fn read(&self, key: &str) -> Result<Option<String>, KeychainError> {
        let _call = KeychainCall::begin();
        match Self::entry(key)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(key, e)),
        }
    }

    fn write(&self, key: &str, value: &str) -> Result<(), KeychainError> {
        let _call = KeychainCall::begin();
        Self::entry(key)?
            .set_password(value)
            .map_err(|e| map_keyring_error(key, e))
    }

    fn remove(&self, key: &str) -> Result<(), KeychainError> {
        let _call = KeychainCall::begin();
        match Self::entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring_error(key, e)),
        }
    }
}

/// An in-process store for unit tests, which enforces the Windows item limit so that chunking
/// is exercised. Not in production builds.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, String>>,
}

#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::unwrap_used, reason = "a test double")]
impl MemoryStore {
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.items.lock().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Overwrites one raw item, to simulate damage done outside Postern.
    pub fn corrupt(&self, key: &str, raw: &str) {
        self.items.lock().unwrap().insert(key.into(), raw.into());
    }
}

#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::unwrap_used, reason = "a test double")]
impl RawSecretStore for MemoryStore {
    fn read(&self, key: &str) -> Result<Option<String>, KeychainError> {
        Ok(self.items.lock().unwrap().get(key).cloned())
    }

    fn write(&self, key: &str, value: &str) -> Result<(), KeychainError> {
        if value.encode_utf16().count() > 1280 {
            return Err(KeychainError::Failed {
                detail: "item longer than Windows Credential Manager allows".into(),
            });
        }
        self.items.lock().unwrap().insert(key.into(), value.into());
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<(), KeychainError> {
        self.items.lock().unwrap().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_one_item() {
        let s = MemoryStore::default();
        s.set("k", "hello").unwrap();
        assert_eq!(s.keys(), vec!["k"]);
        assert_eq!(s.get("k").unwrap().as_deref(), Some("hello"));
    }

    #[test]
    fn large_values_are_split_under_the_windows_limit_and_shrink_cleanly() {
        let s = MemoryStore::default();
        let big: String = "é€x".repeat(1500); // multi-byte, 4500 UTF-16 units
        s.set("tok", &big).unwrap();
        assert_eq!(s.keys().len(), 1 + 5);
        assert_eq!(s.get("tok").unwrap().as_deref(), Some(big.as_str()));
        s.set("tok", "short").unwrap();
        assert_eq!(s.keys(), vec!["tok"], "stale parts must be removed");
        assert_eq!(s.get("tok").unwrap().as_deref(), Some("short"));
        s.set("tok", &big).unwrap();
        s.delete("tok").unwrap();
        assert!(s.keys().is_empty());
        assert_eq!(s.get("tok").unwrap(), None);
    }

    #[test]
    fn a_damaged_item_is_reported_as_corrupt() {
        let s = MemoryStore::default();
        s.corrupt("a", "garbage without a header");
        assert_eq!(
            s.get("a").unwrap_err(),
            KeychainError::Corrupt { key: "a".into() }
        );
        s.corrupt("b", "chunks:2");
        s.corrupt("b#1", "x");
        assert!(matches!(s.get("b"), Err(KeychainError::Corrupt { .. })));
        s.corrupt("c", "chunks:many");
        assert!(matches!(s.get("c"), Err(KeychainError::Corrupt { .. })));
    }

    #[test]
    fn splitting_respects_character_boundaries() {
        let parts = split_units("aé€😀b", 2);
        assert_eq!(parts.concat(), "aé€😀b");
        assert!(parts.iter().all(|p| p.encode_utf16().count() <= 2));
    }
}
