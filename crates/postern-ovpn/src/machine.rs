//! One OpenVPN tunnel as a pure machine: management-interface lines (and the helper's own
//! inputs: the browser's SAML answer, a stop, a deadline that passed, the DNS result) in;
//! commands for OpenVPN, states to publish and effects for the helper out. The helper only
//! carries the outputs out, so every rule (bounded reconnects, the SAML retry, AUTH_FAILED with
//! the server's reason) is tested here on recorded transcripts.

use std::time::Duration;

use postern_types::dns::DnsState;
use postern_types::tunnel::{TunnelFailure, TunnelState};

use crate::dns::{LogFact, PushedDns, log_fact};
use crate::management::ManagementLine;
use crate::saml::crv1_password;

/// What the helper gives the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Line(ManagementLine),
    /// The browser's SAML assertion for the endpoint's challenge.
    Assertion(String),
    /// The owner asked for the tunnel to go down.
    Stop,
    /// The deadline the machine armed has passed.
    DeadlinePassed,
    /// What the resolver made of the pushed DNS (after [`Output::ApplyDns`]).
    DnsApplied(DnsState),
}

/// What the helper must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write this to the management interface.
    Send(String),
    Publish(TunnelState),
    /// Hand the push to the resolver for `device`, then report back with [`Input::DnsApplied`].
    ApplyDns {
        device: Option<String>,
        dns: PushedDns,
    },
    /// The tunnel is going: take back whatever DNS was applied to `device`.
    RevertDns {
        device: Option<String>,
    },
    /// The tunnel must be up (or back) within this time from now.
    ArmDeadline(Duration),
    Traffic {
        received: u64,
        sent: u64,
    },
}

/// How the tunnel ended, once OpenVPN has gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stopped,
    Failed(TunnelFailure),
    Exited,
}

/// The limits a tunnel runs under.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_reconnects: u32,
    pub connect_timeout: Duration,
    pub reconnect_timeout: Duration,
    /// `Some` for a SAML (auth-federate) tunnel: the longest CRV1 password the OpenVPN build
    /// can pass (`None` inside: no limit, AWS's build).
    pub federation: Option<Option<usize>>,
}

const SIGTERM: &str = "signal SIGTERM\n";
const HOLD_RELEASE: &str = "hold release\n";
/// What the machine asks for first: states, the log (in order with them), traffic, go.
pub const START: &str = "state on\nlog on\nbytecount 5\nhold release\n";

pub struct TunnelMachine {
    profile: String,
    limits: Limits,
    reconnects: u32,
    failure: Option<TunnelFailure>,
    stopping: bool,
    connected_once: bool,
    /// Whether the armed deadline still matters (waiting for a first connect or a return).
    waiting: bool,
    /// The CRV1 state id of the endpoint's challenge.
    challenge: Option<String>,
    /// The password of the retry, once the browser answered.
    password: Option<String>,
    /// OpenVPN holds for the retry until the answer is there.
    hold_pending: bool,
    device: Option<String>,
    pushed: PushedDns,
    /// CONNECTED's addresses while the DNS is being applied.
    connecting: Option<(String, String)>,
    dns_set: bool,
}

impl TunnelMachine {
    /// A machine for `profile`; the helper sends [`START`] and arms the first deadline.
    pub fn new(profile: &str, limits: Limits) -> (Self, Vec<Output>) {
        let first = Output::ArmDeadline(limits.connect_timeout);
        let machine = TunnelMachine {
            profile: profile.to_string(),
            limits,
            reconnects: 0,
            failure: None,
            stopping: false,
            connected_once: false,
            waiting: true,
            challenge: None,
            password: None,
            hold_pending: false,
            device: None,
            pushed: PushedDns::default(),
            connecting: None,
            dns_set: false,
        };
        (machine, vec![Output::Send(START.into()), first])
    }

    /// Whether a SAML answer is awaited now (the helper takes one only then).
    pub fn wants_assertion(&self) -> bool {
        self.challenge.is_some() && self.password.is_none()
    }

    /// Whether the armed deadline still counts.
    pub fn deadline_counts(&self) -> bool {
        self.waiting && self.failure.is_none() && !self.stopping
    }

    /// Whether a stop would still change anything.
    pub fn stoppable(&self) -> bool {
        !self.stopping
    }

    fn live(&self) -> bool {
        !self.stopping && self.failure.is_none()
    }

    fn publish(&self, state: TunnelState) -> Output {
        Output::Publish(state)
    }

