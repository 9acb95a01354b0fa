use std::net::{IpAddr, Ipv4Addr};

use time::OffsetDateTime;

use super::*;
use crate::vpn::tunnel::TunnelFailure;

fn target() -> Target {
    Target {
        profile: "corp".into(),
        account: "111122223333".into(),
        role: "Developer".into(),
    }
}

fn show(state: SessionState, cause: Cause) -> (Presentation, Vec<MenuItem>) {
    let p = present(&Transition {
        state,
        cause,
        at: OffsetDateTime::now_utc(),
    });
    let menu = tray_menu(&p);
    (p, menu)
}

fn actions(menu: &[MenuItem]) -> Vec<(MenuAction, bool)> {
    menu.iter()
        .filter_map(|i| i.action.map(|a| (a, i.enabled)))
        .filter(|(a, _)| *a != MenuAction::Status)
        .collect()
}

const FIXED: [(MenuAction, bool); 3] = [
    (MenuAction::OpenWindow, true),
    (MenuAction::ExportDiagnostics, true),
    (MenuAction::Quit, true),
];

fn with_fixed(first: (MenuAction, bool)) -> Vec<(MenuAction, bool)> {
    std::iter::once(first).chain(FIXED).collect()
}

#[test]
fn idle_offers_connect_and_keeps_a_failure_reason() {
    let (p, menu) = show(SessionState::Idle, Cause::UserDisconnected);
    assert_eq!(p.indicator, Indicator::SignedOut);
    assert_eq!(p.reason, None);
    assert_eq!(menu[0].label, "Not connected");
    assert!(!menu[0].enabled);
    assert_eq!(actions(&menu), with_fixed((MenuAction::Connect, true)));
    let (p, _) = show(SessionState::Idle, Cause::CredentialsExpired);
    assert_eq!(p.reason.as_deref(), Some("The AWS credentials expired."));
}

#[test]
fn signing_in_shows_the_code_and_the_page() {
    let (p, menu) = show(
        SessionState::SigningIn {
            verification_uri: Some(
                "https://device.sso.eu-west-1.amazonaws.com/?user_code=ABCD-EFGH".into(),
            ),
            user_code: Some("ABCD-EFGH".into()),
        },
        Cause::SignInNeeded,
    );
    assert_eq!(p.indicator, Indicator::SignedOut);
    assert_eq!(
        p.sign_in.as_ref().unwrap().code.as_deref(),
        Some("ABCD-EFGH")
    );
    assert!(p.next_step.unwrap().contains("ABCD-EFGH"));
    assert_eq!(actions(&menu), with_fixed((MenuAction::Disconnect, true)));
    let (p, _) = show(
        SessionState::SigningIn {
            verification_uri: None,
            user_code: None,
        },
        Cause::ConnectRequested,
    );
    assert_eq!(p.indicator, Indicator::Working);
    assert_eq!(p.sign_in, None);
}

#[test]
fn every_working_state_is_working_and_can_be_cancelled() {
    for state in [
        SessionState::CheckingPosture,
        SessionState::ConnectingVpn {
            profile: "corp".into(),
            phase: "WAIT".into(),
        },
        SessionState::VerifyingEgress,
    ] {
        let (p, menu) = show(state.clone(), Cause::ConnectRequested);
        assert_eq!(p.indicator, Indicator::Working, "{state:?}");
        assert!(p.headline.ends_with('…'), "{}", p.headline);
        assert_eq!(actions(&menu), with_fixed((MenuAction::Disconnect, true)));
    }
    let (p, _) = show(
        SessionState::VpnSignIn {
            url: "https://idp.example/saml".into(),
        },
        Cause::ConnectRequested,
    );
    assert_eq!(p.sign_in.unwrap().url, "https://idp.example/saml");
}

#[test]
fn ready_names_the_account_role_and_way_out() {
    let (p, menu) = show(
        SessionState::Ready {
            target: target(),
            egress: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10))),
            expires_at: OffsetDateTime::now_utc(),
        },
        Cause::AllGatesOpen,
    );
    assert_eq!(p.indicator, Indicator::Ready);
    assert_eq!(p.headline, "Protected: 111122223333 / Developer");
    assert_eq!(p.egress_text.as_deref(), Some("203.0.113.10"));
    let labels: Vec<&str> = menu.iter().map(|i| i.label.as_str()).collect();
    assert!(labels.contains(&"Account 111122223333 · role Developer"));
    assert!(labels.contains(&"Leaving through 203.0.113.10"));
    assert_eq!(actions(&menu), with_fixed((MenuAction::Disconnect, true)));
}

#[test]
fn ready_without_the_egress_gate_says_so_instead_of_an_address() {
    let (p, menu) = show(
        SessionState::Ready {
            target: target(),
            egress: None,
            expires_at: OffsetDateTime::now_utc(),
        },
        Cause::AllGatesOpen,
    );
    assert_eq!(p.egress, None);
    assert_eq!(
        p.egress_text.as_deref(),
        Some("egress not required by policy")
    );
    let labels: Vec<&str> = menu.iter().map(|i| i.label.as_str()).collect();
    assert!(
        labels.contains(&"Egress not required by policy"),
        "{labels:?}"
    );
    assert!(!labels.iter().any(|l| l.contains("0.0.0.0")), "{labels:?}");
}

