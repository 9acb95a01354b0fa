//! The journey, told from the session machine's own transitions.

use super::*;
use crate::session::journey::{self, JourneyTracker, StepName, StepStatus};

/// A session and the journey tracking it, fed every transition the machine makes.
struct Run {
    session: Session,
    journey: JourneyTracker,
}

impl Run {
    fn new() -> Self {
        Self {
            session: Session::default(),
            journey: JourneyTracker::default(),
        }
    }

    fn feed(&mut self, step: Step) -> Vec<Action> {
        if let Some(t) = &step.transition {
            self.journey.on_transition(t);
        }
        step.actions
    }

    fn connect(&mut self, require: &[Gate]) -> Vec<Action> {
        let step = connect(&mut self.session, require);
        self.feed(step)
    }

    fn event(&mut self, event: Event) -> Vec<Action> {
        let step = now(&mut self.session, event);
        self.feed(step)
    }

    /// The VPN and the egress proved and the credentials issued, after the sign-in.
    fn through_the_vpn_to_ready(&mut self) {
        self.event(Event::SignedIn);
        self.event(Event::Tunnel(connected()));
        self.event(Event::Egress(nat_match()));
        self.event(issued());
        assert!(self.session.state().serves_credentials());
    }

    /// No step failed or waits: each is done, or not required.
    fn assert_all_passed(&self) {
        assert!(
            self.statuses()
                .iter()
                .all(|(_, s)| matches!(s, StepStatus::Done | StepStatus::Skipped)),
            "{:?}",
            self.statuses()
        );
    }

    fn statuses(&self) -> Vec<(StepName, StepStatus)> {
        self.journey
            .journey()
            .steps
            .iter()
            .map(|s| (s.name, s.status))
            .collect()
    }

    fn step(&self, name: StepName) -> &journey::Step {
        self.journey
            .journey()
            .steps
            .iter()
            .find(|s| s.name == name)
            .unwrap()
    }
}

use StepName::{Credentials, Device, Network, SignIn, Vpn};
use StepStatus::{Done, Failed, Pending, Running, Skipped};

#[test]
fn before_any_connect_there_is_no_journey() {
    let mut tracker = JourneyTracker::default();
    tracker.on_transition(&Transition {
        state: SessionState::Idle,
        cause: Cause::UserDisconnected,
        at: OffsetDateTime::now_utc(),
    });
    assert!(tracker.journey().steps.is_empty());
}

#[test]
fn every_gate_runs_in_order_and_ends_done_with_its_time() {
    let mut run = Run::new();
    run.connect(&[Gate::Posture, Gate::Vpn, Gate::Egress]);
    assert_eq!(
        run.statuses(),
        [
            (SignIn, Running),
            (Device, Pending),
            (Vpn, Pending),
            (Network, Pending),
            (Credentials, Pending)
        ]
    );
    assert!(run.step(SignIn).started_at.is_some());
    run.event(Event::SignedIn);
    assert_eq!(run.statuses()[..2], [(SignIn, Done), (Device, Running)]);
    assert!(run.step(SignIn).elapsed_ms.is_some());
    run.event(Event::Posture(posture(true)));
    run.event(Event::Tunnel(connected()));
    assert_eq!(run.statuses()[2..4], [(Vpn, Done), (Network, Running)]);
    run.event(Event::Egress(nat_match()));
    run.event(issued());
    run.assert_all_passed();
    assert!(
        run.journey
            .journey()
            .steps
            .iter()
            .all(|s| s.elapsed_ms.is_some() && s.reason.is_none())
    );
}

#[test]
fn gates_the_rule_does_not_require_are_skipped_not_faked() {
    let mut run = Run::new();
    run.connect(&[Gate::Vpn]);
    run.event(Event::SignedIn);
    assert_eq!(
        run.statuses()[..3],
        [(SignIn, Done), (Device, Skipped), (Vpn, Running)]
    );
    run.event(Event::Tunnel(connected()));
    run.event(issued());
    assert_eq!(
        run.statuses(),
        [
            (SignIn, Done),
            (Device, Skipped),
            (Vpn, Done),
            (Network, Skipped),
            (Credentials, Done)
        ]
    );
}

#[test]
fn the_failing_step_holds_the_cause_and_its_next_step() {
    let mut run = Run::new();
    run.connect(&[Gate::Vpn]);
    run.event(Event::SignedIn);
    run.event(Event::Failed(Cause::HelperUnavailable {
        detail: "no socket".into(),
        trouble: Default::default(),
    }));
    let vpn = run.step(Vpn);
    assert_eq!(vpn.status, Failed);
    assert!(vpn.reason.as_deref().unwrap().contains("helper"), "{vpn:?}");
    assert!(vpn.next_step.is_some());
    assert_eq!(
        run.step(Credentials).status,
        Pending,
        "later steps never ran"
    );
    // Connect again: a fresh journey.
    run.connect(&[Gate::Vpn]);
    assert_eq!(run.step(Vpn).status, Pending);
    assert_eq!(run.step(Vpn).reason, None);
}

#[test]
fn a_vpn_drop_after_ready_fails_the_vpn_step_and_a_reconnect_brings_it_back() {
    let mut run = Run::new();
    run.connect(&[Gate::Vpn, Gate::Egress]);
    run.through_the_vpn_to_ready();
    run.event(Event::Tunnel(TunnelState::Reconnecting {
        profile: "corp".into(),
        attempt: 1,
        max: 3,
        reason: "ping-restart".into(),
    }));
    assert_eq!(run.step(Vpn).status, Failed, "{:?}", run.statuses());
    assert_eq!(run.step(SignIn).status, Done, "what came before stays done");
    assert_eq!(
        run.statuses()[3..],
        [(Network, Pending), (Credentials, Pending)],
        "what came after waits again: the credentials were withdrawn"
    );
    run.event(Event::Tunnel(connected()));
    // Back through the network proof: the VPN step is passed again.
    assert_eq!(run.step(Vpn).status, Done, "{:?}", run.statuses());
    run.event(Event::Egress(nat_match()));
    run.event(issued());
    run.assert_all_passed();
}

#[test]
fn a_disconnect_clears_the_journey() {
    let mut run = Run::new();
    run.connect(&[Gate::Vpn, Gate::Egress]);
    run.through_the_vpn_to_ready();
    let step = run.session.request(Request::Disconnect);
    run.feed(step);
    run.event(Event::Disconnected);
    assert_eq!(run.session.state(), &SessionState::Idle);
    assert!(
        run.journey.journey().steps.is_empty(),
        "{:?}",
        run.statuses()
    );
}

#[test]
fn every_cause_belongs_to_a_step() {
    assert_eq!(StepName::of_cause(&Cause::VpnLost), Vpn);
    assert_eq!(
        StepName::of_cause(&Cause::PostureUnknown { unknown: vec![] }),
        Device
    );
    assert_eq!(
        StepName::of_cause(&Cause::EgressUndetermined {
            detail: String::new()
        }),
        Network
    );
    assert_eq!(StepName::of_cause(&Cause::SignInNeeded), SignIn);
}
