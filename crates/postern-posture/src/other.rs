//! Platforms Postern does not support: every check is "not applicable" except processes.

use super::{Facts, Reading, Requirements, UnknownReason, if_asked, running_processes};

pub const UPDATE_OS: &str = "Update the operating system.";
pub const ENCRYPT_DISK: &str = "Encrypt the system disk.";
pub const ENABLE_FIREWALL: &str = "Turn the firewall on.";
pub const SCREEN_LOCK: &str = "Turn the screen lock on.";
pub const SECURE_BOOT: &str = "Turn Secure Boot on.";
pub const SYSTEM_INTEGRITY: &str = "Turn system integrity protections on.";
pub const ENROLL: &str = "Enroll the device in the company's management.";

pub fn collect(req: &Requirements) -> Facts {
    let na = || Reading::Unknown(UnknownReason::NotApplicable);
    Facts {
        os_version: na(),
        disk_encrypted: na(),
        firewall_on: na(),
        running: if_asked(
            !req.required_processes.is_empty() || !req.forbidden_processes.is_empty(),
            running_processes,
        ),
        screen_lock: na(),
        secure_boot: na(),
        system_integrity: na(),
        managed: na(),
    }
}
