//! Per-OS locations. Nothing secret is ever written to these directories.

use std::path::PathBuf;

pub use postern_ipc::agent_client::{agent_socket, user_state_dir};
pub use postern_policy::paths::{system_policy_file, user_config_dir};

/// The AWS CLI's home (`~/.aws`), honouring nothing but the home directory, as the AWS CLI does
/// for its SSO cache.
pub fn aws_dir() -> Option<PathBuf> {
    dirs::home_dir().map(|h| h.join(".aws"))
}
