//! `[posture]`: the interval, and per OS what the device must be (`[posture.linux]`,
//! `[posture.macos]`, `[posture.windows]`).

use std::time::Duration;

use super::parse_duration;
use super::reader::{Diagnostics, Table};
use crate::posture::{CheckName, PostureSettings, Requirements, Version};

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