#[test]
fn degraded_warns_with_the_reason_in_the_status_line() {
    let cause = Cause::VpnReconnecting { attempt: 1, max: 3 };
    let (p, menu) = show(
        SessionState::Degraded {
            target: target(),
            cause: cause.clone(),
        },
        cause,
    );
    assert_eq!(p.indicator, Indicator::Warning);
    assert!(
        menu[0].label.contains("reconnecting (1 of 3)"),
        "{}",
        menu[0].label
    );
    assert!(p.next_step.unwrap().contains("resumes by itself"));
    assert_eq!(actions(&menu), with_fixed((MenuAction::Disconnect, true)));
}

#[test]
fn blocked_gives_the_reason_the_fix_and_connect() {
    let cause = Cause::VpnFailed {
        failure: TunnelFailure::Denied {
            reason: Some("Your laptop is not in the Engineering group".into()),
        },
    };
    let (p, menu) = show(
        SessionState::Blocked {
            cause: cause.clone(),
        },
        cause,
    );
    assert_eq!(p.indicator, Indicator::Blocked);
    assert!(
        menu[0].label.contains("not in the Engineering group"),
        "the admin's message reaches the tray: {}",
        menu[0].label
    );
    assert!(p.next_step.is_some());
    assert_eq!(actions(&menu), with_fixed((MenuAction::Connect, true)));
}

#[test]
fn disconnecting_offers_nothing_but_waiting() {
    let (p, menu) = show(SessionState::Disconnecting, Cause::UserDisconnected);
    assert_eq!(p.indicator, Indicator::Working);
    assert_eq!(actions(&menu), with_fixed((MenuAction::Connect, false)));
}

#[test]
fn menu_ids_round_trip() {
    let ids: std::collections::HashSet<&str> = MenuAction::ALL.iter().map(|a| a.id()).collect();
    assert_eq!(ids.len(), MenuAction::ALL.len(), "ids are distinct");
    for a in MenuAction::ALL {
        assert_eq!(MenuAction::from_id(a.id()), Some(a));
    }
    assert_eq!(MenuAction::from_id("nope"), None);
}

#[test]
fn expiry_is_shown_in_local_time_with_what_is_left() {
    let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
    let now = OffsetDateTime::from_unix_timestamp(1_796_153_520).unwrap(); // 19:32 UTC
    let at = now + time::Duration::minutes(59) + time::Duration::seconds(30);
    assert_eq!(expiry_text_in(&zone, at, now), "until 21:31, in 59 min");
    assert_eq!(
        expiry_text_in(&zone, now + time::Duration::hours(8), now),
        "until 04:32, in 8 h 0 min"
    );
}

#[test]
fn the_terminal_reads_the_same_presentation_with_lines_scripts_can_parse() {
    let now = OffsetDateTime::now_utc();
    let lines = |state, cause| terminal_lines(&show(state, cause).0, now);
    let signing_in = lines(
        SessionState::SigningIn {
            verification_uri: Some("https://device.example/?user_code=ABCD-EFGH".into()),
            user_code: Some("ABCD-EFGH".into()),
        },
        Cause::ConnectRequested,
    );
    assert_eq!(signing_in[0], "Sign in to continue");
    assert!(signing_in.contains(&"Open: https://device.example/?user_code=ABCD-EFGH".into()));
    assert!(signing_in.contains(&"Code: ABCD-EFGH".into()));

    let vpn = lines(
        SessionState::VpnSignIn {
            url: "https://idp.example/saml".into(),
        },
        Cause::ConnectRequested,
    );
    assert_eq!(vpn[0], "Sign in to the VPN in your browser");
    assert_eq!(
        vpn.last().map(String::as_str),
        Some("Open: https://idp.example/saml")
    );
    assert!(!vpn.iter().any(|l| l.starts_with("Code: ")), "{vpn:?}");

    let ready = |egress| {
        lines(
            SessionState::Ready {
                target: target(),
                egress,
                expires_at: now + time::Duration::minutes(59) + time::Duration::seconds(30),
            },
            Cause::AllGatesOpen,
        )
    };
    let through_nat = ready(Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10))));
    assert_eq!(through_nat[0], "Protected: 111122223333 / Developer");
    assert!(
        through_nat[1].starts_with("AWS credentials are served until ")
            && through_nat[1].ends_with(", in 59 min; traffic leaves from 203.0.113.10."),
        "{through_nat:?}"
    );
    let not_required = ready(None);
    assert!(
        not_required[1].ends_with(&format!("; {}.", egress_not_required())),
        "{not_required:?}"
    );

    let blocked = lines(
        SessionState::Blocked {
            cause: Cause::CredentialsExpired,
        },
        Cause::CredentialsExpired,
    );
    assert_eq!(
        blocked,
        vec![
            "Blocked: no AWS credentials".to_string(),
            Cause::CredentialsExpired.sentence(),
            Cause::CredentialsExpired.next_step(),
        ]
    );
}
