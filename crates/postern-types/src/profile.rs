//! A profile's refusal, as the helper and the profile store report it.

use std::fmt;

/// Larger than any real export (a few KB); a bigger file is not a profile.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;

/// One refused line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileIssue {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ProfileIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ProfileError {
    #[error("The profile is larger than {max} bytes; it is not a VPN profile.", max = MAX_PROFILE_BYTES)]
    TooLarge,
    #[error("The profile is not a text file (it contains binary data).")]
    Binary,
    #[error("The profile was refused:\n{}", render(.0))]
    Refused(Vec<ProfileIssue>),
}

fn render(issues: &[ProfileIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}
