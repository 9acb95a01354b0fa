//! Linux probes: lsblk, systemctl, uname/os-release, mokutil, gsettings, realm. No root needed.

use super::parse;
use super::{
    Facts, Reading, Requirements, UnknownReason, Version, if_asked, read_with, run_tool,
    running_processes,
};

pub const UPDATE_OS: &str =
    "Install your distribution's updates (including the kernel) and restart.";
pub const ENCRYPT_DISK: &str = "The system disk must be encrypted (LUKS); ask your IT department to reinstall with encryption.";
pub const ENABLE_FIREWALL: &str =
    "Turn the firewall on: `sudo ufw enable` (or `sudo systemctl enable --now firewalld`).";
pub const SCREEN_LOCK: &str =
    "Turn on the automatic screen lock in Settings > Privacy > Screen Lock.";
pub const SECURE_BOOT: &str = "Turn Secure Boot on in the computer's firmware settings.";
pub const SYSTEM_INTEGRITY: &str = "Not applicable on Linux.";
pub const ENROLL: &str =
    "Ask your IT department to enroll this computer (join it to the company directory).";

pub fn collect(req: &Requirements) -> Facts {
    Facts {
        os_version: if_asked(req.min_os_version.is_some(), || {
            match run_tool("uname", &["-r"]) {
                Ok(kernel) => match Version::parse(&kernel) {
                    Some(v) => {
                        let distro = std::fs::read_to_string("/etc/os-release")
                            .ok()
                            .and_then(|t| parse::os_release_name(&t))
                            .unwrap_or_else(|| "Linux".into());
                        Reading::Value((v, format!("{distro}, kernel {}", kernel.trim())))
                    }
                    None => Reading::Unknown(UnknownReason::DetectionFailed(format!(
                        "unexpected kernel version {kernel:?}"
                    ))),
                },
                Err(r) => Reading::Unknown(r),
            }
        }),
        disk_encrypted: if_asked(req.require_disk_encryption, || {
            read_with(
                "lsblk",
                &["-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINTS"],
                parse::linux_root_encrypted,
            )
        }),
        firewall_on: if_asked(req.require_firewall, || {
            read_with(
                "systemctl",
                &["is-active", "ufw", "firewalld", "nftables"],
                parse::linux_firewall,
            )
        }),
        running: if_asked(
            !req.required_processes.is_empty() || !req.forbidden_processes.is_empty(),
            running_processes,
        ),
        screen_lock: if_asked(req.require_screen_lock, || {
            read_with(
                "gsettings",
                &["get", "org.gnome.desktop.screensaver", "lock-enabled"],
                parse::gsettings_bool,
            )
        }),
        secure_boot: if_asked(req.require_secure_boot, || {
            read_with("mokutil", &["--sb-state"], parse::mokutil_secure_boot)
        }),
        system_integrity: Reading::Unknown(UnknownReason::NotApplicable),
        managed: if_asked(req.require_managed, || {
            read_with("realm", &["list", "--name-only"], |out| {
                Reading::Value(!out.trim().is_empty())
            })
        }),
    }
}