    fn fail(&mut self, failure: TunnelFailure) -> Vec<Output> {
        self.failure = Some(failure);
        vec![Output::Send(SIGTERM.into())]
    }

    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let profile = self.profile.clone();
        match input {
            Input::Assertion(assertion) if self.wants_assertion() => {
                let state_id = self.challenge.clone().unwrap_or_default();
                let password = crv1_password(&state_id, &assertion);
                if let Some(limit) = self.limits.federation.flatten()
                    && password.len() > limit
                {
                    return self.fail(TunnelFailure::SamlAssertionTooLarge {
                        length: password.len(),
                        limit,
                    });
                }
                self.password = Some(password);
                let mut out = vec![self.publish(TunnelState::Connecting {
                    profile,
                    phase: "AUTH".into(),
                })];
                if std::mem::take(&mut self.hold_pending) {
                    out.push(Output::Send(HOLD_RELEASE.into()));
                }
                out
            }
            Input::Assertion(_) => Vec::new(),
            Input::Stop if !self.stopping => {
                self.stopping = true;
                vec![
                    self.publish(TunnelState::Disconnecting { profile }),
                    Output::Send(SIGTERM.into()),
                ]
            }
            Input::Stop => Vec::new(),
            Input::DeadlinePassed if self.deadline_counts() => {
                let failure = if self.connected_once {
                    TunnelFailure::ConnectionLost {
                        attempts: self.reconnects,
                    }
                } else {
                    TunnelFailure::Fatal {
                        message: "no connection to the VPN endpoint within the time limit".into(),
                    }
                };
                self.fail(failure)
            }
            Input::DeadlinePassed => Vec::new(),
            Input::DnsApplied(dns) => {
                let Some((tunnel_ip, endpoint_ip)) = self.connecting.take() else {
                    return Vec::new();
                };
                self.dns_set |= !matches!(dns, DnsState::NotPushed);
                if !self.live() {
                    return Vec::new();
                }
                vec![self.publish(TunnelState::Connected {
                    profile,
                    tunnel_ip,
                    endpoint_ip,
                    dns,
                })]
            }
            Input::Line(line) => self.line(line),
        }
    }

    fn line(&mut self, line: ManagementLine) -> Vec<Output> {
        let profile = self.profile.clone();
        match line {
            ManagementLine::Hold if self.live() => {
                if self.wants_assertion() {
                    // The retry must wait for the browser's answer.
                    self.hold_pending = true;
                    Vec::new()
                } else {
                    vec![Output::Send(HOLD_RELEASE.into())]
                }
            }
            ManagementLine::State {
                name,
                detail,
                tunnel_ip,
                remote_ip,
            } => self.state(&name, detail, tunnel_ip, remote_ip),
            ManagementLine::AuthFailed { reason } if self.failure.is_none() => {
                self.fail(TunnelFailure::Denied { reason })
            }
            ManagementLine::Challenge { state_id, url }
                if self.failure.is_none()
                    && self.limits.federation.is_some()
                    && self.password.is_none() =>
            {
                self.challenge = Some(state_id);
                vec![
                    Output::ArmDeadline(self.limits.connect_timeout),
                    self.publish(TunnelState::AwaitingBrowser { profile, url }),
                ]
            }
            ManagementLine::Challenge { .. } if self.failure.is_none() => {
                let failure = if self.password.is_some() {
                    TunnelFailure::Denied {
                        reason: Some("the VPN endpoint did not accept the sign-in".into()),
                    }
                } else {
                    TunnelFailure::SamlUnsupported
                };
                self.fail(failure)
            }
            ManagementLine::NeedPassword
                if self.failure.is_none() && self.limits.federation.is_some() =>
            {
                // First attempt: announce the ACS port; retry: the CRV1 answer.
                let password = self.password.clone().unwrap_or_else(|| "ACS::35001".into());
                vec![Output::Send(format!(
                    "username \"Auth\" \"N/A\"\npassword \"Auth\" \"{}\"\n",
                    password.replace('\\', "\\\\").replace('"', "\\\"")
                ))]
            }
            ManagementLine::NeedPassword if self.failure.is_none() => {
                self.fail(TunnelFailure::PasswordUnsupported)
            }
            ManagementLine::ByteCount { received, sent } => {
                vec![Output::Traffic { received, sent }]
            }
            ManagementLine::Fatal(message) if self.failure.is_none() => {
                self.failure = Some(TunnelFailure::Fatal { message });
                Vec::new()
            }
            ManagementLine::Log(message) => {
                match log_fact(&message) {
                    Some(LogFact::Pushed(dns)) => self.pushed = dns,
                    Some(LogFact::Device(name)) => self.device = Some(name),
                    None => {}
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn state(
        &mut self,
        name: &str,
        detail: String,
        tunnel_ip: String,
        remote_ip: String,
    ) -> Vec<Output> {
        let profile = self.profile.clone();
        match name {
            "CONNECTED" if self.live() => {
                self.connected_once = true;
                self.waiting = false;
                self.reconnects = 0;
                // Published once the resolver has the push (read again after a reconnect).
                self.connecting = Some((tunnel_ip, remote_ip));
                vec![Output::ApplyDns {
                    device: self.device.clone(),
                    dns: self.pushed.clone(),
                }]
            }
            // The SAML challenge ends the first attempt with auth-failure by design.
            "RECONNECTING" if self.challenge.is_some() && detail == "auth-failure" => Vec::new(),
            "RECONNECTING" if self.live() => {
                self.reconnects += 1;
                let mut out = Vec::new();
                if !self.waiting {
                    self.waiting = true;
                    out.push(Output::ArmDeadline(self.limits.reconnect_timeout));
                }
                if self.reconnects > self.limits.max_reconnects {
                    out.extend(self.fail(TunnelFailure::ConnectionLost {
                        attempts: self.reconnects - 1,
                    }));
                } else {
                    out.push(self.publish(TunnelState::Reconnecting {
                        profile,
                        attempt: self.reconnects,
                        max: self.limits.max_reconnects,
                        reason: detail,
                    }));
                }
                out
            }
            "EXITING" => Vec::new(),
            phase if self.live() && !self.connected_once => {
                vec![self.publish(TunnelState::Connecting {
                    profile,
                    phase: phase.to_string(),
                })]
            }
            _ => Vec::new(),
        }
    }

    /// OpenVPN closed its management interface: what to undo, and how the tunnel ended.
    pub fn finish(&mut self) -> (Vec<Output>, Outcome) {
        let undo = if self.dns_set {
            vec![Output::RevertDns {
                device: self.device.clone(),
            }]
        } else {
            Vec::new()
        };
        let outcome = match self.failure.clone() {
            Some(f) => Outcome::Failed(f),
            None if self.stopping => Outcome::Stopped,
            None => Outcome::Exited,
        };
        (undo, outcome)
    }
}

#[cfg(test)]
mod tests;
