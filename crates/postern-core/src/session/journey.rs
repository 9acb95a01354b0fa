//! Connect as the person lives it: sign-in → this device → VPN → network → credentials, each
//! pending, running, done, skipped (the policy does not require it) or failed with its cause and
//! next step, and how long it took. Built from the machine's transitions alone (pure), so the
//! window, the tray and the CLI tell the same story.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Cause, SessionState, Transition};

/// The five steps of Connect, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum StepName {
    SignIn,
    Device,
    Vpn,
    Network,
    Credentials,
}

impl StepName {
    pub const ALL: [StepName; 5] = [
        StepName::SignIn,
        StepName::Device,
        StepName::Vpn,
        StepName::Network,
        StepName::Credentials,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The step a state is part of; `None` for the states around Connect.
    pub fn of_state(state: &SessionState) -> Option<StepName> {
        match state {
            SessionState::SigningIn { .. } => Some(StepName::SignIn),
            SessionState::CheckingPosture => Some(StepName::Device),
            SessionState::ConnectingVpn { .. } | SessionState::VpnSignIn { .. } => {
                Some(StepName::Vpn)
            }
            SessionState::VerifyingEgress => Some(StepName::Network),
            SessionState::IssuingCredentials => Some(StepName::Credentials),
            _ => None,
        }
    }

    /// The step a cause stops, for a session stopped before any step ran, or paused after.
    pub fn of_cause(cause: &Cause) -> StepName {
        match cause {
            Cause::ConnectRequested
            | Cause::SignInNeeded
            | Cause::SignInFailed { .. }
            | Cause::KeychainUnavailable { .. }
            | Cause::KeychainLocked { .. }
            | Cause::IdentityCenterUnreachable { .. }
            | Cause::IdentityCenterFault { .. }
            | Cause::IdentityCenterDenied { .. }
            | Cause::RoleNotGranted { .. } => StepName::SignIn,
            Cause::PostureFailed { .. } | Cause::PostureUnknown { .. } => StepName::Device,
            Cause::ProfileStoreUnreadable { .. }
            | Cause::HelperUnavailable { .. }
            | Cause::HelperVersion { .. }
            | Cause::VpnFailed { .. }
            | Cause::VpnSignInFailed { .. }
            | Cause::VpnReconnecting { .. }
            | Cause::VpnLost => StepName::Vpn,
            Cause::EgressMismatch { .. }
            | Cause::CountryNotAllowed { .. }
            | Cause::CountryDatabaseUnreadable { .. }
            | Cause::EgressUndetermined { .. } => StepName::Network,
            Cause::ScopeDownRefused { .. }
            | Cause::CredentialsExpired
            | Cause::AllGatesOpen
            | Cause::UserDisconnected
            | Cause::Internal { .. } => StepName::Credentials,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    /// The policy's rule does not require this gate: not faked, not run.
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub name: StepName,
    pub status: StepStatus,
    /// When it began running (the window counts a running step's time from it).
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub started_at: Option<OffsetDateTime>,
    /// How long it took, once it ended.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub elapsed_ms: Option<u64>,
    /// Why it failed (or is paused), and what to do: the cause's own sentence and next step.
    pub reason: Option<String>,
    pub next_step: Option<String>,
}

impl Step {
    fn pending(name: StepName) -> Self {
        Self {
            name,
            status: StepStatus::Pending,
            started_at: None,
            elapsed_ms: None,
            reason: None,
            next_step: None,
        }
    }
}

/// The steps of the latest Connect; empty before the first one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Journey {
    pub steps: Vec<Step>,
}

/// Follows the transitions and keeps the journey of the latest Connect.
#[derive(Debug, Default)]
pub struct JourneyTracker {
    journey: Journey,
    previous: Option<SessionState>,
}

fn millis(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

impl JourneyTracker {
    pub fn journey(&self) -> &Journey {
        &self.journey
    }

    /// The journey after this transition. A Connect starts when a step begins from a state
    /// that is not part of one (nothing yet, idle, blocked, ready, disconnecting); a step that
    /// begins after a pause (a VPN reconnecting) carries on the same journey.
    pub fn on_transition(&mut self, t: &Transition) -> &Journey {
        let step = StepName::of_state(&t.state);
        let starts = step.is_some()
            && !matches!(
                &self.previous,
                Some(previous) if StepName::of_state(previous).is_some()
                    || matches!(previous, SessionState::Degraded { .. })
            );
        self.previous = Some(t.state.clone());
        if starts {
            self.journey.steps = StepName::ALL.into_iter().map(Step::pending).collect();
        }
        if self.journey.steps.is_empty() {
            // Nothing of a Connect to show (the app's first state).
            return &self.journey;
        }
        match &t.state {
            SessionState::Ready { .. } => self.finish_before(StepName::ALL.len(), t.at),
            SessionState::Degraded { cause, .. } | SessionState::Blocked { cause } => {
                self.stop(cause, t.at)
            }
            SessionState::Idle if t.cause == Cause::UserDisconnected => {
                self.journey.steps.clear();
            }
            _ => {
                if let Some(name) = step {
                    self.enter(name, t.at);
                }
            }
        }
        &self.journey
    }

    /// `name` begins: the steps before it end (done when they ran, skipped when they never did).
    fn enter(&mut self, name: StepName, at: OffsetDateTime) {
        let index = name.index();
        self.finish_before(index, at);
        if let Some(step) = self.journey.steps.get_mut(index)
            && step.status != StepStatus::Running
        {
            step.status = StepStatus::Running;
            step.started_at = Some(at);
            step.elapsed_ms = None;
            step.reason = None;
            step.next_step = None;
        }
    }

    fn finish_before(&mut self, end: usize, at: OffsetDateTime) {
        for step in self.journey.steps.iter_mut().take(end) {
            match step.status {
                StepStatus::Running => {
                    step.status = StepStatus::Done;
                    step.elapsed_ms = step.started_at.map(|s| millis(s, at));
                }
                StepStatus::Pending => step.status = StepStatus::Skipped,
                // Passed since it failed (a VPN that reconnected): its gate is open again.
                StepStatus::Failed => {
                    step.status = StepStatus::Done;
                    step.reason = None;
                    step.next_step = None;
                }
                StepStatus::Done | StepStatus::Skipped => {}
            }
        }
    }

    /// The session stopped (or paused) for `cause`: the running step fails with it; with none
    /// running, the step the cause belongs to.
    fn stop(&mut self, cause: &Cause, at: OffsetDateTime) {
        let running = self
            .journey
            .steps
            .iter()
            .position(|s| s.status == StepStatus::Running);
        let index = running.unwrap_or_else(|| StepName::of_cause(cause).index());
        if let Some(step) = self.journey.steps.get_mut(index) {
            // Its time is the time it ran: a gate that closes later (a VPN that drops after
            // Ready) did not take that long.
            if step.status == StepStatus::Running {
                step.elapsed_ms = step.started_at.map(|s| millis(s, at));
            }
            step.status = StepStatus::Failed;
            step.reason = Some(crate::l10n::sentence(cause));
            step.next_step = crate::l10n::next_step(cause);
        }
        // What came after a gate that closed is no longer done (the credentials were withdrawn):
        // it waits to run again.
        for later in self.journey.steps.iter_mut().skip(index + 1) {
            if later.status == StepStatus::Done {
                later.status = StepStatus::Pending;
                later.elapsed_ms = None;
            }
        }
    }
}
