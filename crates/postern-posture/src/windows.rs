//! Windows probes: the registry (reg.exe), netsh, the shell's BitLocker property and Security
//! Center through PowerShell, dsregcmd. No admin needed.

use super::parse;
use super::{
    Facts, Reading, Requirements, UnknownReason, if_asked, read_with, run_tool, running_processes,
};

pub const UPDATE_OS: &str = "Install the latest updates in Settings > Windows Update and restart.";
pub const ENCRYPT_DISK: &str =
    "Turn BitLocker on for drive C: in Settings > Privacy & security > Device encryption.";
pub const ENABLE_FIREWALL: &str =
    "Turn Microsoft Defender Firewall on for every network profile in Windows Security > Firewall.";
pub const SCREEN_LOCK: &str =
    "Turn on \"On resume, display logon screen\" in the screen saver settings.";
pub const SECURE_BOOT: &str = "Turn Secure Boot on in the computer's UEFI settings.";
pub const SYSTEM_INTEGRITY: &str = "Not applicable on Windows.";
pub const ENROLL: &str =
    "Join this PC to the company's Entra ID or domain (ask your IT department).";

const POWERSHELL: &str = "powershell.exe";

pub fn collect(req: &Requirements) -> Facts {
    let mut running = if_asked(
        !req.required_processes.is_empty() || !req.forbidden_processes.is_empty(),
        running_processes,
    );
    // Security products registered with Security Center count as running when enabled, so a
    // policy can name "Windows Defender" as well as MsMpEng.exe.
    if let Reading::Value(list) = &mut running
        && let Ok(out) = run_tool(
            POWERSHELL,
            &[
                "-NoProfile",
                "-Command",
                "Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntivirusProduct | ForEach-Object { \"$($_.displayName)|$($_.productState)\" }",
            ],
        )
    {
        list.extend(
            parse::security_center_products(&out)
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| n),
        );
    }
    Facts {
        os_version: if_asked(req.min_os_version.is_some(), || {
            match run_tool(
                "reg",
                &[
                    "query",
                    r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion",
                ],
            ) {
                Ok(out) => parse::windows_version(&out)
                    .map(Reading::Value)
                    .unwrap_or_else(|| {
                        Reading::Unknown(UnknownReason::DetectionFailed(
                            "no CurrentBuild in the registry".into(),
                        ))
                    }),
                Err(r) => Reading::Unknown(r),
            }
        }),
        disk_encrypted: if_asked(req.require_disk_encryption, || {
            read_with(
                POWERSHELL,
                &[
                    "-NoProfile",
                    "-Command",
                    "(New-Object -ComObject Shell.Application).NameSpace('C:').Self.ExtendedProperty('System.Volume.BitLockerProtection')",
                ],
                parse::bitlocker_protection,
            )
        }),
        firewall_on: if_asked(req.require_firewall, || {
            read_with(
                "netsh",
                &["advfirewall", "show", "allprofiles", "state"],
                parse::netsh_firewall,
            )
        }),
        running,
        screen_lock: if_asked(req.require_screen_lock, || {
            read_with(
                "reg",
                &[
                    "query",
                    r"HKCU\Control Panel\Desktop",
                    "/v",
                    "ScreenSaverIsSecure",
                ],
                parse::windows_screen_lock,
            )
        }),
        secure_boot: if_asked(req.require_secure_boot, || {
            read_with(
                "reg",
                &[
                    "query",
                    r"HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State",
                    "/v",
                    "UEFISecureBootEnabled",
                ],
                parse::windows_secure_boot,
            )
        }),
        system_integrity: Reading::Unknown(UnknownReason::NotApplicable),
        managed: if_asked(req.require_managed, || {
            read_with("dsregcmd", &["/status"], parse::dsregcmd_joined)
        }),
    }
}
