//! The one connection state machine's vocabulary: the states tray, window and CLI render, the
//! [`Cause`] of every transition, and the transitions themselves. The machine that moves
//! between them lives in the core (`postern_core::session`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tunnel::TunnelFailure;

/// What Connect is asked to reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub profile: String,
    pub account: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum SessionState {
    /// Nothing running; credentials are not served.
    Idle,
    /// Checking the Identity Center sign-in; with an address (and code) when the person must
    /// sign in.
    SigningIn {
        verification_uri: Option<String>,
        user_code: Option<String>,
    },
    CheckingPosture,
    ConnectingVpn {
        profile: String,
        phase: String,
    },
    /// The VPN's SAML sign-in waits for the browser.
    VpnSignIn {
        url: String,
    },
    VerifyingEgress,
    /// Every gate the rule requires is open; the credentials are being fetched.
    IssuingCredentials,
    /// Every gate open: credentials are served until `expires_at`. `egress` is the address this
    /// attempt proved, `None` when the rule does not require the egress gate.
    Ready {
        target: Target,
        egress: Option<IpAddr>,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Was ready; a gate closed for a reason that may pass by itself (the VPN reconnecting, a
    /// first posture failure). Credentials are withheld while it lasts.
    Degraded {
        target: Target,
        cause: Cause,
    },
    /// Stopped with a reason and a next step; credentials are not served.
    Blocked {
        cause: Cause,
    },
    Disconnecting,
}

impl SessionState {
    /// The state's stable name, as its JSON `state` tag spells it.
    pub fn name(&self) -> &'static str {
        match self {
            SessionState::Idle => "idle",
            SessionState::SigningIn { .. } => "signing-in",
            SessionState::CheckingPosture => "checking-posture",
            SessionState::ConnectingVpn { .. } => "connecting-vpn",
            SessionState::VpnSignIn { .. } => "vpn-sign-in",
            SessionState::VerifyingEgress => "verifying-egress",
            SessionState::IssuingCredentials => "issuing-credentials",
            SessionState::Ready { .. } => "ready",
            SessionState::Degraded { .. } => "degraded",
            SessionState::Blocked { .. } => "blocked",
            SessionState::Disconnecting => "disconnecting",
        }
    }

    /// The gate: the only state in which credentials may be handed out.
    pub fn serves_credentials(&self) -> bool {
        matches!(self, SessionState::Ready { .. })
    }

    pub fn is_working(&self) -> bool {
        matches!(
            self,
            SessionState::SigningIn { .. }
                | SessionState::CheckingPosture
                | SessionState::ConnectingVpn { .. }
                | SessionState::VpnSignIn { .. }
                | SessionState::VerifyingEgress
                | SessionState::IssuingCredentials
                | SessionState::Disconnecting
        )
    }
}

/// Why the privileged helper cannot be used, for the step that helps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HelperTrouble {
    /// Not running, or it stopped or broke the connection.
    #[default]
    Unreachable,
    /// It refuses this user (not in its group).
    NotPermitted,
    /// What answers at the configured socket is not the helper (its directory or its process
    /// is not root's): nothing was sent to it.
    Untrusted,
}

/// Why the state changed: one sentence for people, one next step, and a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "cause",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Cause {
    ConnectRequested,
    SignInNeeded,
    SignInFailed {
        detail: String,
    },
    /// No OS keychain to keep the sign-in in (no Secret Service running, no desktop session).
    KeychainUnavailable {
        detail: String,
    },
    /// The keychain is there but locked, or refused Postern.
    KeychainLocked {
        detail: String,
    },
    IdentityCenterUnreachable {
        detail: String,
    },
    /// Identity Center answered with a server error (5xx) or asked to slow down.
    IdentityCenterFault {
        detail: String,
    },
    /// Identity Center refused the request itself (not the person's sign-in).
    IdentityCenterDenied {
        detail: String,
    },
    /// Signed in, but Identity Center does not give this person the role.
    RoleNotGranted {
        account: String,
        role: String,
    },
    /// AWS STS refused to assume the policy's scope-down role.
    ScopeDownRefused {
        detail: String,
    },
    /// The VPN profiles could not be listed or read.
    ProfileStoreUnreadable {
        detail: String,
    },
    /// The privileged VPN helper is not running, or refuses this user.
    HelperUnavailable {
        detail: String,
        #[serde(default)]
        trouble: HelperTrouble,
    },
    /// The helper runs but speaks another protocol version.
    HelperVersion {
        helper: u32,
        agent: u32,
    },
    PostureFailed {
        failing: Vec<String>,
        fixes: Vec<String>,
    },
    PostureUnknown {
        unknown: Vec<String>,
    },
    VpnFailed {
        failure: TunnelFailure,
    },
    /// The VPN's own SAML sign-in could not be carried out (its page refused, its answer lost).
    VpnSignInFailed {
        failure: crate::saml::SamlError,
    },
    VpnReconnecting {
        attempt: u32,
        max: u32,
    },
    VpnLost,
    EgressMismatch {
        address: IpAddr,
    },
    CountryNotAllowed {
        address: IpAddr,
        country: String,
    },
    /// The policy names a country database that cannot be opened: the country gate cannot be
    /// judged, so it stays closed.
    CountryDatabaseUnreadable {
        path: String,
        detail: String,
    },
    EgressUndetermined {
        detail: String,
    },
    CredentialsExpired,
    AllGatesOpen,
    UserDisconnected,
    /// A part of Postern stopped unexpectedly (a task that panicked).
    Internal {
        detail: String,
    },
}

