//! The rules of the gate, one scenario each, and properties over random event sequences.

use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::egress::{Undetermined, Verdict};
use crate::posture::{self, Facts, Reading, Requirements};
use crate::vpn::tunnel::TunnelFailure;

mod journey;
mod properties;
mod races;

fn target() -> Target {
    Target {
        profile: "corp".into(),
        account: "111122223333".into(),
        role: "Developer".into(),
    }
}

const ALL: [Gate; 3] = [Gate::Posture, Gate::Vpn, Gate::Egress];

fn connect(s: &mut Session, require: &[Gate]) -> Step {
    s.request(Request::Connect {
        target: target(),
        require: require.to_vec(),
    })
}

/// An observation from the session's current attempt.
fn now(s: &mut Session, event: Event) -> Step {
    let attempt = s.attempt();
    s.observe(attempt, event)
}

fn na<T>() -> Reading<T> {
    Reading::Unknown(posture::UnknownReason::NotApplicable)
}

fn posture(firewall_on: bool) -> crate::posture::PostureReport {
    let req = Requirements {
        require_firewall: true,
        ..Requirements::default()
    };
    let facts = Facts {
        os_version: na(),
        disk_encrypted: na(),
        firewall_on: Reading::Value(firewall_on),
        running: na(),
        screen_lock: na(),
        secure_boot: na(),
        system_integrity: na(),
        managed: na(),
    };
    posture::evaluate(&req, &facts, Duration::ZERO)
}

fn connected() -> TunnelState {
    TunnelState::Connected {
        profile: "corp".into(),
        tunnel_ip: "10.200.0.2".into(),
        endpoint_ip: "203.0.113.20".into(),
        dns: Default::default(),
    }
}

fn nat_match() -> Verdict {
    Verdict::Match {
        address: "203.0.113.10".parse().unwrap(),
        nat: "203.0.113.10/32".parse().unwrap(),
        country: None,
    }
}

fn issued() -> Event {
    Event::CredentialsIssued {
        expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
    }
}

/// Drives a session to Ready through every gate, checking the action asked at each step.
fn ready() -> Session {
    let mut s = Session::default();
    assert_eq!(connect(&mut s, &ALL).actions, vec![Action::SignIn]);
    assert_eq!(
        now(&mut s, Event::SignedIn).actions,
        vec![Action::CheckPosture]
    );
    assert_eq!(
        now(&mut s, Event::Posture(posture(true))).actions,
        vec![Action::ConnectVpn("corp".into())]
    );
    assert_eq!(
        now(&mut s, Event::Tunnel(connected())).actions,
        vec![Action::CheckEgress]
    );
    assert!(
        !s.state().serves_credentials(),
        "VPN up is not enough: egress first"
    );
    assert_eq!(
        now(&mut s, Event::Egress(nat_match())).actions,
        vec![Action::IssueCredentials]
    );
    let step = now(&mut s, issued());
    assert_eq!(step.transition.unwrap().cause, Cause::AllGatesOpen);
    assert!(s.state().serves_credentials());
    s
}

