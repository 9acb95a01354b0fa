//! Parsers of OS tool outputs: pure functions, tested on every platform with recorded outputs
//! (several versions and states each). The probes that run the tools stay thin.

use super::{Reading, UnknownReason, Version};

fn failed(what: &str, text: &str) -> UnknownReason {
    let first = text.lines().next().unwrap_or("").trim();
    UnknownReason::DetectionFailed(format!("unexpected {what} output: {first:?}"))
}

// ---------------------------------------------------------------- Linux

/// `lsblk -J -o NAME,TYPE,FSTYPE,MOUNTPOINT` (or MOUNTPOINTS): is any device under `/` a
/// dm-crypt mapping (LUKS)?
pub fn linux_root_encrypted(lsblk_json: &str) -> Reading<bool> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(lsblk_json) else {
        return Reading::Unknown(failed("lsblk", lsblk_json));
    };
    fn mounts_root(node: &serde_json::Value) -> bool {
        node["mountpoint"].as_str() == Some("/")
            || node["mountpoints"]
                .as_array()
                .is_some_and(|m| m.iter().any(|p| p.as_str() == Some("/")))
    }
    fn is_crypt(node: &serde_json::Value) -> bool {
        node["type"].as_str() == Some("crypt") || node["fstype"].as_str() == Some("crypto_LUKS")
    }
    /// The chain of nodes from a top-level device down to the one mounted at `/`.
    fn chain<'a>(node: &'a serde_json::Value, path: &mut Vec<&'a serde_json::Value>) -> bool {
        path.push(node);
        if mounts_root(node) {
            return true;
        }
        for child in node["children"].as_array().into_iter().flatten() {
            if chain(child, path) {
                return true;
            }
        }
        path.pop();
        false
    }
    for device in doc["blockdevices"].as_array().into_iter().flatten() {
        let mut path = Vec::new();
        if chain(device, &mut path) {
            return Reading::Value(path.iter().any(|n| is_crypt(n)));
        }
    }
    Reading::Unknown(UnknownReason::DetectionFailed(
        "no block device is mounted at /".into(),
    ))
}

/// `systemctl is-active ufw firewalld nftables`: one line per unit.
pub fn linux_firewall(is_active: &str) -> Reading<bool> {
    let states: Vec<&str> = is_active
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if states.is_empty()
        || states.iter().any(|s| {
            !matches!(
                *s,
                "active" | "inactive" | "unknown" | "failed" | "activating" | "deactivating"
            )
        })
    {
        return Reading::Unknown(failed("systemctl", is_active));
    }
    Reading::Value(states.contains(&"active"))
}

/// `/etc/os-release`: the pretty name, for display.
pub fn os_release_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// `mokutil --sb-state`
pub fn mokutil_secure_boot(text: &str) -> Reading<bool> {
    if text.contains("SecureBoot enabled") {
        Reading::Value(true)
    } else if text.contains("SecureBoot disabled") {
        Reading::Value(false)
    } else if text.contains("not supported") {
        Reading::Unknown(UnknownReason::NotApplicable)
    } else {
        Reading::Unknown(failed("mokutil", text))
    }
}

/// `gsettings get org.gnome.desktop.screensaver lock-enabled`
pub fn gsettings_bool(text: &str) -> Reading<bool> {
    match text.trim() {
        "true" => Reading::Value(true),
        "false" => Reading::Value(false),
        _ => Reading::Unknown(failed("gsettings", text)),
    }
}

// ---------------------------------------------------------------- macOS

/// `sw_vers`: ProductVersion plus the Rapid Security Response letter (ProductVersionExtra).
pub fn sw_vers(text: &str) -> Option<(Version, String)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim().to_string())
    };
    let version = field("ProductVersion")?;
    let shown = match field("ProductVersionExtra") {
        Some(extra) if !extra.is_empty() => format!("{version} {extra}"),
        _ => version,
    };
    Version::parse(&shown).map(|v| (v, format!("macOS {shown}")))
}

/// `fdesetup status`
pub fn fdesetup_status(text: &str) -> Reading<bool> {
    if text.contains("FileVault is On.") && !text.contains("Decryption in progress") {
        Reading::Value(true)
    } else if text.contains("FileVault is Off.")
        || text.contains("Decryption in progress")
        || text.contains("Encryption in progress")
    {
        // Half-encrypted is not encrypted yet.
        Reading::Value(false)
    } else {
        Reading::Unknown(failed("fdesetup", text))
    }
}

/// `/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate`: State 1 and 2 (block
/// all incoming) are both on.
pub fn socketfilterfw_state(text: &str) -> Reading<bool> {
    let state = text
        .split("State = ")
        .nth(1)
        .and_then(|s| s.chars().next())
        .and_then(|c| c.to_digit(10));
    match state {
        Some(1) | Some(2) => Reading::Value(true),
        Some(0) => Reading::Value(false),
        _ if text.contains("Firewall is enabled") || text.contains("blocking all") => {
            Reading::Value(true)
        }
        _ if text.contains("Firewall is disabled") => Reading::Value(false),
        _ => Reading::Unknown(failed("socketfilterfw", text)),
    }
}

