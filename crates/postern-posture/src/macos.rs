//! macOS probes: sw_vers, fdesetup, socketfilterfw, csrutil, spctl, profiles. No admin needed.

use super::parse;
use super::{
    Facts, Reading, Requirements, UnknownReason, if_asked, read_with, run_tool, running_processes,
};

pub const UPDATE_OS: &str =
    "Install the latest macOS update in System Settings > General > Software Update.";
pub const ENCRYPT_DISK: &str =
    "Turn FileVault on in System Settings > Privacy & Security > FileVault.";
pub const ENABLE_FIREWALL: &str = "Turn the firewall on in System Settings > Network > Firewall.";
pub const SCREEN_LOCK: &str =
    "Require a password right after sleep or the screen saver in System Settings > Lock Screen.";
pub const SECURE_BOOT: &str =
    "Set Full Security in Startup Security Utility (hold the power button at start-up).";
pub const SYSTEM_INTEGRITY: &str = "Turn System Integrity Protection and Gatekeeper back on (`csrutil enable` in Recovery; `sudo spctl --master-enable`).";
pub const ENROLL: &str =
    "Enroll this Mac in the company's device management (ask your IT department).";

pub fn collect(req: &Requirements) -> Facts {
    Facts {
        os_version: if_asked(req.min_os_version.is_some(), || {
            match run_tool("sw_vers", &[]) {
                Ok(out) => parse::sw_vers(&out).map(Reading::Value).unwrap_or_else(|| {
                    Reading::Unknown(UnknownReason::DetectionFailed(
                        "unexpected sw_vers output".into(),
                    ))
                }),
                Err(r) => Reading::Unknown(r),
            }
        }),
        disk_encrypted: if_asked(req.require_disk_encryption, || {
            read_with("fdesetup", &["status"], parse::fdesetup_status)
        }),
        firewall_on: if_asked(req.require_firewall, || {
            read_with(
                "/usr/libexec/ApplicationFirewall/socketfilterfw",
                &["--getglobalstate"],
                parse::socketfilterfw_state,
            )
        }),
        running: if_asked(
            !req.required_processes.is_empty() || !req.forbidden_processes.is_empty(),
            running_processes,
        ),
        // No public API tells; the MDM profile enforces it.
        screen_lock: Reading::Unknown(UnknownReason::NotApplicable),
        secure_boot: Reading::Unknown(UnknownReason::NeedsElevation),
        system_integrity: if_asked(req.require_system_integrity, || {
            match (
                read_with("csrutil", &["status"], parse::csrutil_status),
                read_with("spctl", &["--status"], parse::spctl_status),
            ) {
                (Reading::Value(sip), Reading::Value(gk)) => Reading::Value(sip && gk),
                (Reading::Unknown(r), _) | (_, Reading::Unknown(r)) => Reading::Unknown(r),
            }
        }),
        managed: if_asked(req.require_managed, || {
            read_with(
                "profiles",
                &["status", "-type", "enrollment"],
                parse::profiles_enrollment,
            )
        }),
    }
}
