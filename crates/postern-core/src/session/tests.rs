//! The rules of the gate, one scenario each.

use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::egress::{Undetermined, Verdict};
use crate::posture::{self, Facts, Reading, Requirements};

fn target() -> Target {
    Target {
        profile: "corp".into(),
        account: "111122223333".into(),
        role: "Developer".into(),
    }
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
    }
}

fn nat_match() -> Verdict {
    Verdict::Match {
        address: "203.0.113.10".parse().unwrap(),
        nat: "203.0.113.10/32".parse().unwrap(),
        country: None,
    }
}

/// Drives a session to Ready, checking the action asked at each step.
fn ready() -> Session {
    let mut s = Session::default();
    assert_eq!(s.apply(Event::ConnectRequested(target())).1, Action::SignIn);
    assert_eq!(s.apply(Event::SignedIn).1, Action::CheckPosture);
    assert_eq!(
        s.apply(Event::Posture(posture(true))).1,
        Action::ConnectVpn("corp".into())
    );
    assert_eq!(s.apply(Event::Tunnel(connected())).1, Action::CheckEgress);
    assert!(
        !s.state().serves_credentials(),
        "VPN up is not enough: egress first"
    );
    assert_eq!(
        s.apply(Event::Egress(nat_match())).1,
        Action::IssueCredentials
    );
    let (t, _) = s.apply(Event::CredentialsIssued {
        expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
    });
    assert_eq!(t.unwrap().cause, Cause::AllGatesOpen);
    assert!(s.state().serves_credentials());
    s
}

#[test]
fn credentials_only_after_every_gate() {
    ready();
}

#[test]
fn a_vpn_drop_closes_the_gate_at_once_and_recovery_reverifies_egress() {
    let mut s = ready();
    let (t, action) = s.apply(Event::Tunnel(TunnelState::Reconnecting {
        profile: "corp".into(),
        attempt: 1,
        max: 3,
        reason: "ping-restart".into(),
    }));
    assert_eq!(action, Action::WithdrawCredentials);
    assert!(matches!(
        t.unwrap().cause,
        Cause::VpnReconnecting { attempt: 1, max: 3 }
    ));
    assert!(!s.state().serves_credentials());
    assert_eq!(s.apply(Event::Tunnel(connected())).1, Action::CheckEgress);
    assert_eq!(
        s.apply(Event::Egress(nat_match())).1,
        Action::IssueCredentials
    );
}

#[test]
fn late_credentials_after_a_drop_do_not_reopen_the_gate() {
    let mut s = ready();
    s.apply(Event::Tunnel(TunnelState::Failed {
        profile: "corp".into(),
        cause: TunnelFailure::ConnectionLost { attempts: 3 },
    }));
    let (_, action) = s.apply(Event::CredentialsIssued {
        expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
    });
    assert_eq!(action, Action::WithdrawCredentials);
    assert!(!s.state().serves_credentials());
}

#[test]
fn a_lost_vpn_blocks_with_its_reason() {
    let mut s = ready();
    let (t, action) = s.apply(Event::Tunnel(TunnelState::Failed {
        profile: "corp".into(),
        cause: TunnelFailure::ConnectionLost { attempts: 3 },
    }));
    assert_eq!(action, Action::WithdrawCredentials);
    let t = t.unwrap();
    assert_eq!(t.cause, Cause::VpnLost);
    assert!(t.cause.next_step().contains("Connect"));
}

#[test]
fn egress_through_the_wrong_address_never_opens_the_gate() {
    let mut s = Session::default();
    s.apply(Event::ConnectRequested(target()));
    s.apply(Event::SignedIn);
    s.apply(Event::Posture(posture(true)));
    s.apply(Event::Tunnel(connected()));
    let (t, action) = s.apply(Event::Egress(Verdict::Mismatch {
        address: "198.51.100.10".parse().unwrap(),
    }));
    assert_ne!(action, Action::IssueCredentials);
    assert!(t.unwrap().cause.sentence().contains("198.51.100.10"));
    // Credentials issued anyway (a race) are discarded, not served.
    let (_, action) = s.apply(Event::CredentialsIssued {
        expires_at: OffsetDateTime::now_utc(),
    });
    assert!(!s.state().serves_credentials());
    assert_eq!(action, Action::WithdrawCredentials);
    let undetermined = Verdict::Undetermined {
        reason: Undetermined::BelowQuorum {
            agreeing: 1,
            quorum: 2,
        },
    };
    s.apply(Event::Egress(undetermined));
    assert!(matches!(
        s.state(),
        SessionState::Blocked {
            cause: Cause::EgressUndetermined { .. }
        }
    ));
}

#[test]
fn posture_must_fail_twice_before_a_ready_session_is_torn_down() {
    let mut s = ready();
    assert_eq!(
        s.apply(Event::Posture(posture(false))),
        (None, Action::Nothing)
    );
    assert!(s.state().serves_credentials());
    assert_eq!(
        s.apply(Event::Posture(posture(true))),
        (None, Action::Nothing)
    );
    assert_eq!(
        s.apply(Event::Posture(posture(false))),
        (None, Action::Nothing)
    );
    let (t, action) = s.apply(Event::Posture(posture(false)));
    assert_eq!(action, Action::WithdrawCredentials);
    match t.unwrap().cause {
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
    s.apply(Event::ConnectRequested(target()));
    s.apply(Event::SignedIn);
    let (_, action) = s.apply(Event::Posture(posture(false)));
    assert_ne!(action, Action::ConnectVpn("corp".into()));
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
        s.apply(Event::CredentialsExpired).1,
        Action::WithdrawCredentials
    );
    let mut s = ready();
    assert_eq!(s.apply(Event::DisconnectRequested).1, Action::DisconnectVpn);
    assert!(!s.state().serves_credentials());
    // The tunnel going down after a requested disconnect is no "VPN lost".
    assert_eq!(
        s.apply(Event::Tunnel(TunnelState::Disconnected)),
        (None, Action::Nothing)
    );
    s.apply(Event::Disconnected);
    assert_eq!(s.state(), &SessionState::Idle);
}

#[test]
fn the_sign_in_prompt_is_part_of_the_state() {
    let mut s = Session::default();
    s.apply(Event::ConnectRequested(target()));
    let (t, _) = s.apply(Event::SignInNeeded {
        verification_uri: "https://device.sso/…".into(),
        user_code: Some("ABCD-EFGH".into()),
    });
    let json = serde_json::to_value(t.unwrap()).unwrap();
    assert_eq!(json["state"]["state"], "signing-in");
    assert_eq!(json["state"]["userCode"], "ABCD-EFGH");
    assert_eq!(json["cause"]["cause"], "sign-in-needed");
    s.apply(Event::SignInFailed("the code expired".into()));
    assert!(matches!(
        s.state(),
        SessionState::Blocked {
            cause: Cause::SignInFailed { .. }
        }
    ));
}
