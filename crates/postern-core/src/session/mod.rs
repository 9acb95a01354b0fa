//! The one connection state machine. Tray, window, CLI and notifications all render
//! [`SessionState`] and the [`Cause`] of every transition; nothing else keeps its own copy.
//!
//! The machine is pure: the orchestrator feeds it [`Event`]s (what the identity, posture, VPN and
//! egress parts observed) and carries out the [`Action`] it answers with. That keeps every rule
//! ("credentials only when every gate is open", "a VPN drop closes the gate at once", "posture
//! must fail twice") in one tested place.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::policy::access::Gate;
use crate::vpn::tunnel::TunnelState;

pub mod journey;
pub mod notify;
pub mod present;

pub use postern_types::session::*;

/// One Connect, from the request to the next Connect or Disconnect. Every task the orchestrator
/// starts is tagged with the attempt current then; a result tagged with an earlier attempt is
/// dropped, so nothing late can move a newer session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Attempt(pub u64);

/// What the person asks for.
#[derive(Debug, Clone)]
pub enum Request {
    /// Reach Ready for `target`, through the gates the rule requires (sign-in always).
    Connect {
        target: Target,
        require: Vec<Gate>,
    },
    Disconnect,
}

/// What the parts observed, reported by a task of one attempt.
#[derive(Debug, Clone)]
pub enum Event {
    SignInNeeded {
        verification_uri: String,
        user_code: Option<String>,
    },
    SignedIn,
    /// A part stopped with a typed cause (sign-in, vending, the profile store, the helper, a
    /// check that panicked).
    Failed(Cause),
    Posture(crate::posture::PostureReport),
    Tunnel(TunnelState),
    Egress(crate::egress::Verdict),
    CredentialsIssued {
        expires_at: OffsetDateTime,
    },
    CredentialsExpired,
    /// The tunnel is down after a requested disconnect.
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
    /// Take the attempt's tunnel down, then report [`Event::Disconnected`].
    DisconnectVpn,
}

/// What the machine waits for from the current attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    SignIn,
    Posture,
    Tunnel,
    Egress,
    Credentials,
    Disconnect,
}

/// The answer to one input: the transition (if the state changed) and what to do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    pub transition: Option<Transition>,
    pub actions: Vec<Action>,
}

/// What the current attempt itself observed; reset by every Connect.
#[derive(Debug, Default, Clone)]
struct Seen {
    signed_in: bool,
    posture: bool,
    /// The tunnel that is up in this attempt (its profile, address and endpoint): the one the
    /// egress is proved through.
    tunnel: Option<(String, String, String)>,
    /// A tunnel was asked for in this attempt (so Disconnect must take it down).
    tunnel_started: bool,
    egress: Option<IpAddr>,
}

#[derive(Debug)]
pub struct Session {
    state: SessionState,
    attempt: Attempt,
    target: Option<Target>,
    require: Vec<Gate>,
    seen: Seen,
    posture: crate::posture::Hysteresis,
    /// Credentials were asked for or are held (so a closing gate withdraws them).
    credentials: bool,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            state: SessionState::Idle,
            attempt: Attempt::default(),
            target: None,
            require: Vec::new(),
            seen: Seen::default(),
            posture: Default::default(),
            credentials: false,
        }
    }
}

impl Session {
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The attempt whose results are accepted now.
    pub fn attempt(&self) -> Attempt {
        self.attempt
    }

    pub fn requires(&self, gate: Gate) -> bool {
        self.require.contains(&gate)
    }

    /// What the machine waits for, if anything.
    pub fn pending(&self) -> Option<Pending> {
        match self.state {
            SessionState::SigningIn { .. } => Some(Pending::SignIn),
            SessionState::CheckingPosture => Some(Pending::Posture),
            SessionState::ConnectingVpn { .. } | SessionState::VpnSignIn { .. } => {
                Some(Pending::Tunnel)
            }
            SessionState::VerifyingEgress => Some(Pending::Egress),
            SessionState::IssuingCredentials => Some(Pending::Credentials),
            SessionState::Disconnecting => Some(Pending::Disconnect),
            SessionState::Idle
            | SessionState::Ready { .. }
            | SessionState::Degraded { .. }
            | SessionState::Blocked { .. } => None,
        }
    }

    fn go(&mut self, state: SessionState, cause: Cause, actions: Vec<Action>) -> Step {
        let changed = state != self.state;
        self.state = state.clone();
        let transition = changed.then(|| Transition {
            state,
            cause,
            at: OffsetDateTime::now_utc(),
        });
        Step {
            transition,
            actions,
        }
    }

    fn withdraw(&mut self) -> Vec<Action> {
        if std::mem::take(&mut self.credentials) {
            vec![Action::WithdrawCredentials]
        } else {
            Vec::new()
        }
    }

    fn block(&mut self, cause: Cause) -> Step {
        self.seen.egress = None;
        let actions = self.withdraw();
        self.go(
            SessionState::Blocked {
                cause: cause.clone(),
            },
            cause,
            actions,
        )
    }

