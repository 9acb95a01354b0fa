//! The names of the person's AWS accounts, as the access portal gives them, so the window and
//! the tray say "Production · 111122223333" instead of a bare id. Learned after each sign-in
//! and kept in a small file in the state folder (names only: no e-mail, nothing secret), so they
//! are there before the next one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

pub struct AccountNames {
    names: RwLock<BTreeMap<String, String>>,
    file: PathBuf,
    changed: tokio::sync::Notify,
}

impl AccountNames {
    /// The names kept in `file`; none when it is missing or unreadable (they are only labels).
    pub fn load(file: PathBuf) -> Self {
        let names = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            names: RwLock::new(names),
            file,
            changed: tokio::sync::Notify::new(),
        }
    }

    pub fn name_of(&self, account: &str) -> Option<String> {
        self.names.read().ok()?.get(account).cloned()
    }

    /// What the portal listed now replaces what was known; `true` when anything changed (then
    /// the file is rewritten and waiters are woken).
    pub fn replace(&self, listed: impl IntoIterator<Item = (String, String)>) -> bool {
        let fresh: BTreeMap<String, String> = listed
            .into_iter()
            .filter(|(_, name)| !name.trim().is_empty())
            .collect();
        let Ok(mut names) = self.names.write() else {
            return false;
        };
        if *names == fresh {
            return false;
        }
        *names = fresh;
        if let Ok(json) = serde_json::to_vec_pretty(&*names) {
            let staging = self.file.with_extension("new");
            let saved = self
                .file
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&staging, json))
                .and_then(|()| std::fs::rename(&staging, &self.file));
            if let Err(e) = saved {
                tracing::warn!("account names not kept for next time: {e}");
            }
        }
        drop(names);
        self.changed.notify_waiters();
        true
    }

    /// Resolves when the names change.
    pub async fn changed(&self) {
        self.changed.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_for_next_time_and_replaced_by_what_the_portal_lists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/account-names.json");
        let names = AccountNames::load(file.clone());
        assert_eq!(names.name_of("111122223333"), None);
        assert!(names.replace([("111122223333".to_string(), "Production".to_string())]));
        assert!(!names.replace([("111122223333".to_string(), "Production".to_string())]));
        let again = AccountNames::load(file.clone());
        assert_eq!(again.name_of("111122223333").as_deref(), Some("Production"));
        // An account no longer listed loses its name; an empty name is no name.
        assert!(again.replace([("444455556666".to_string(), " ".to_string())]));
        assert_eq!(again.name_of("111122223333"), None);
        assert_eq!(again.name_of("444455556666"), None);
        std::fs::write(&file, b"not json").unwrap();
        assert_eq!(AccountNames::load(file).name_of("111122223333"), None);
    }
}