/// `csrutil status`
pub fn csrutil_status(text: &str) -> Reading<bool> {
    if text.contains("status: enabled.") {
        Reading::Value(true)
    } else if text.contains("status: disabled.") || text.contains("Custom Configuration") {
        Reading::Value(false)
    } else {
        Reading::Unknown(failed("csrutil", text))
    }
}

/// `spctl --status`
pub fn spctl_status(text: &str) -> Reading<bool> {
    match text.trim() {
        "assessments enabled" => Reading::Value(true),
        "assessments disabled" => Reading::Value(false),
        _ => Reading::Unknown(failed("spctl", text)),
    }
}

/// `profiles status -type enrollment`
pub fn profiles_enrollment(text: &str) -> Reading<bool> {
    match text
        .lines()
        .find_map(|l| l.trim().strip_prefix("MDM enrollment:"))
    {
        Some(v) if v.trim().starts_with("Yes") => Reading::Value(true),
        Some(_) => Reading::Value(false),
        None => Reading::Unknown(failed("profiles", text)),
    }
}

// ---------------------------------------------------------------- Windows

/// One value from `reg query KEY [/v NAME]` output: `    NAME    REG_TYPE    DATA`.
pub fn reg_value(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next()? == name).then(|| {
            let _kind = f.next();
            f.collect::<Vec<_>>().join(" ")
        })
    })
}

fn reg_number(text: &str, name: &str) -> Option<u64> {
    let v = reg_value(text, name)?;
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `reg query "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"`: major.minor.build.UBR
/// (sysinfo's "11 (22631)" lacks the UBR that patch levels are judged by).
pub fn windows_version(text: &str) -> Option<(Version, String)> {
    let major = reg_number(text, "CurrentMajorVersionNumber").unwrap_or(10);
    let minor = reg_number(text, "CurrentMinorVersionNumber").unwrap_or(0);
    let build = reg_number(text, "CurrentBuild")?;
    let ubr = reg_number(text, "UBR").unwrap_or(0);
    let name = if build >= 22000 {
        "Windows 11"
    } else {
        "Windows 10"
    };
    let display = reg_value(text, "DisplayVersion")
        .map(|d| format!(" {d}"))
        .unwrap_or_default();
    Some((
        Version::from_parts(vec![major, minor, build, ubr]),
        format!("{name}{display} ({major}.{minor}.{build}.{ubr})"),
    ))
}

/// The shell property `System.Volume.BitLockerProtection` of C: (readable without admin):
/// 1, 3, 5 protected; 2 off; 4 encrypting; 6 decrypting.
pub fn bitlocker_protection(value: &str) -> Reading<bool> {
    match value.trim() {
        "1" | "3" | "5" => Reading::Value(true),
        "2" | "4" | "6" => Reading::Value(false),
        _ => Reading::Unknown(failed("BitLockerProtection", value)),
    }
}

/// `netsh advfirewall show allprofiles state`: on only when every profile is on.
pub fn netsh_firewall(text: &str) -> Reading<bool> {
    let states: Vec<bool> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("State"))
        .map(|v| v.trim().eq_ignore_ascii_case("ON"))
        .collect();
    if states.len() < 3 {
        return Reading::Unknown(failed("netsh", text));
    }
    Reading::Value(states.iter().all(|on| *on))
}

/// `Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntivirusProduct` rendered as
/// `name|productState` lines: the products whose real-time protection is on (bit 0x1000).
pub fn security_center_products(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter_map(|l| {
            let (name, state) = l.trim().rsplit_once('|')?;
            let state: u32 = state.trim().parse().ok()?;
            Some((name.trim().to_string(), state & 0x1000 != 0))
        })
        .collect()
}

/// `reg query HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State /v UEFISecureBootEnabled`
pub fn windows_secure_boot(text: &str) -> Reading<bool> {
    match reg_number(text, "UEFISecureBootEnabled") {
        Some(1) => Reading::Value(true),
        Some(0) => Reading::Value(false),
        // Legacy BIOS machines have no such key.
        _ if text.contains("unable to find") => Reading::Unknown(UnknownReason::NotApplicable),
        _ => Reading::Unknown(failed("reg", text)),
    }
}

/// `reg query "HKCU\Control Panel\Desktop" /v ScreenSaverIsSecure`
pub fn windows_screen_lock(text: &str) -> Reading<bool> {
    match reg_value(text, "ScreenSaverIsSecure").as_deref() {
        Some("1") => Reading::Value(true),
        Some(_) => Reading::Value(false),
        None if text.contains("unable to find") => Reading::Value(false),
        None => Reading::Unknown(failed("reg", text)),
    }
}

/// `dsregcmd /status`: joined to Entra ID (Azure AD) or an AD domain.
pub fn dsregcmd_joined(text: &str) -> Reading<bool> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(name)
                .map(|v| v.trim_start_matches([' ', ':']).trim().to_string())
        })
    };
    match (field("AzureAdJoined"), field("DomainJoined")) {
        (None, None) => Reading::Unknown(failed("dsregcmd", text)),
        (a, d) => Reading::Value(a.as_deref() == Some("YES") || d.as_deref() == Some("YES")),
    }
}
