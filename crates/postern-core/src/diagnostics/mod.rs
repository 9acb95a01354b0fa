//! The helpdesk bundle: one zip the employee can open before sending, with everything support
//! needs and no secret.
//!
//! Every part is redacted as it is added (logs were already redacted when written; this is the
//! second pass). Key material never enters: the profile store contributes names and remotes, the
//! keychain only which items exist. A part that cannot be collected is listed in the manifest
//! with the reason, and the bundle is written anyway.

pub mod logging;
mod network;
pub mod redact;

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::identity::SecretStore;
use crate::problem::{ExitCode, Problem};
use crate::vpn::ProfileSummary;
pub use redact::{RedactionCounts, RedactionKind, Redactor};

pub const BUNDLE_FORMAT: &str = "postern.diagnostics.v1";
/// The most of any one file a bundle carries; the newest part (the end) is kept.
pub const MAX_PART_BYTES: usize = 2 * 1024 * 1024;

/// The per-install salt for hashing personal data, so hashes in logs and bundles correlate across
/// days but cannot be looked up in a table. Not a credential; kept owner-only all the same.
pub fn salt() -> Vec<u8> {
    let path = crate::paths::user_state_dir().join("redaction-salt");
    if let Ok(existing) = std::fs::read(&path)
        && existing.len() >= 16
    {
        return existing;
    }
    let fresh: [u8; 32] = rand::random();
    let fresh = hex::encode(fresh).into_bytes();
    let _ = logging::create_private_dir(crate::paths::user_state_dir().as_path())
        .and_then(|()| crate::vpn::store::write_private(&path, &fresh));
    fresh
}

/// What produced the bundle, for the manifest.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// `postern` CLI, desktop app…
    pub program: String,
    pub app_version: String,
    /// Each IPC protocol's version by name (helper, agent).
    pub protocols: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    pub family: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
}

impl OsInfo {
    pub fn this_machine() -> Self {
        Self {
            family: std::env::consts::OS.into(),
            name: sysinfo::System::long_os_version().ok(),
            version: sysinfo::System::os_version().ok(),
            kernel: sysinfo::System::kernel_long_version().ok(),
            arch: std::env::consts::ARCH.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
}

/// A part the bundle should have had, and why it does not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MissingPart {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub origin: Origin,
    pub os: OsInfo,
    /// SHA-256 of the policy file's bytes, so IT can tell which version the device had.
    pub policy_sha256: Option<String>,
    pub files: Vec<FileEntry>,
    pub missing: Vec<MissingPart>,
    /// What was removed, by kind, across every file.
    pub redactions: BTreeMap<RedactionKind, u64>,
}

struct Part {
    name: String,
    bytes: Vec<u8>,
}

/// Collects parts, redacting each as it comes in.
pub struct BundleBuilder {
    redactor: Redactor,
    parts: Vec<Part>,
    missing: Vec<MissingPart>,
    counts: RedactionCounts,
    policy_sha256: Option<String>,
}

impl BundleBuilder {
    pub fn new(redactor: Redactor) -> Self {
        Self {
            redactor,
            parts: Vec::new(),
            missing: Vec::new(),
            counts: RedactionCounts::new(),
            policy_sha256: None,
        }
    }

    pub fn add_text(&mut self, name: &str, text: &str) {
        let clean = self.redactor.redact(text, &mut self.counts);
        self.parts.push(Part {
            name: name.into(),
            bytes: clean.into_bytes(),
        });
    }

    pub fn add_json(&mut self, name: &str, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.add_text(name, &text),
            Err(e) => self.add_missing(name, &format!("it could not be encoded ({e})")),
        }
    }

    /// Adds a part, or records why it is missing.
    pub fn add_result<T: Serialize>(&mut self, name: &str, result: Result<T, String>) {
        match result {
            Ok(value) => self.add_json(name, &value),
            Err(reason) => self.add_missing(name, &reason),
        }
    }

    pub fn add_missing(&mut self, name: &str, reason: &str) {
        let reason = self.redactor.redact(reason, &mut self.counts);
        self.missing.push(MissingPart {
            name: name.into(),
            reason,
        });
    }

    /// Adds a file's last [`MAX_PART_BYTES`], as text even if it is not UTF-8.
    pub fn add_file(&mut self, name: &str, path: &Path) {
        match read_tail(path, MAX_PART_BYTES) {
            Ok(text) => self.add_text(name, &text),
            Err(e) => {
                self.add_missing(name, &format!("{} could not be read ({e})", path.display()))
            }
        }
    }

