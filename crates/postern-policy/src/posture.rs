//! `[posture]`: the interval, and per OS what the device must be (`[posture.linux]`,
//! `[posture.macos]`, `[posture.windows]`).

use std::time::Duration;

use super::parse_duration;
use super::reader::{Diagnostics, Table};
use crate::version::Version;

use serde::Serialize;

/// What the policy requires of this OS (`[posture.linux]`, `[posture.macos]`,
/// `[posture.windows]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requirements {
    pub min_os_version: Option<Version>,
    pub require_disk_encryption: bool,
    pub require_firewall: bool,
    pub required_processes: Vec<String>,
    pub forbidden_processes: Vec<String>,
    pub require_screen_lock: bool,
    pub require_secure_boot: bool,
    /// macOS: System Integrity Protection and Gatekeeper.
    pub require_system_integrity: bool,
    pub require_managed: bool,
    /// Check names whose Unknown blocks access.
    pub unknown_blocks: Vec<CheckName>,
}

/// The `[posture]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureSettings {
    pub interval: Duration,
    pub linux: Requirements,
    pub macos: Requirements,
    pub windows: Requirements,
}

impl PostureSettings {
    pub fn for_this_os(&self) -> &Requirements {
        if cfg!(target_os = "macos") {
            &self.macos
        } else if cfg!(windows) {
            &self.windows
        } else {
            &self.linux
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    OsVersion,
    DiskEncryption,
    Firewall,
    RequiredProcess,
    ForbiddenProcess,
    ScreenLock,
    SecureBoot,
    SystemIntegrity,
    Managed,
}

impl CheckName {
    pub const ALL: [CheckName; 9] = [
        CheckName::OsVersion,
        CheckName::DiskEncryption,
        CheckName::Firewall,
        CheckName::RequiredProcess,
        CheckName::ForbiddenProcess,
        CheckName::ScreenLock,
        CheckName::SecureBoot,
        CheckName::SystemIntegrity,
        CheckName::Managed,
    ];

    pub fn key(self) -> &'static str {
        match self {
            CheckName::OsVersion => "os_version",
            CheckName::DiskEncryption => "disk_encryption",
            CheckName::Firewall => "firewall",
            CheckName::RequiredProcess => "required_process",
            CheckName::ForbiddenProcess => "forbidden_process",
            CheckName::ScreenLock => "screen_lock",
            CheckName::SecureBoot => "secure_boot",
            CheckName::SystemIntegrity => "system_integrity",
            CheckName::Managed => "managed",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }
}

pub(super) fn read(t: &mut Table, d: &mut Diagnostics) -> Option<PostureSettings> {
    let before = d.issues.len();
    let interval = t
        .string(d, "interval")
        .and_then(|s| match parse_duration(s.get_ref()) {
            Some(i) if i >= Duration::from_secs(30) && i <= Duration::from_secs(24 * 3600) => Some(i),
            _ => {
                d.at(s.span(), format!("`posture.interval` must be a duration from \"30s\" to \"24h\", found \"{}\"", s.get_ref()));
                None
            }
        })
        .unwrap_or(Duration::from_secs(300));
    let mut os = |name: &str, version_key: &str| {
        t.table(d, name)
            .map(|mut os| {
                let r = requirements(&mut os, d, version_key);
                os.finish(d);
                r
            })
            .unwrap_or_default()
    };
    let linux = os("linux", "min_kernel");
    let macos = os("macos", "min_version");
    let windows = os("windows", "min_build");
    (d.issues.len() == before).then_some(PostureSettings {
        interval,
        linux,
        macos,
        windows,
    })
}

fn requirements(t: &mut Table, d: &mut Diagnostics, version_key: &str) -> Requirements {
    let min_os_version = t.string(d, version_key).and_then(|s| match Version::parse(s.get_ref()) {
        Some(v) if s.get_ref().trim().chars().all(|c| c.is_ascii_digit() || c == '.' || c == ' ' || c == '(' || c == ')' || c.is_ascii_lowercase()) => Some(v),
        _ => {
            d.at(s.span(), format!("`{}.{version_key}` is not a version such as \"14.5\" or \"10.0.19045.4000\", found \"{}\"", t.section_name(), s.get_ref()));
            None
        }
    });
    let flag = |t: &mut Table, d: &mut Diagnostics, key: &str| {
        t.bool(d, key).map(|b| b.into_inner()).unwrap_or(false)
    };
    let require_disk_encryption = flag(t, d, "require_disk_encryption");
    let require_firewall = flag(t, d, "require_firewall");
    let require_screen_lock = flag(t, d, "require_screen_lock");
    let require_secure_boot = flag(t, d, "require_secure_boot");
    let require_system_integrity = flag(t, d, "require_system_integrity");
    let require_managed = flag(t, d, "require_managed");
    let names = |t: &mut Table, d: &mut Diagnostics, key: &str| {
        t.strings(d, key)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                if s.get_ref().trim().is_empty() || s.get_ref().contains('/') {
                    d.at(
                        s.span(),
                        format!("\"{}\" is not a process name", s.get_ref()),
                    );
                    None
                } else {
                    Some(s.into_inner())
                }
            })
            .collect::<Vec<_>>()
    };
    let required_processes = names(t, d, "required_processes");
    let forbidden_processes = names(t, d, "forbidden_processes");
    let unknown_blocks = t
        .strings(d, "unknown_blocks")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| match CheckName::from_key(s.get_ref()) {
            Some(c) => Some(c),
            None => {
                let known: Vec<&str> = CheckName::ALL.iter().map(|c| c.key()).collect();
                d.at(
                    s.span(),
                    format!(
                        "unknown check \"{}\" (known: {})",
                        s.get_ref(),
                        known.join(", ")
                    ),
                );
                None
            }
        })
        .collect();
    Requirements {
        min_os_version,
        require_disk_encryption,
        require_firewall,
        required_processes,
        forbidden_processes,
        require_screen_lock,
        require_secure_boot,
        require_system_integrity,
        require_managed,
        unknown_blocks,
    }
}
