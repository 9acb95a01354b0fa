//! The one connection state machine's vocabulary: the states tray, window and CLI render, the
//! [`Cause`] of every transition, and the transitions themselves. The machine that moves
//! between them lives in the core (`postern_core::session`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::catalogue::Message;
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

    /// What happened, as a message of the catalogue.
    pub fn message(&self) -> Message {
        let m = Message::new;
        match self {
            Cause::ConnectRequested => m("cause-connect-requested"),
            Cause::SignInNeeded => m("cause-sign-in-needed"),
            Cause::SignInFailed { detail } => m("cause-sign-in-failed").with("detail", detail),
            Cause::KeychainUnavailable { detail } => {
                m("cause-keychain-unavailable").with("detail", detail)
            }
            Cause::KeychainLocked { detail } => m("cause-keychain-locked").with("detail", detail),
            Cause::IdentityCenterUnreachable { detail } => {
                m("cause-identity-center-unreachable").with("detail", detail)
            }
            Cause::IdentityCenterFault { detail } => {
                m("cause-identity-center-fault").with("detail", detail)
            }
            Cause::IdentityCenterDenied { detail } => {
                m("cause-identity-center-denied").with("detail", detail)
            }
            Cause::RoleNotGranted { account, role } => m("cause-role-not-granted")
                .with("role", role)
                .with("account", account),
            Cause::ScopeDownRefused { detail } => {
                m("cause-scope-down-refused").with("detail", detail)
            }
            Cause::ProfileStoreUnreadable { detail } => {
                m("cause-profile-store-unreadable").with("detail", detail)
            }
            Cause::HelperUnavailable { detail, .. } => {
                m("cause-helper-unavailable").with("detail", detail)
            }
            Cause::HelperVersion { helper, agent } => m("cause-helper-version")
                .with("helper", helper)
                .with("agent", agent),
            Cause::CountryNotAllowed { address, country } => m("cause-country-not-allowed")
                .with("address", address)
                .with("country", country),
            Cause::CountryDatabaseUnreadable { path, detail } => {
                m("cause-country-database-unreadable")
                    .with("path", path)
                    .with("detail", detail)
            }
            Cause::Internal { detail } => m("cause-internal").with("detail", detail),
            Cause::PostureFailed { failing, .. } => {
                m("cause-posture-failed").with("failing", failing.join(", "))
            }
            Cause::PostureUnknown { unknown } => {
                m("cause-posture-unknown").with("unknown", unknown.join(", "))
            }
            Cause::VpnFailed { failure } => m("cause-vpn-failed").with("failure", failure),
            Cause::VpnSignInFailed { failure } => m("cause-vpn-failed").with("failure", failure),
            Cause::VpnReconnecting { attempt, max } => m("cause-vpn-reconnecting")
                .with("attempt", attempt)
                .with("max", max),
            Cause::VpnLost => m("cause-vpn-lost"),
            Cause::EgressMismatch { address } => {
                m("cause-egress-mismatch").with("address", address)
            }
            Cause::EgressUndetermined { detail } => {
                m("cause-egress-undetermined").with("detail", detail)
            }
            Cause::CredentialsExpired => m("cause-credentials-expired"),
            Cause::AllGatesOpen => m("cause-all-gates-open"),
            Cause::UserDisconnected => m("cause-user-disconnected"),
        }
    }

    /// What to do next, as a message of the catalogue; `None` when there is nothing to do.
    pub fn next_message(&self) -> Option<Message> {
        let m = Message::new;
        Some(match self {
            Cause::ConnectRequested | Cause::AllGatesOpen => return None,
            Cause::SignInNeeded => m("cause-sign-in-needed-next"),
            Cause::SignInFailed { .. } => m("cause-sign-in-failed-next"),
            Cause::KeychainUnavailable { .. } if cfg!(target_os = "linux") => {
                m("cause-keychain-unavailable-next-linux")
            }
            Cause::KeychainUnavailable { .. } => m("cause-keychain-unavailable-next"),
            Cause::KeychainLocked { .. } => m("cause-keychain-locked-next"),
            Cause::IdentityCenterUnreachable { .. } => m("cause-identity-center-unreachable-next"),
            Cause::IdentityCenterFault { .. } => m("cause-identity-center-fault-next"),
            Cause::IdentityCenterDenied { .. } => m("cause-identity-center-denied-next"),
            Cause::RoleNotGranted { .. } => m("cause-role-not-granted-next"),
            Cause::ScopeDownRefused { .. } => m("cause-scope-down-refused-next"),
            Cause::ProfileStoreUnreadable { .. } => m("cause-profile-store-unreadable-next"),
            Cause::HelperUnavailable { trouble, .. } => m(match trouble {
                HelperTrouble::Unreachable => "cause-helper-unavailable-next-unreachable",
                HelperTrouble::NotPermitted => "cause-helper-unavailable-next-not-permitted",
                HelperTrouble::Untrusted => "cause-helper-unavailable-next-untrusted",
            }),
            Cause::HelperVersion { .. } => m("cause-helper-version-next"),
            Cause::CountryNotAllowed { .. } => m("cause-country-not-allowed-next"),
            Cause::CountryDatabaseUnreadable { .. } => m("cause-country-database-unreadable-next"),
            Cause::Internal { .. } => m("cause-internal-next"),
            Cause::PostureFailed { fixes, .. } => {
                m("cause-posture-failed-next").with("fixes", fixes.join(" "))
            }
            Cause::PostureUnknown { .. } => m("cause-posture-unknown-next"),
            Cause::VpnFailed { failure } => {
                m("cause-vpn-failed-next").with("next", crate::Problem::next_step(failure))
            }
            Cause::VpnSignInFailed { failure } => {
                m("cause-vpn-failed-next").with("next", crate::Problem::next_step(failure))
            }
            Cause::VpnReconnecting { .. } => m("cause-vpn-reconnecting-next"),
            Cause::VpnLost => m("cause-vpn-lost-next"),
            Cause::EgressMismatch { .. } => m("cause-egress-mismatch-next"),
            Cause::EgressUndetermined { .. } => m("cause-egress-undetermined-next"),
            Cause::CredentialsExpired => m("cause-credentials-expired-next"),
            Cause::UserDisconnected => m("cause-user-disconnected-next"),
        })
    }

    /// What happened, in English (the doors use [`Self::message`] in the person's language).
    pub fn sentence(&self) -> String {
        self.message().english()
    }

    /// What to do next, in English; empty when there is nothing to do.
    pub fn next_step(&self) -> String {
        self.next_message().map(|m| m.english()).unwrap_or_default()
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