    fn degrade(&mut self, cause: Cause) -> Step {
        self.seen.egress = None;
        self.seen.tunnel = None;
        let actions = self.withdraw();
        match self.target.clone() {
            Some(target) => self.go(
                SessionState::Degraded {
                    target,
                    cause: cause.clone(),
                },
                cause,
                actions,
            ),
            None => self.block(cause),
        }
    }

    /// The next closed gate the rule requires, or the credentials once every one is open.
    /// Gates the rule does not require are skipped here, never faked.
    fn next_gate(&mut self) -> Step {
        let Some(target) = self.target.clone() else {
            return Step::default();
        };
        if !self.seen.signed_in {
            let state = SessionState::SigningIn {
                verification_uri: None,
                user_code: None,
            };
            return self.go(state, Cause::ConnectRequested, vec![Action::SignIn]);
        }
        if self.requires(Gate::Posture) && !self.seen.posture {
            return self.go(
                SessionState::CheckingPosture,
                Cause::ConnectRequested,
                vec![Action::CheckPosture],
            );
        }
        if self.requires(Gate::Vpn) && self.seen.tunnel.is_none() {
            self.seen.tunnel_started = true;
            return self.go(
                SessionState::ConnectingVpn {
                    profile: target.profile.clone(),
                    phase: "START".into(),
                },
                Cause::ConnectRequested,
                vec![Action::ConnectVpn(target.profile)],
            );
        }
        if self.requires(Gate::Egress) && self.seen.egress.is_none() {
            return self.go(
                SessionState::VerifyingEgress,
                Cause::ConnectRequested,
                vec![Action::CheckEgress],
            );
        }
        self.credentials = true;
        self.go(
            SessionState::IssuingCredentials,
            Cause::ConnectRequested,
            vec![Action::IssueCredentials],
        )
    }

    /// A request from the person: valid in every state.
    pub fn request(&mut self, request: Request) -> Step {
        self.attempt = Attempt(self.attempt.0 + 1);
        let mut withdraw = self.withdraw();
        match request {
            Request::Connect { target, require } => {
                self.target = Some(target);
                self.require = require;
                self.seen = Seen::default();
                self.posture = Default::default();
                let mut step = self.next_gate();
                withdraw.append(&mut step.actions);
                step.actions = withdraw;
                step
            }
            Request::Disconnect => {
                let tunnel = std::mem::take(&mut self.seen.tunnel_started);
                self.target = None;
                self.seen = Seen::default();
                if tunnel {
                    withdraw.push(Action::DisconnectVpn);
                    self.go(
                        SessionState::Disconnecting,
                        Cause::UserDisconnected,
                        withdraw,
                    )
                } else {
                    self.go(SessionState::Idle, Cause::UserDisconnected, withdraw)
                }
            }
        }
    }

    /// A result from a task of `attempt`; dropped unless it is the current attempt's and the
    /// current state expects it.
    pub fn observe(&mut self, attempt: Attempt, event: Event) -> Step {
        // Nothing of an earlier attempt is taken: not even its credentials, which the
        // orchestrator keeps only when this answer opens the gate.
        if attempt != self.attempt {
            return Step::default();
        }
        use SessionState as S;
        let state = self.state.clone();
        match (state, event) {
            (S::Disconnecting, Event::Disconnected) => {
                self.go(S::Idle, Cause::UserDisconnected, Vec::new())
            }
            (
                S::SigningIn { .. },
                Event::SignInNeeded {
                    verification_uri,
                    user_code,
                },
            ) => self.go(
                S::SigningIn {
                    verification_uri: Some(verification_uri),
                    user_code,
                },
                Cause::SignInNeeded,
                Vec::new(),
            ),
            (S::SigningIn { .. }, Event::SignedIn) => {
                self.seen.signed_in = true;
                self.next_gate()
            }
            (
                S::SigningIn { .. }
                | S::CheckingPosture
                | S::ConnectingVpn { .. }
                | S::VpnSignIn { .. }
                | S::VerifyingEgress
                | S::IssuingCredentials
                | S::Ready { .. }
                | S::Degraded { .. },
                Event::Failed(cause),
            ) => self.block(cause),
            (state, Event::Posture(report)) if self.requires(Gate::Posture) => {
                self.on_posture(&state, &report)
            }
            (state, Event::Tunnel(tunnel)) if self.requires(Gate::Vpn) => {
                self.on_tunnel(&state, tunnel)
            }
            (state, Event::Egress(verdict)) if self.requires(Gate::Egress) => {
                self.on_egress(&state, verdict)
            }
            (S::IssuingCredentials, Event::CredentialsIssued { expires_at }) => {
                match self.target.clone() {
                    Some(target) => self.go(
                        S::Ready {
                            target,
                            egress: self.seen.egress,
                            expires_at,
                        },
                        Cause::AllGatesOpen,
                        Vec::new(),
                    ),
                    None => Step::default(),
                }
            }
            // Credentials already served are kept; the extra ones are simply not taken.
            (S::Ready { .. }, Event::CredentialsIssued { .. }) => Step::default(),
            // Credentials nobody asked for now (a gate closed meanwhile) are discarded.
            (_, Event::CredentialsIssued { .. }) => Step {
                transition: None,
                actions: vec![Action::WithdrawCredentials],
            },
            (S::Ready { .. } | S::Degraded { .. }, Event::CredentialsExpired) => {
                self.block(Cause::CredentialsExpired)
            }
            _ => Step::default(),
        }
    }

