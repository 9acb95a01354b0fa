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

use crate::policy::access::Gate;
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
        failure: crate::vpn::saml::SamlError,
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
            Cause::HelperUnavailable { detail } => {
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
            Cause::HelperUnavailable { .. } => {
                "Start the Postern VPN helper (or reinstall Postern), then click Connect.".into()
            }
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

/// A change of state, as the tray, the window and notifications receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub state: SessionState,
    pub cause: Cause,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
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
    tunnel: bool,
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
        self.seen.tunnel = false;
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
        if self.requires(Gate::Vpn) && !self.seen.tunnel {
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
            TunnelState::Connected { .. } if connecting || matches!(state, S::Degraded { .. }) => {
                // Through the tunnel at last (or again): the egress is proved anew.
                self.seen.tunnel = true;
                self.seen.egress = None;
                self.next_gate()
            }
            TunnelState::Reconnecting {
                profile,
                attempt,
                max,
                ..
            } if connecting || past_vpn => {
                self.seen.tunnel = false;
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