    /// The organization policy, as the device has it (it holds no secrets, but it is redacted
    /// like everything else in case an admin pasted one).
    pub fn add_policy(&mut self, path: Option<&Path>) {
        let Some(path) = path else {
            self.add_missing(
                "policy.toml",
                "no organization policy was found on this device",
            );
            return;
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                self.policy_sha256 = Some(hex::encode(Sha256::digest(&bytes)));
                self.add_text("policy.toml", &String::from_utf8_lossy(&bytes));
            }
            Err(e) => self.add_missing(
                "policy.toml",
                &format!("{} could not be read ({e})", path.display()),
            ),
        }
    }

    /// Every log and rotated log in `dir`, under `logs/`.
    pub fn add_logs(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.add_missing("logs/", "no logs yet: the agent has not run for this user");
                return;
            }
            Err(e) => {
                self.add_missing(
                    "logs/",
                    &format!("{} could not be read ({e})", dir.display()),
                );
                return;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.contains(".log"))
            })
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            self.add_file(&format!("logs/{name}"), &path);
        }
    }

    /// Which keychain items exist, never their values.
    pub fn add_keychain_inventory(&mut self, store: &dyn SecretStore, items: &[String]) {
        let inventory: BTreeMap<&str, String> = items
            .iter()
            .map(|item| {
                let state = match store.get(item) {
                    Ok(Some(_)) => "present".to_string(),
                    Ok(None) => "absent".to_string(),
                    Err(e) => format!("unreadable: {e}"),
                };
                (item.as_str(), state)
            })
            .collect();
        self.add_json("keychain.json", &inventory);
    }

    /// The stored VPN profiles: name, authentication and remotes, never a key. Names and
    /// remotes are redacted like every other part: a name may carry a pasted token, a remote a
    /// token-shaped host.
    pub fn add_profiles(&mut self, profiles: Result<&[ProfileSummary], String>) {
        self.add_result("vpn/profiles.json", profiles);
    }

    /// Interfaces, routes and DNS as the OS's own tools print them, with the resolver file
    /// (`/etc/resolv.conf`, outside macOS and Windows).
    pub async fn add_network_summary(&mut self) {
        let resolver =
            (!cfg!(any(target_os = "macos", windows))).then_some(Path::new(network::RESOLVER_FILE));
        self.add_network_summary_with(resolver).await;
    }

    /// [`Self::add_network_summary`] with the resolver configuration read from `resolver`.
    /// Its comments and options are redacted like the rest (an admin's note may hold a key).
    pub async fn add_network_summary_with(&mut self, resolver: Option<&Path>) {
        let text = network::summary(resolver).await;
        self.add_text("network.txt", &text);
    }

    pub fn finish(self, origin: Origin) -> Bundle {
        let manifest = Manifest {
            format: BUNDLE_FORMAT,
            created_at: OffsetDateTime::now_utc(),
            origin,
            os: OsInfo::this_machine(),
            policy_sha256: self.policy_sha256,
            files: self
                .parts
                .iter()
                .map(|p| FileEntry {
                    name: p.name.clone(),
                    bytes: p.bytes.len() as u64,
                })
                .collect(),
            missing: self.missing,
            redactions: self.counts,
        };
        Bundle {
            manifest,
            parts: self.parts,
        }
    }
}

/// Reads at most the last `max` bytes of a file, starting at a line boundary, and says how much
/// was left out.
fn read_tail(path: &Path, max: usize) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let skipped = len.saturating_sub(max as u64);
    file.seek(SeekFrom::Start(skipped))?;
    let mut bytes = Vec::with_capacity(len.min(max as u64) as usize);
    file.take(max as u64).read_to_end(&mut bytes)?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    // Replacement characters can make the text longer than the bytes: cut again.
    let over = text.len().saturating_sub(max);
    if skipped > 0 || over > 0 {
        // A newline byte is always a character boundary.
        let start = text.as_bytes()[over..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| over + i + 1);
        text = format!(
            "[the first {} bytes of this file were left out; the newest part follows]\n{}",
            skipped + start as u64,
            &text[start..]
        );
    }
    Ok(text)
}

/// A collected, redacted bundle, ready to show (file list and sizes) and to write.
pub struct Bundle {
    manifest: Manifest,
    parts: Vec<Part>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{} already exists.", .path.display())]
    Exists { path: PathBuf },
    #[error("The bundle cannot be written to {} ({source}).", .path.display())]
    Unwritable { path: PathBuf, source: io::Error },
    #[error("The disk holding {} is full: the bundle was not written.", .path.display())]
    DiskFull { path: PathBuf },
}

