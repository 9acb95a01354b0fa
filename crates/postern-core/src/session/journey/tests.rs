//! The journey, told from the session machine's own transitions.

use std::time::Duration;

use time::OffsetDateTime;

use super::super::{Action, Event, Gate, Request, Session, Target};
use super::*;
use crate::egress::Verdict;
use crate::posture::{self, Facts, Reading, Requirements};
use crate::vpn::tunnel::TunnelState;

fn target() -> Target {
    Target {
        profile: "corp".into(),
        account: "111122223333".into(),
        role: "Developer".into(),
    }
}

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

    fn feed(&mut self, step: super::super::Step) -> Vec<Action> {
        if let Some(t) = &step.transition {
            self.journey.on_transition(t);
        }
        step.actions
    }

    fn connect(&mut self, require: &[Gate]) -> Vec<Action> {
        let step = self.session.request(Request::Connect {
            target: target(),
            require: require.to_vec(),
        });
        self.feed(step)
    }

    fn event(&mut self, event: Event) -> Vec<Action> {
        let attempt = self.session.attempt();
        let step = self.session.observe(attempt, event);
        self.feed(step)
    }

    fn statuses(&self) -> Vec<(StepName, StepStatus)> {
        self.journey
            .journey()
            .steps
            .iter()
            .map(|s| (s.name, s.status))
            .collect()
    }

    fn step(&self, name: StepName) -> &Step {
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

fn na<T>() -> Reading<T> {
    Reading::Unknown(posture::UnknownReason::NotApplicable)
}

fn compliant() -> crate::posture::PostureReport {
    let facts = Facts {
        os_version: na(),
        disk_encrypted: na(),
        firewall_on: Reading::Value(true),
        running: na(),
        screen_lock: na(),
        secure_boot: na(),
        system_integrity: na(),
        managed: na(),
    };
    let req = Requirements {
        require_firewall: true,
        ..Requirements::default()
    };
    posture::evaluate(&req, &facts, Duration::ZERO)
}

fn connected() -> Event {
    Event::Tunnel(TunnelState::Connected {
        profile: "corp".into(),
        tunnel_ip: "10.200.0.2".into(),
        endpoint_ip: "203.0.113.20".into(),
        dns: Default::default(),
    })
}

fn nat() -> Event {
    Event::Egress(Verdict::Match {
        address: "203.0.113.10".parse().unwrap(),
        nat: "203.0.113.10/32".parse().unwrap(),
        country: None,
    })
}

fn issued() -> Event {
    Event::CredentialsIssued {
        expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
    }
}

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
    run.event(Event::Posture(compliant()));
    run.event(connected());
    assert_eq!(run.statuses()[2..4], [(Vpn, Done), (Network, Running)]);
    run.event(nat());
    run.event(issued());
    assert!(
        run.statuses()
            .iter()
            .all(|(_, s)| matches!(s, Done | Skipped)),
        "{:?}",
        run.statuses()
    );
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
    run.event(connected());
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
    run.event(Event::SignedIn);
    run.event(connected());
    run.event(nat());
    run.event(issued());
    assert!(run.session.state().serves_credentials());
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
    run.event(connected());
    // Back through the network proof: the VPN step is passed again.
    assert_eq!(run.step(Vpn).status, Done, "{:?}", run.statuses());
    run.event(nat());
    run.event(issued());
    assert!(
        run.statuses()
            .iter()
            .all(|(_, s)| matches!(s, Done | Skipped)),
        "{:?}",
        run.statuses()
    );
}

#[test]
fn a_disconnect_clears_the_journey() {
    let mut run = Run::new();
    run.connect(&[]);
    run.event(Event::SignedIn);
    run.event(issued());
    let step = run.session.request(Request::Disconnect);
    run.feed(step);
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