    fn on_posture(&mut self, state: &SessionState, report: &crate::posture::PostureReport) -> Step {
        use crate::posture::Status;
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
        match state {
            SessionState::CheckingPosture => match cause {
                Some(cause) => self.block(cause),
                None => {
                    self.posture.observe(report);
                    self.seen.posture = true;
                    self.next_gate()
                }
            },
            // A re-check once posture passed: one failed evaluation is survived (hysteresis);
            // it never starts a gate again.
            SessionState::ConnectingVpn { .. }
            | SessionState::VpnSignIn { .. }
            | SessionState::VerifyingEgress
            | SessionState::IssuingCredentials
            | SessionState::Ready { .. }
            | SessionState::Degraded { .. } => {
                let act_now = self.posture.observe(report);
                match cause {
                    Some(cause) if act_now => self.block(cause),
                    _ => Step::default(),
                }
            }
            _ => Step::default(),
        }
    }

    fn on_egress(&mut self, state: &SessionState, verdict: crate::egress::Verdict) -> Step {
        use crate::egress::Verdict;
        // Only a proof asked for (VerifyingEgress) or a re-proof of a Ready session counts; in
        // Degraded the tunnel is down, so what the echoes see proves nothing.
        if !matches!(
            state,
            SessionState::VerifyingEgress | SessionState::Ready { .. }
        ) {
            return Step::default();
        }
        match verdict {
            Verdict::Match { address, .. } => {
                self.seen.egress = Some(address);
                match state {
                    SessionState::Ready {
                        target, expires_at, ..
                    } => {
                        let ready = SessionState::Ready {
                            target: target.clone(),
                            egress: Some(address),
                            expires_at: *expires_at,
                        };
                        self.go(ready, Cause::AllGatesOpen, Vec::new())
                    }
                    _ => self.next_gate(),
                }
            }
            Verdict::Mismatch { address } => self.block(Cause::EgressMismatch { address }),
            Verdict::CountryNotAllowed { address, country } => {
                self.block(Cause::CountryNotAllowed { address, country })
            }
            Verdict::Undetermined { reason } => self.block(Cause::EgressUndetermined {
                detail: reason.to_string(),
            }),
        }
    }

    fn on_tunnel(&mut self, state: &SessionState, tunnel: TunnelState) -> Step {
        use SessionState as S;
        let connecting = matches!(state, S::ConnectingVpn { .. } | S::VpnSignIn { .. });
        let was_ready = matches!(state, S::Ready { .. } | S::Degraded { .. });
        // Past the VPN gate but not yet serving: a drop sends the attempt back to it.
        let past_vpn = matches!(state, S::VerifyingEgress | S::IssuingCredentials);
        match tunnel {
            TunnelState::Connecting { profile, phase } if connecting => self.go(
                S::ConnectingVpn { profile, phase },
                Cause::ConnectRequested,
                Vec::new(),
            ),
            TunnelState::AwaitingBrowser { url, .. } if connecting => {
                self.go(S::VpnSignIn { url }, Cause::ConnectRequested, Vec::new())
            }
            TunnelState::Connected {
                profile,
                tunnel_ip,
                endpoint_ip,
                ..
            } if connecting || was_ready || past_vpn => {
                let through = Some((profile, tunnel_ip, endpoint_ip));
                if self.seen.tunnel == through {
                    // The same tunnel said again (a watch starts with the current state). A
                    // degraded session has none: it proves the egress again.
                    return Step::default();
                }
                // Through a tunnel at last, again, or another one than the egress was proved
                // through: nothing is served until the egress is proved anew.
                self.seen.tunnel = through;
                self.seen.egress = None;
                let withdrawn = self.withdraw();
                let mut step = self.next_gate();
                step.actions.splice(0..0, withdrawn);
                step
            }
            TunnelState::Reconnecting {
                profile,
                attempt,
                max,
                ..
            } if connecting || past_vpn => {
                self.seen.tunnel = None;
                self.seen.egress = None;
                let actions = self.withdraw();
                self.go(
                    S::ConnectingVpn {
                        profile,
                        phase: format!("RECONNECTING {attempt}/{max}"),
                    },
                    Cause::VpnReconnecting { attempt, max },
                    actions,
                )
            }
            TunnelState::Reconnecting { attempt, max, .. } if was_ready => {
                self.degrade(Cause::VpnReconnecting { attempt, max })
            }
            TunnelState::Failed { .. } | TunnelState::Disconnected if was_ready => {
                self.block(Cause::VpnLost)
            }
            TunnelState::Failed { cause, .. } if connecting || past_vpn => {
                self.block(Cause::VpnFailed { failure: cause })
            }
            TunnelState::Disconnected if connecting || past_vpn => self.block(Cause::VpnLost),
            _ => Step::default(),
        }
    }
}

#[cfg(test)]
mod tests;