impl Cause {
    /// The exit code a CLI door ends with when a session stops for this cause.
    pub fn exit_code(&self) -> crate::ExitCode {
        use crate::ExitCode as E;
        match self {
            Cause::ConnectRequested | Cause::AllGatesOpen | Cause::UserDisconnected => {
                E::NotConnected
            }
            Cause::SignInNeeded => E::NotSignedIn,
            Cause::SignInFailed { .. } => E::SignInFailed,
            Cause::KeychainUnavailable { .. } | Cause::KeychainLocked { .. } => E::Keychain,
            Cause::IdentityCenterUnreachable { .. }
            | Cause::IdentityCenterFault { .. }
            | Cause::IdentityCenterDenied { .. }
            | Cause::ScopeDownRefused { .. } => E::IdentityProvider,
            Cause::RoleNotGranted { .. } => E::AccessNotAllowed,
            Cause::ProfileStoreUnreadable { .. } | Cause::CountryDatabaseUnreadable { .. } => {
                E::BadInput
            }
            Cause::HelperUnavailable { .. } | Cause::HelperVersion { .. } => E::HelperUnavailable,
            Cause::CountryNotAllowed { .. } => E::EgressMismatch,
            Cause::Internal { .. } => E::Internal,
            Cause::PostureFailed { .. } => E::NonCompliant,
            Cause::PostureUnknown { .. } => E::PostureUnknown,
            Cause::VpnFailed { .. }
            | Cause::VpnSignInFailed { .. }
            | Cause::VpnReconnecting { .. }
            | Cause::VpnLost => E::VpnFailed,
            Cause::EgressMismatch { .. } => E::EgressMismatch,
            Cause::EgressUndetermined { .. } => E::EgressUndetermined,
            Cause::CredentialsExpired => E::NotConnected,
        }
    }

    pub fn sentence(&self) -> String {
        match self {
            Cause::ConnectRequested => "Connecting.".into(),
            Cause::SignInNeeded => "Sign in to continue.".into(),
            Cause::SignInFailed { detail } => format!("Sign-in failed: {detail}"),
            Cause::KeychainUnavailable { detail } => {
                format!("No keychain is available to keep your sign-in ({detail}).")
            }
            Cause::KeychainLocked { detail } => {
                format!("The keychain is locked or refused Postern ({detail}).")
            }
            Cause::IdentityCenterUnreachable { detail } => {
                format!("IAM Identity Center could not be reached ({detail}).")
            }
            Cause::IdentityCenterFault { detail } => {
                format!("IAM Identity Center is having trouble on its side ({detail}).")
            }
            Cause::IdentityCenterDenied { detail } => {
                format!("IAM Identity Center refused the request ({detail}).")
            }
            Cause::RoleNotGranted { account, role } => format!(
                "IAM Identity Center does not give you the role {role} in account {account}."
            ),
            Cause::ScopeDownRefused { detail } => format!(
                "AWS STS refused to limit the credentials to the company network ({detail}). AWS credentials are withheld."
            ),
            Cause::ProfileStoreUnreadable { detail } => {
                format!("The VPN profiles could not be read ({detail}).")
            }
            Cause::HelperUnavailable { detail, .. } => {
                format!("The Postern VPN helper cannot be used ({detail}).")
            }
            Cause::HelperVersion { helper, agent } => format!(
                "The Postern VPN helper speaks protocol {helper}, this agent speaks {agent}."
            ),
            Cause::CountryNotAllowed { address, country } => format!(
                "Traffic leaves from {address} in {country}, a country the company policy does not allow. AWS credentials are withheld."
            ),
            Cause::CountryDatabaseUnreadable { path, detail } => format!(
                "The country database {path} cannot be opened ({detail}), so the country cannot be checked. AWS credentials are withheld."
            ),
            Cause::Internal { detail } => format!("Postern failed unexpectedly ({detail})."),
            Cause::PostureFailed { failing, .. } => format!(
                "This device does not meet the company's requirements ({}).",
                failing.join(", ")
            ),
            Cause::PostureUnknown { unknown } => format!(
                "Postern could not check this device ({}).",
                unknown.join(", ")
            ),
            Cause::VpnFailed { failure } => failure.to_string(),
            Cause::VpnSignInFailed { failure } => failure.to_string(),
            Cause::VpnReconnecting { attempt, max } => format!(
                "The VPN dropped; reconnecting ({attempt} of {max}). AWS credentials are paused."
            ),
            Cause::VpnLost => "The VPN connection was lost. AWS credentials were withdrawn.".into(),
            Cause::EgressMismatch { address } => format!(
                "Traffic leaves from {address}, not through the company NAT. AWS credentials are withheld."
            ),
            Cause::EgressUndetermined { detail } => format!(
                "Postern could not confirm where traffic leaves ({detail}). AWS credentials are withheld."
            ),
            Cause::CredentialsExpired => "The AWS credentials expired.".into(),
            Cause::AllGatesOpen => "Connected: AWS credentials are ready.".into(),
            Cause::UserDisconnected => "Disconnected.".into(),
        }
    }