#[test]
fn credentials_only_after_every_gate() {
    let s = ready();
    match s.state() {
        SessionState::Ready { egress, .. } => {
            assert_eq!(*egress, Some("203.0.113.10".parse().unwrap()))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gates_the_rule_does_not_require_are_skipped_not_faked() {
    let mut s = Session::default();
    assert_eq!(connect(&mut s, &[]).actions, vec![Action::SignIn]);
    // Straight from the sign-in to the credentials: no posture, tunnel or echo is asked for.
    assert_eq!(
        now(&mut s, Event::SignedIn).actions,
        vec![Action::IssueCredentials]
    );
    assert_eq!(s.state(), &SessionState::IssuingCredentials);
    now(&mut s, issued());
    match s.state() {
        SessionState::Ready { egress, .. } => assert_eq!(*egress, None),
        other => panic!("{other:?}"),
    }
    // Only the VPN: posture and egress are skipped, the tunnel is not.
    let mut s = Session::default();
    connect(&mut s, &[Gate::Vpn]);
    assert_eq!(
        now(&mut s, Event::SignedIn).actions,
        vec![Action::ConnectVpn("corp".into())]
    );
    assert_eq!(
        now(&mut s, Event::Tunnel(connected())).actions,
        vec![Action::IssueCredentials]
    );
    // Observations of gates not required change nothing (nobody asked for them).
    let mut s = Session::default();
    connect(&mut s, &[]);
    now(&mut s, Event::SignedIn);
    now(&mut s, issued());
    assert_eq!(now(&mut s, Event::Posture(posture(false))), Step::default());
    assert_eq!(
        now(
            &mut s,
            Event::Egress(Verdict::Mismatch {
                address: "198.51.100.1".parse().unwrap()
            })
        ),
        Step::default()
    );
    assert!(s.state().serves_credentials());
}

#[test]
fn a_vpn_drop_closes_the_gate_at_once_and_recovery_reverifies_egress() {
    let mut s = ready();
    let step = now(
        &mut s,
        Event::Tunnel(TunnelState::Reconnecting {
            profile: "corp".into(),
            attempt: 1,
            max: 3,
            reason: "ping-restart".into(),
        }),
    );
    assert_eq!(step.actions, vec![Action::WithdrawCredentials]);
    assert!(matches!(
        step.transition.unwrap().cause,
        Cause::VpnReconnecting { attempt: 1, max: 3 }
    ));
    assert!(!s.state().serves_credentials());
    // The echoes while the tunnel is down prove nothing and are not taken.
    assert_eq!(now(&mut s, Event::Egress(nat_match())), Step::default());
    assert_eq!(
        now(&mut s, Event::Tunnel(connected())).actions,
        vec![Action::CheckEgress]
    );
    assert_eq!(
        now(&mut s, Event::Egress(nat_match())).actions,
        vec![Action::IssueCredentials]
    );
}

#[test]
fn the_same_tunnel_said_again_changes_nothing_and_another_one_is_proved_anew() {
    let mut s = ready();
    // A watch of the helper begins with the current state: the same tunnel, nothing to do.
    assert_eq!(now(&mut s, Event::Tunnel(connected())), Step::default());
    assert!(s.state().serves_credentials());
    // Another endpoint than the egress was proved through: withdrawn until proved again.
    let elsewhere = TunnelState::Connected {
        profile: "corp".into(),
        tunnel_ip: "10.200.0.2".into(),
        endpoint_ip: "198.51.100.99".into(),
        dns: Default::default(),
    };
    let step = now(&mut s, Event::Tunnel(elsewhere));
    assert_eq!(
        step.actions,
        vec![Action::WithdrawCredentials, Action::CheckEgress]
    );
    assert!(!s.state().serves_credentials());
    assert_eq!(
        now(&mut s, Event::Egress(nat_match())).actions,
        vec![Action::IssueCredentials]
    );
}

#[test]
fn late_credentials_after_a_drop_do_not_reopen_the_gate() {
    let mut s = ready();
    now(
        &mut s,
        Event::Tunnel(TunnelState::Failed {
            profile: "corp".into(),
            cause: TunnelFailure::ConnectionLost { attempts: 3 },
        }),
    );
    let step = now(&mut s, issued());
    assert_eq!(step.actions, vec![Action::WithdrawCredentials]);
    assert!(!s.state().serves_credentials());
}

#[test]
fn a_lost_vpn_blocks_with_its_reason() {
    let mut s = ready();
    let step = now(
        &mut s,
        Event::Tunnel(TunnelState::Failed {
            profile: "corp".into(),
            cause: TunnelFailure::ConnectionLost { attempts: 3 },
        }),
    );
    assert_eq!(step.actions, vec![Action::WithdrawCredentials]);
    let t = step.transition.unwrap();
    assert_eq!(t.cause, Cause::VpnLost);
    assert!(t.cause.next_step().contains("Connect"));
}

#[test]
fn egress_through_the_wrong_address_never_opens_the_gate() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    now(&mut s, Event::SignedIn);
    now(&mut s, Event::Posture(posture(true)));
    now(&mut s, Event::Tunnel(connected()));
    let step = now(
        &mut s,
        Event::Egress(Verdict::Mismatch {
            address: "198.51.100.10".parse().unwrap(),
        }),
    );
    assert!(!step.actions.contains(&Action::IssueCredentials));
    assert!(
        step.transition
            .unwrap()
            .cause
            .sentence()
            .contains("198.51.100.10")
    );
    // Credentials issued anyway (a race) are discarded, not served.
    let step = now(&mut s, issued());
    assert!(!s.state().serves_credentials());
    assert_eq!(step.actions, vec![Action::WithdrawCredentials]);
}

#[test]
fn an_undetermined_egress_blocks() {
    let mut s = Session::default();
    connect(&mut s, &[Gate::Egress]);
    now(&mut s, Event::SignedIn);
    let undetermined = Verdict::Undetermined {
        reason: Undetermined::BelowQuorum {
            agreeing: 1,
            quorum: 2,
        },
    };
    now(&mut s, Event::Egress(undetermined));
    assert!(matches!(
        s.state(),
        SessionState::Blocked {
            cause: Cause::EgressUndetermined { .. }
        }
    ));
}

#[test]
fn a_country_not_allowed_is_its_own_cause() {
    let mut s = Session::default();
    connect(&mut s, &[Gate::Egress]);
    now(&mut s, Event::SignedIn);
    let step = now(
        &mut s,
        Event::Egress(Verdict::CountryNotAllowed {
            address: "203.0.113.10".parse().unwrap(),
            country: "FR".into(),
        }),
    );
    let cause = step.transition.unwrap().cause;
    assert!(
        matches!(cause, Cause::CountryNotAllowed { .. }),
        "{cause:?}"
    );
    assert!(cause.sentence().contains("FR"), "{}", cause.sentence());
    assert!(!cause.sentence().contains("not through the company NAT"));
    assert_eq!(cause.exit_code(), crate::ExitCode::EgressMismatch);
}

#[test]
fn posture_must_fail_twice_before_a_ready_session_is_torn_down() {
    let mut s = ready();
    assert_eq!(now(&mut s, Event::Posture(posture(false))), Step::default());
    assert!(s.state().serves_credentials());
    assert_eq!(now(&mut s, Event::Posture(posture(true))), Step::default());
    assert_eq!(now(&mut s, Event::Posture(posture(false))), Step::default());
    let step = now(&mut s, Event::Posture(posture(false)));
    assert_eq!(step.actions, vec![Action::WithdrawCredentials]);
    match step.transition.unwrap().cause {
        Cause::PostureFailed { failing, fixes } => {
            assert_eq!(failing, vec!["firewall".to_string()]);
            assert!(!fixes.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failing_device_is_blocked_before_any_vpn() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    now(&mut s, Event::SignedIn);
    let step = now(&mut s, Event::Posture(posture(false)));
    assert!(!step.actions.contains(&Action::ConnectVpn("corp".into())));
    assert!(matches!(
        s.state(),
        SessionState::Blocked {
            cause: Cause::PostureFailed { .. }
        }
    ));
}

#[test]
fn expiry_and_disconnect_withdraw() {
    let mut s = ready();
    assert_eq!(
        now(&mut s, Event::CredentialsExpired).actions,
        vec![Action::WithdrawCredentials]
    );
    let mut s = ready();
    assert_eq!(
        s.request(Request::Disconnect).actions,
        vec![Action::WithdrawCredentials, Action::DisconnectVpn]
    );
    assert!(!s.state().serves_credentials());
    // The tunnel going down after a requested disconnect is no "VPN lost".
    assert_eq!(
        now(&mut s, Event::Tunnel(TunnelState::Disconnected)),
        Step::default()
    );
    now(&mut s, Event::Disconnected);
    assert_eq!(s.state(), &SessionState::Idle);
    assert_eq!(s.pending(), None);
}

#[test]
fn without_a_tunnel_disconnect_is_immediate() {
    let mut s = Session::default();
    connect(&mut s, &[]);
    now(&mut s, Event::SignedIn);
    now(&mut s, issued());
    let step = s.request(Request::Disconnect);
    assert_eq!(step.actions, vec![Action::WithdrawCredentials]);
    assert_eq!(s.state(), &SessionState::Idle);
}

#[test]
fn the_sign_in_prompt_is_part_of_the_state() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    let step = now(
        &mut s,
        Event::SignInNeeded {
            verification_uri: "https://device.sso/…".into(),
            user_code: Some("ABCD-EFGH".into()),
        },
    );
    let json = serde_json::to_value(step.transition.unwrap()).unwrap();
    assert_eq!(json["state"]["state"], "signing-in");
    assert_eq!(json["state"]["userCode"], "ABCD-EFGH");
    assert_eq!(json["cause"]["cause"], "sign-in-needed");
    now(
        &mut s,
        Event::Failed(Cause::KeychainLocked {
            detail: "the login keyring is locked".into(),
        }),
    );
    match s.state() {
        SessionState::Blocked { cause } => {
            assert_eq!(cause.exit_code(), crate::ExitCode::Keychain);
            assert!(cause.next_step().contains("Unlock"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_typed_cause_has_its_sentence_next_step_and_code() {
    use crate::ExitCode as E;
    let a: IpAddr = "203.0.113.10".parse().unwrap();
    let d = || "x".to_string();
    let cases = [
        (Cause::KeychainUnavailable { detail: d() }, E::Keychain),
        (Cause::KeychainLocked { detail: d() }, E::Keychain),
        (
            Cause::IdentityCenterUnreachable { detail: d() },
            E::IdentityProvider,
        ),
        (
            Cause::IdentityCenterFault { detail: d() },
            E::IdentityProvider,
        ),
        (
            Cause::IdentityCenterDenied { detail: d() },
            E::IdentityProvider,
        ),
        (Cause::ScopeDownRefused { detail: d() }, E::IdentityProvider),
        (
            Cause::RoleNotGranted {
                account: d(),
                role: d(),
            },
            E::AccessNotAllowed,
        ),
        (Cause::ProfileStoreUnreadable { detail: d() }, E::BadInput),
        (
            Cause::CountryDatabaseUnreadable {
                path: d(),
                detail: d(),
            },
            E::BadInput,
        ),
        (
            Cause::CountryNotAllowed {
                address: a,
                country: "FR".into(),
            },
            E::EgressMismatch,
        ),
        (
            Cause::HelperUnavailable {
                detail: d(),
                trouble: Default::default(),
            },
            E::HelperUnavailable,
        ),
        (
            Cause::HelperVersion {
                helper: 2,
                agent: 1,
            },
            E::HelperUnavailable,
        ),
        (Cause::Internal { detail: d() }, E::Internal),
    ];
    let mut sentences = std::collections::HashSet::new();
    for (cause, code) in cases {
        assert_eq!(cause.exit_code(), code, "{cause:?}");
        assert!(!cause.next_step().is_empty(), "{cause:?}");
        assert!(
            sentences.insert(cause.sentence()),
            "{cause:?} repeats a sentence"
        );
        assert_ne!(cause.exit_code(), E::SignInFailed);
        // It crosses the agent's socket unchanged.
        let json = serde_json::to_string(&cause).unwrap();
        assert_eq!(serde_json::from_str::<Cause>(&json).unwrap(), cause);
    }
}
