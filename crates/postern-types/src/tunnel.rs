//! The tunnel as the privileged helper runs it: its states and the typed reasons it fails.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::text::escape_control;

/// A state the tunnel was in, and since when (the helper keeps the recent ones for diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelStateRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub state: TunnelState,
}

/// What the tunnel is doing now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum TunnelState {
    Disconnected,
    /// OpenVPN is working on it; `phase` is OpenVPN's own word (RESOLVE, WAIT, AUTH, ASSIGN_IP…).
    Connecting {
        profile: String,
        phase: String,
    },
    Connected {
        profile: String,
        tunnel_ip: String,
        endpoint_ip: String,
        /// The endpoint's pushed DNS, and whether this machine's resolver took it.
        #[serde(default)]
        dns: crate::dns::DnsState,
    },
    /// The tunnel dropped and OpenVPN is trying again (`attempt` of `max`).
    Reconnecting {
        profile: String,
        attempt: u32,
        max: u32,
        reason: String,
    },
    /// AWS SAML sign-in: the endpoint sent the IdP's address; the browser must sign in.
    AwaitingBrowser {
        profile: String,
        url: String,
    },
    Disconnecting {
        profile: String,
    },
    Failed {
        profile: String,
        cause: TunnelFailure,
    },
}

impl TunnelState {
    pub fn is_connected(&self) -> bool {
        matches!(self, TunnelState::Connected { .. })
    }

    /// A state nothing will move out of without a new request.
    pub fn is_final(&self) -> bool {
        matches!(self, TunnelState::Disconnected | TunnelState::Failed { .. })
    }

    /// The profile this state is about (none when disconnected).
    pub fn profile(&self) -> Option<&str> {
        match self {
            TunnelState::Disconnected => None,
            TunnelState::Connecting { profile, .. }
            | TunnelState::Connected { profile, .. }
            | TunnelState::Reconnecting { profile, .. }
            | TunnelState::AwaitingBrowser { profile, .. }
            | TunnelState::Disconnecting { profile }
            | TunnelState::Failed { profile, .. } => Some(profile),
        }
    }
}

/// Why a tunnel failed, in words a person can act on. The server's and OpenVPN's own text is
/// shown with its control characters escaped, so it cannot drive a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum TunnelFailure {
    #[error(
        "The VPN server refused the connection: {}",
        escape_control(.reason.as_deref().unwrap_or("no reason given"))
    )]
    Denied { reason: Option<String> },
    #[error(
        "The VPN connection was lost and could not be restored ({attempts} reconnect attempts)."
    )]
    ConnectionLost { attempts: u32 },
    #[error("OpenVPN stopped: {}", escape_control(.message))]
    Fatal { message: String },
    #[error("OpenVPN exited unexpectedly (status {status}).")]
    Exited { status: i32 },
    #[error("OpenVPN is not installed at {}.", escape_control(.path))]
    OpenVpnMissing { path: String },
    #[error("OpenVPN {} is too old; Postern needs 2.5 or newer.", escape_control(.found))]
    OpenVpnTooOld { found: String },
    #[error(
        "The VPN endpoint asked for SAML sign-in, but this profile does not use it (no auth-federate)."
    )]
    SamlUnsupported,
    #[error(
        "The VPN sign-in answer is {length} characters; the installed OpenVPN can pass at most {limit} (AWS's own OpenVPN build can pass up to 128 KB)."
    )]
    SamlAssertionTooLarge { length: usize, limit: usize },
    #[error("This profile asks for a user name and password, which Postern does not support yet.")]
    PasswordUnsupported,
}

impl crate::Problem for TunnelFailure {
    fn exit_code(&self) -> crate::ExitCode {
        crate::ExitCode::VpnFailed
    }

    fn next_step(&self) -> String {
        match self {
            TunnelFailure::Denied { .. } => {
                "Follow the server's message above; if it is unclear, contact your IT department.".into()
            }
            TunnelFailure::ConnectionLost { .. } => {
                "Check your internet connection, then connect again.".into()
            }
            TunnelFailure::Fatal { .. } | TunnelFailure::Exited { .. } => {
                "Connect again; if it keeps failing, export diagnostics for your helpdesk.".into()
            }
            TunnelFailure::OpenVpnMissing { .. } | TunnelFailure::OpenVpnTooOld { .. } => {
                "Install OpenVPN 2.6 (your IT department's package, or the distribution's `openvpn`).".into()
            }
            TunnelFailure::SamlUnsupported => {
                "Ask your IT department for the current profile of this VPN endpoint.".into()
            }
            TunnelFailure::SamlAssertionTooLarge { .. } => {
                "Install the AWS VPN Client (Postern uses its OpenVPN build for SAML sign-in), or ask IT for a certificate profile.".into()
            }
            TunnelFailure::PasswordUnsupported => {
                "Ask your IT department for a certificate (mutual authentication) profile.".into()
            }
        }
    }
}