    pub fn next_step(&self) -> String {
        match self {
            Cause::ConnectRequested | Cause::AllGatesOpen => String::new(),
            Cause::SignInNeeded => "Finish signing in in your browser.".into(),
            Cause::SignInFailed { .. } => "Click Connect to sign in again.".into(),
            Cause::KeychainUnavailable { .. } => {
                if cfg!(target_os = "linux") {
                    "Start your desktop's keyring (a Secret Service such as gnome-keyring or KWallet), then click Connect.".into()
                } else {
                    "Sign in to your desktop session, then click Connect.".into()
                }
            }
            Cause::KeychainLocked { .. } => {
                "Unlock your keychain (log in to your desktop session again), then click Connect."
                    .into()
            }
            Cause::IdentityCenterUnreachable { .. } => {
                "Check your internet connection, then click Connect; if it keeps failing, tell your IT department.".into()
            }
            Cause::IdentityCenterFault { .. } => {
                "Wait a few minutes and click Connect again (AWS may be having an outage).".into()
            }
            Cause::IdentityCenterDenied { .. } => {
                "Tell your IT department, with this message.".into()
            }
            Cause::RoleNotGranted { .. } => {
                "Pick an account and role you have (`postern accounts`), or ask your IT department for this one.".into()
            }
            Cause::ScopeDownRefused { .. } => {
                "Tell your IT department: Postern could not assume the scope-down role named in the policy.".into()
            }
            Cause::ProfileStoreUnreadable { .. } => {
                "Check that the folder is yours and readable, or import the profile again (`postern vpn import FILE`).".into()
            }
            Cause::HelperUnavailable { trouble, .. } => match trouble {
                HelperTrouble::Unreachable => {
                    "Start the Postern VPN helper (or reinstall Postern), then click Connect.".into()
                }
                HelperTrouble::NotPermitted => {
                    "Ask your IT department to add your account to the 'postern' group, then log in again.".into()
                }
                HelperTrouble::Untrusted => {
                    "Unset POSTERN_HELPER_SOCKET (so the helper's own socket is used) or point it at the helper's socket; if the default is refused, reinstall Postern.".into()
                }
            },
            Cause::HelperVersion { .. } => {
                "Restart the Postern VPN helper (or reinstall Postern) so it matches this version.".into()
            }
            Cause::CountryNotAllowed { .. } => {
                "If you are travelling, ask your IT department; otherwise tell them the VPN does not leave where the policy expects.".into()
            }
            Cause::CountryDatabaseUnreadable { .. } => {
                "Tell your IT department: the country database named in Postern's policy is missing or damaged.".into()
            }
            Cause::Internal { .. } => {
                "Click Connect to try again; if it persists, export diagnostics for your helpdesk.".into()
            }
            Cause::PostureFailed { fixes, .. } => fixes.join(" "),
            Cause::PostureUnknown { .. } => {
                "Try again; if it persists, export diagnostics for your helpdesk.".into()
            }
            Cause::VpnFailed { failure } => crate::Problem::next_step(failure),
            Cause::VpnSignInFailed { failure } => crate::Problem::next_step(failure),
            Cause::VpnReconnecting { .. } => {
                "Wait a moment; Postern resumes by itself when the VPN is back.".into()
            }
            Cause::VpnLost => "Check your internet connection, then click Connect.".into(),
            Cause::EgressMismatch { .. } => {
                "Tell your IT department: the VPN does not route traffic through the company NAT."
                    .into()
            }
            Cause::EgressUndetermined { .. } => {
                "Check your connection (a captive portal or proxy can interfere) and click Connect."
                    .into()
            }
            Cause::CredentialsExpired => "Click Connect to get new credentials.".into(),
            Cause::UserDisconnected => "Click Connect when you need AWS access.".into(),
        }
    }
}

// A cause is also a problem, so a door that drives a part directly (`postern vpn connect`)
// reports it the way every other failure is reported.
impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence())
    }
}

impl std::error::Error for Cause {}

impl crate::Problem for Cause {
    fn exit_code(&self) -> crate::ExitCode {
        Cause::exit_code(self)
    }

    fn next_step(&self) -> String {
        Cause::next_step(self)
    }
}

/// A change of state, as the tray, the window and notifications receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub state: SessionState,
    pub cause: Cause,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}