impl Problem for ExportError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::ExportFailed
    }

    fn next_step(&self) -> String {
        match self {
            ExportError::Exists { .. } => {
                "Choose another file name with -o, or move the old bundle away.".into()
            }
            ExportError::Unwritable { .. } => {
                "Choose a folder you can write to with -o (your home folder, for example).".into()
            }
            ExportError::DiskFull { .. } => {
                "Free some space on that disk, or choose another with -o, and export again.".into()
            }
        }
    }
}

impl Bundle {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The bundle's files with their sizes, manifest first, as the zip will hold them.
    pub fn entries(&self) -> Vec<FileEntry> {
        let manifest = FileEntry {
            name: "manifest.json".into(),
            bytes: self.manifest_json().len() as u64,
        };
        std::iter::once(manifest)
            .chain(self.manifest.files.iter().cloned())
            .collect()
    }

    fn manifest_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.manifest).unwrap_or_default()
    }

    /// Writes the zip to `FILE.partial`, then renames it to `FILE`: a bundle at `FILE` is always
    /// complete. Refuses to replace an existing file. Returns the bundle's size.
    pub fn write(&self, dest: &Path) -> Result<u64, ExportError> {
        if dest.exists() {
            return Err(ExportError::Exists { path: dest.into() });
        }
        let mut partial = dest.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let fail = |e: io::Error| {
            let _ = std::fs::remove_file(&partial);
            if e.kind() == io::ErrorKind::StorageFull {
                ExportError::DiskFull { path: dest.into() }
            } else {
                ExportError::Unwritable {
                    path: dest.into(),
                    source: e,
                }
            }
        };
        let file = create_owner_only(&partial).map_err(|e| ExportError::Unwritable {
            path: dest.into(),
            source: e,
        })?;
        self.write_zip(file).map_err(fail)?;
        std::fs::rename(&partial, dest).map_err(fail)?;
        Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
    }

    fn write_zip(&self, file: std::fs::File) -> io::Result<()> {
        use zip::write::SimpleFileOptions;
        let mut options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o600);
        if let Ok(at) = zip::DateTime::try_from(time::PrimitiveDateTime::new(
            self.manifest.created_at.date(),
            self.manifest.created_at.time(),
        )) {
            options = options.last_modified_time(at);
        }
        let mut zip = zip::ZipWriter::new(file);
        let as_io = |e: zip::result::ZipError| match e {
            zip::result::ZipError::Io(e) => e,
            other => io::Error::other(other),
        };
        zip.start_file("manifest.json", options).map_err(as_io)?;
        zip.write_all(&self.manifest_json())?;
        for part in &self.parts {
            zip.start_file(part.name.as_str(), options).map_err(as_io)?;
            zip.write_all(&part.bytes)?;
        }
        let file = zip.finish().map_err(as_io)?;
        file.sync_all()
    }
}

fn create_owner_only(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Unpacks a bundle with the standard `unzip` tool, as a helpdesk would, and returns every
/// file's text by its name in the zip. For tests (ours and other crates', `test-support`).
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::expect_used, reason = "a test helper: a failure is the test's")]
pub fn unpack_with_unzip(zip: &Path, into: &Path) -> BTreeMap<String, String> {
    // Windows has no unzip (nor does wine): there the zip crate reads it back.
    #[cfg(unix)]
    {
        let status = std::process::Command::new("unzip")
            .arg("-q")
            .arg(zip)
            .arg("-d")
            .arg(into)
            .status()
            .expect("the unzip tool runs");
        assert!(status.success(), "unzip failed on {}", zip.display());
    }
    #[cfg(not(unix))]
    zip::ZipArchive::new(std::fs::File::open(zip).expect("the bundle opens"))
        .and_then(|mut archive| archive.extract(into))
        .expect("the bundle unpacks");
    let mut files = BTreeMap::new();
    let mut dirs = vec![into.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).expect("unpacked").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                // Named as in the zip, with `/` on every OS.
                let name = path
                    .strip_prefix(into)
                    .expect("inside")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&path).expect("readable");
                files.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    files
}

/// `postern-diagnostics-YYYYMMDD-HHMMSS.zip` in `dir`.
pub fn default_bundle_name(now: OffsetDateTime) -> String {
    format!(
        "postern-diagnostics-{:04}{:02}{:02}-{:02}{:02}{:02}.zip",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests;
