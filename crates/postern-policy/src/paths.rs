//! Where the organization policy is looked for.

use std::path::PathBuf;

/// Where an MDM or installer writes the organization policy for every user of the machine.
pub fn system_policy_file() -> PathBuf {
    #[cfg(target_os = "macos")]
    return PathBuf::from("/Library/Application Support/Postern/policy.toml");
    #[cfg(windows)]
    return std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join(r"Postern\policy.toml");
    #[cfg(not(any(target_os = "macos", windows)))]
    return PathBuf::from("/etc/postern/policy.toml");
}

/// The user's own configuration directory (`~/.config/postern` on Linux).
pub fn user_config_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("postern"))
}
