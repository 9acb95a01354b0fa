//! Per-OS locations. Nothing secret is ever written to these directories.

use std::path::PathBuf;

pub use postern_policy::paths::{system_policy_file, user_config_dir};

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
/// else the state directory. Its directory is the user's only (0700). On Windows a named pipe
/// per user, `\\.\pipe\postern-agent-USERNAME`; the agent makes it owned by and open to that
/// user only, and clients check its owner.
pub fn agent_socket() -> PathBuf {
    if let Some(p) = std::env::var_os("POSTERN_AGENT_SOCKET").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    #[cfg(windows)]
    {
        let user = std::env::var("USERNAME").unwrap_or_default();
        let user: String = user
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        PathBuf::from(format!(r"\\.\pipe\postern-agent-{user}"))
    }
    #[cfg(not(windows))]
    dirs::runtime_dir()
        .map(|d| d.join("postern"))
        .unwrap_or_else(user_state_dir)
        .join("agent.sock")
}
