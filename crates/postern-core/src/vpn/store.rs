//! The user's imported profiles: the sanitized profile in an owner-only file, its private key
//! in the OS keychain. Import never overwrites; removal deletes both halves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::profile::{AuthMode, Profile, ProfileError};
use crate::identity::{KeychainError, SecretStore};
use crate::problem::{ExitCode, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ProfileStoreError {
    #[error("The file {path} could not be read ({detail}).")]
    Unreadable { path: String, detail: String },
    #[error("{0}")]
    Invalid(#[from] ProfileError),
    #[error("A VPN profile named '{0}' already exists.")]
    Duplicate(String),
    #[error("No VPN profile is named '{0}'.")]
    NotFound(String),
    #[error("'{0}' is not a usable profile name (letters, digits, '.', '_' and '-', up to 64).")]
    BadName(String),
    #[error("The profile store at {path} could not be written ({detail}).")]
    Io { path: String, detail: String },
    #[error(transparent)]
    Keychain(#[from] KeychainError),
}

impl Problem for ProfileStoreError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ProfileStoreError::Keychain(k) => k.exit_code(),
            ProfileStoreError::Io { .. } => ExitCode::Internal,
            _ => ExitCode::BadInput,
        }
    }

    fn next_step(&self) -> String {
        match self {
            ProfileStoreError::Unreadable { .. } => "Check the file name and that you may read it.".into(),
            ProfileStoreError::Invalid(ProfileError::Refused(_)) => {
                "Ask your IT department for the profile exported from AWS Client VPN; do not edit it by hand.".into()
            }
            ProfileStoreError::Invalid(_) => "Check that you picked the .ovpn file your IT department sent.".into(),
            ProfileStoreError::Duplicate(n) => {
                format!("Choose another name with --name, or run `postern vpn remove {n}` first.")
            }
            ProfileStoreError::NotFound(_) => "Run `postern vpn list` to see the imported profiles.".into(),
            ProfileStoreError::BadName(_) => "Pick a name such as 'corp-vpn' with --name.".into(),
            ProfileStoreError::Io { .. } => "Check free disk space and permissions of your home directory.".into(),
            ProfileStoreError::Keychain(k) => k.next_step(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSummary {
    pub name: String,
    pub auth: AuthMode,
    pub remotes: Vec<String>,
}

pub struct ProfileStore {
    dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn io(path: &Path, e: std::io::Error) -> ProfileStoreError {
    ProfileStoreError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

impl ProfileStore {
    pub fn new(dir: PathBuf, secrets: Arc<dyn SecretStore>) -> Self {
        Self { dir, secrets }
    }

    /// `~/.local/share/postern/profiles` (per-OS data dir).
    pub fn default_dir() -> PathBuf {
        dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("postern")
            .join("profiles")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.ovpn"))
    }

    /// The keychain item holding a stored profile's private key.
    pub fn key_item(name: &str) -> String {
        format!("vpn-key:{name}")
    }

    /// Reads, validates and stores a profile file. The default name is the file's stem.
    pub fn import(
        &self,
        file: &Path,
        name: Option<&str>,
    ) -> Result<ProfileSummary, ProfileStoreError> {
        let name = match name {
            Some(n) => n.to_string(),
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if !valid_name(&name) {
            return Err(ProfileStoreError::BadName(name));
        }
        let meta = std::fs::metadata(file).map_err(|e| ProfileStoreError::Unreadable {
            path: file.display().to_string(),
            detail: e.to_string(),
        })?;
        if meta.len() > super::profile::MAX_PROFILE_BYTES as u64 {
            return Err(ProfileError::TooLarge.into());
        }
        let bytes = std::fs::read(file).map_err(|e| ProfileStoreError::Unreadable {
            path: file.display().to_string(),
            detail: e.to_string(),
        })?;
        let profile = Profile::parse(&bytes)?;
        if self.file(&name).exists() {
            return Err(ProfileStoreError::Duplicate(name));
        }
        create_private_dir(&self.dir).map_err(|e| io(&self.dir, e))?;
        // Key first: a profile file never exists without the key it needs.
        if let Some(key) = &profile.key {
            self.secrets.set(&Self::key_item(&name), key)?;
        }
        write_private(&self.file(&name), profile.render(false).as_bytes())
            .map_err(|e| io(&self.file(&name), e))?;
        Ok(summary(&name, &profile))
    }

    pub fn list(&self) -> Result<Vec<ProfileSummary>, ProfileStoreError> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ovpn"))
            else {
                continue;
            };
            if let Ok(bytes) = std::fs::read(&path)
                && let Ok(p) = Profile::parse_stored(&bytes)
            {
                out.push(summary(name, &p));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The full profile, key included, ready for the helper.
    pub fn load(&self, name: &str) -> Result<Profile, ProfileStoreError> {
        if !valid_name(name) {
            return Err(ProfileStoreError::BadName(name.into()));
        }
        let bytes =
            std::fs::read(self.file(name)).map_err(|_| ProfileStoreError::NotFound(name.into()))?;
        let profile = Profile::parse_stored(&bytes)?;
        let key = self.secrets.get(&Self::key_item(name))?;
        Ok(profile.with_key(key))
    }

    pub fn remove(&self, name: &str) -> Result<(), ProfileStoreError> {
        if !valid_name(name) || !self.file(name).exists() {
            return Err(ProfileStoreError::NotFound(name.into()));
        }
        self.secrets.delete(&Self::key_item(name))?;
        std::fs::remove_file(self.file(name)).map_err(|e| io(&self.file(name), e))
    }
}

fn summary(name: &str, p: &Profile) -> ProfileSummary {
    ProfileSummary {
        name: name.to_string(),
        auth: p.auth,
        remotes: p
            .remotes
            .iter()
            .map(|r| match r.port {
                Some(port) => format!("{}:{port}", r.host),
                None => r.host.clone(),
            })
            .collect(),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a file readable by its owner only, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::MemoryStore;

    const PROFILE: &str = "client\ndev tun\nremote vpn.example.com 443\n<ca>\n-----BEGIN CERTIFICATE-----\nQUFB\n-----END CERTIFICATE-----\n</ca>\n<cert>\n-----BEGIN CERTIFICATE-----\nQkJC\n-----END CERTIFICATE-----\n</cert>\n<key>\n-----BEGIN PRIVATE KEY-----\nQ0ND\n-----END PRIVATE KEY-----\n</key>\n";

    fn store() -> (tempfile::TempDir, Arc<MemoryStore>, ProfileStore) {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemoryStore::default());
        let store = ProfileStore::new(dir.path().join("profiles"), secrets.clone());
        (dir, secrets, store)
    }

    #[test]
    fn import_splits_the_key_into_the_keychain_and_load_joins_it() {
        let (dir, secrets, store) = store();
        let file = dir.path().join("corp.ovpn");
        std::fs::write(&file, PROFILE).unwrap();
        let s = store.import(&file, None).unwrap();
        assert_eq!(s.name, "corp");
        assert_eq!(s.remotes, vec!["vpn.example.com:443"]);
        let on_disk = std::fs::read_to_string(dir.path().join("profiles/corp.ovpn")).unwrap();
        assert!(!on_disk.contains("PRIVATE KEY"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("profiles/corp.ovpn"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(secrets.keys(), vec!["vpn-key:corp"]);
        assert!(
            store
                .load("corp")
                .unwrap()
                .key
                .unwrap()
                .contains("PRIVATE KEY")
        );
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn a_duplicate_or_invalid_import_loses_nothing() {
        let (dir, secrets, store) = store();
        let file = dir.path().join("corp.ovpn");
        std::fs::write(&file, PROFILE).unwrap();
        store.import(&file, None).unwrap();
        let before = std::fs::read(dir.path().join("profiles/corp.ovpn")).unwrap();
        assert!(matches!(
            store.import(&file, None),
            Err(ProfileStoreError::Duplicate(_))
        ));
        let bad = dir.path().join("bad.ovpn");
        std::fs::write(&bad, format!("{PROFILE}up /bin/sh\n")).unwrap();
        assert!(matches!(
            store.import(&bad, Some("corp")),
            Err(ProfileStoreError::Invalid(_))
        ));
        assert_eq!(
            std::fs::read(dir.path().join("profiles/corp.ovpn")).unwrap(),
            before
        );
        assert!(store.load("corp").unwrap().key.is_some());
        assert_eq!(secrets.keys(), vec!["vpn-key:corp"]);
        assert!(matches!(
            store.import(&file, Some("../x")),
            Err(ProfileStoreError::BadName(_))
        ));
    }

    #[test]
    fn remove_deletes_both_halves() {
        let (dir, secrets, store) = store();
        let file = dir.path().join("corp.ovpn");
        std::fs::write(&file, PROFILE).unwrap();
        store.import(&file, None).unwrap();
        store.remove("corp").unwrap();
        assert!(secrets.keys().is_empty());
        assert!(store.list().unwrap().is_empty());
        assert!(matches!(
            store.remove("corp"),
            Err(ProfileStoreError::NotFound(_))
        ));
    }
}
