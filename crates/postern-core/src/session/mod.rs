//! The one connection state machine. Tray, window, CLI and notifications all render
//! [`SessionState`] and the [`Cause`] of every transition; nothing else keeps its own copy.
//!
//! The machine is pure: the orchestrator feeds it [`Event`]s (what the identity, posture, VPN and
//! egress parts observed) and carries out the [`Action`] it answers with. That keeps every rule
//! ("credentials only when every gate is open", "a VPN drop closes the gate at once", "posture
//! must fail twice") in one tested place.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::vpn::tunnel::{TunnelFailure, TunnelState};

pub mod notify;
pub mod present;

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
    /// Every gate open: credentials are served until `expires_at`.
    Ready {
        target: Target,
        egress: IpAddr,
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
                | SessionState::Disconnecting
        )
    }
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
    VpnReconnecting {
        attempt: u32,
        max: u32,
    },
    VpnLost,
    EgressMismatch {
        address: IpAddr,
    },
    EgressUndetermined {
        detail: String,
    },
    CredentialsExpired,
    AllGatesOpen,
    UserDisconnected,
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
            Cause::PostureFailed { .. } => E::NonCompliant,
            Cause::PostureUnknown { .. } => E::PostureUnknown,
            Cause::VpnFailed { .. } | Cause::VpnReconnecting { .. } | Cause::VpnLost => {
                E::VpnFailed
            }
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
            Cause::PostureFailed { failing, .. } => format!(
                "This device does not meet the company's requirements ({}).",
                failing.join(", ")
            ),
            Cause::PostureUnknown { unknown } => format!(
                "Postern could not check this device ({}).",
                unknown.join(", ")
            ),
            Cause::VpnFailed { failure } => failure.to_string(),
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
            Cause::PostureFailed { fixes, .. } => fixes.join(" "),
            Cause::PostureUnknown { .. } => {
                "Try again; if it persists, export diagnostics for your helpdesk.".into()
            }
            Cause::VpnFailed { failure } => crate::Problem::next_step(failure),
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

/// What the parts observed.
#[derive(Debug, Clone)]
pub enum Event {
    ConnectRequested(Target),
    SignInNeeded {
        verification_uri: String,
        user_code: Option<String>,
    },
    SignedIn,
    SignInFailed(String),
    Posture(crate::posture::PostureReport),
    Tunnel(TunnelState),
    Egress(crate::egress::Verdict),
    CredentialsIssued {
        expires_at: OffsetDateTime,
    },
    CredentialsExpired,
    DisconnectRequested,
    Disconnected,
}

/// What the orchestrator must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SignIn,
    CheckPosture,
    ConnectVpn(String),
    CheckEgress,
    IssueCredentials,
    /// Forget any credentials held and stop serving them: the gate closed.
    WithdrawCredentials,
    /// Withdraw credentials and take the tunnel down.
    DisconnectVpn,
    Nothing,
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

#[derive(Debug)]
pub struct Session {
    state: SessionState,
    target: Option<Target>,
    posture: crate::posture::Hysteresis,
    egress: Option<IpAddr>,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            state: SessionState::Idle,
            target: None,
            posture: Default::default(),
            egress: None,
        }
    }
}

impl Session {
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    fn go(
        &mut self,
        state: SessionState,
        cause: Cause,
        action: Action,
    ) -> (Option<Transition>, Action) {
        let changed = state != self.state;
        self.state = state.clone();
        let transition = changed.then(|| Transition {
            state,
            cause,
            at: OffsetDateTime::now_utc(),
        });
        (transition, action)
    }

    fn block(&mut self, cause: Cause) -> (Option<Transition>, Action) {
        self.egress = None;
        let withdraw = if self.state.serves_credentials()
            || matches!(self.state, SessionState::Degraded { .. })
        {
            Action::WithdrawCredentials
        } else {
            Action::Nothing
        };
        self.go(
            SessionState::Blocked {
                cause: cause.clone(),
            },
            cause,
            withdraw,
        )
    }

    fn degrade(&mut self, cause: Cause) -> (Option<Transition>, Action) {
        self.egress = None;
        match self.target.clone() {
            Some(target) => self.go(
                SessionState::Degraded {
                    target,
                    cause: cause.clone(),
                },
                cause,
                Action::WithdrawCredentials,
            ),
            None => self.block(cause),
        }
    }

    fn was_ready(&self) -> bool {
        matches!(
            self.state,
            SessionState::Ready { .. } | SessionState::Degraded { .. }
        )
    }

