//! Per-OS locations. Nothing secret is ever written to these directories.

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

/// Non-secret per-user state: lock files, caches that are safe in plain text.
pub fn user_state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("postern")
}

/// The AWS CLI's home (`~/.aws`), honouring nothing but the home directory, as the AWS CLI does
/// for its SSO cache.
pub fn aws_dir() -> Option<PathBuf> {
    dirs::home_dir().map(|h| h.join(".aws"))
}

/// The per-user agent's socket: `$POSTERN_AGENT_SOCKET`, else `$XDG_RUNTIME_DIR/postern/agent.sock`,
/// else the state directory. Its directory is the user's only (0700).
pub fn agent_socket() -> PathBuf {
    if let Some(p) = std::env::var_os("POSTERN_AGENT_SOCKET").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::runtime_dir()
        .map(|d| d.join("postern"))
        .unwrap_or_else(user_state_dir)
        .join("agent.sock")
}