    /// Feeds one observation; returns the transition (if the state changed) and what to do.
    pub fn apply(&mut self, event: Event) -> (Option<Transition>, Action) {
        use crate::posture::Status;
        match event {
            Event::ConnectRequested(target) => {
                self.target = Some(target);
                self.posture = Default::default();
                let state = SessionState::SigningIn {
                    verification_uri: None,
                    user_code: None,
                };
                self.go(state, Cause::ConnectRequested, Action::SignIn)
            }
            Event::SignInNeeded {
                verification_uri,
                user_code,
            } => {
                let state = SessionState::SigningIn {
                    verification_uri: Some(verification_uri),
                    user_code,
                };
                self.go(state, Cause::SignInNeeded, Action::Nothing)
            }
            Event::SignedIn => self.go(
                SessionState::CheckingPosture,
                Cause::ConnectRequested,
                Action::CheckPosture,
            ),
            Event::SignInFailed(detail) => self.block(Cause::SignInFailed { detail }),
            Event::Posture(report) => {
                let cause = match &report.status {
                    Status::Compliant => None,
                    Status::NonCompliant { failing } => Some(Cause::PostureFailed {
                        failing: failing.clone(),
                        fixes: report
                            .checks
                            .iter()
                            .filter_map(|c| match &c.outcome {
                                crate::posture::Outcome::Fail { remediation, .. } => {
                                    Some(remediation.clone())
                                }
                                _ => None,
                            })
                            .collect(),
                    }),
                    Status::Unknown { unknown } => Some(Cause::PostureUnknown {
                        unknown: unknown.clone(),
                    }),
                };
                let act_now = self.posture.observe(&report);
                match (cause, self.was_ready()) {
                    // A connected session survives one failed evaluation (hysteresis).
                    (Some(cause), true) if act_now => self.block(cause),
                    (Some(_), true) => (None, Action::Nothing),
                    (Some(cause), false) => self.block(cause),
                    (None, true) => (None, Action::Nothing),
                    (None, false) => match &self.target {
                        Some(t) => {
                            let profile = t.profile.clone();
                            self.go(
                                SessionState::ConnectingVpn {
                                    profile: profile.clone(),
                                    phase: "START".into(),
                                },
                                Cause::ConnectRequested,
                                Action::ConnectVpn(profile),
                            )
                        }
                        None => (None, Action::Nothing),
                    },
                }
            }
            Event::Tunnel(tunnel) => self.on_tunnel(tunnel),
            Event::Egress(verdict) => match verdict {
                crate::egress::Verdict::Match { address, .. } => {
                    self.egress = Some(address);
                    if self.state.serves_credentials() {
                        (None, Action::Nothing)
                    } else {
                        (None, Action::IssueCredentials)
                    }
                }
                crate::egress::Verdict::Mismatch { address } => {
                    self.block(Cause::EgressMismatch { address })
                }
                crate::egress::Verdict::CountryNotAllowed { address, .. } => {
                    self.block(Cause::EgressMismatch { address })
                }
                crate::egress::Verdict::Undetermined { reason } => {
                    self.block(Cause::EgressUndetermined {
                        detail: reason.to_string(),
                    })
                }
            },
            // Only the issuance this machine asked for (after a matching egress) opens the gate;
            // anything arriving late, after a gate closed, is discarded.
            Event::CredentialsIssued { expires_at } => match (&self.target, self.egress) {
                (Some(target), Some(egress)) if self.state == SessionState::VerifyingEgress => {
                    let state = SessionState::Ready {
                        target: target.clone(),
                        egress,
                        expires_at,
                    };
                    self.go(state, Cause::AllGatesOpen, Action::Nothing)
                }
                _ => (None, Action::WithdrawCredentials),
            },
            Event::CredentialsExpired => self.block(Cause::CredentialsExpired),
            Event::DisconnectRequested => self.go(
                SessionState::Disconnecting,
                Cause::UserDisconnected,
                Action::DisconnectVpn,
            ),
            Event::Disconnected => {
                self.target = None;
                self.egress = None;
                self.go(
                    SessionState::Idle,
                    Cause::UserDisconnected,
                    Action::WithdrawCredentials,
                )
            }
        }
    }

    fn on_tunnel(&mut self, tunnel: TunnelState) -> (Option<Transition>, Action) {
        if matches!(self.state, SessionState::Disconnecting | SessionState::Idle) {
            return (None, Action::Nothing);
        }
        match tunnel {
            TunnelState::Connecting { profile, phase } if !self.was_ready() => self.go(
                SessionState::ConnectingVpn { profile, phase },
                Cause::ConnectRequested,
                Action::Nothing,
            ),
            TunnelState::AwaitingBrowser { url, .. } => self.go(
                SessionState::VpnSignIn { url },
                Cause::ConnectRequested,
                Action::Nothing,
            ),
            TunnelState::Connected { .. } => {
                // Through the tunnel at last (or again): prove the egress before serving anything.
                self.go(
                    SessionState::VerifyingEgress,
                    Cause::ConnectRequested,
                    Action::CheckEgress,
                )
            }
            TunnelState::Reconnecting { attempt, max, .. } => {
                self.degrade(Cause::VpnReconnecting { attempt, max })
            }
            TunnelState::Failed { .. } if self.was_ready() => self.block(Cause::VpnLost),
            TunnelState::Failed { cause, .. } => self.block(Cause::VpnFailed { failure: cause }),
            TunnelState::Disconnected if self.was_ready() => self.block(Cause::VpnLost),
            _ => (None, Action::Nothing),
        }
    }
}

#[cfg(test)]
mod tests;
