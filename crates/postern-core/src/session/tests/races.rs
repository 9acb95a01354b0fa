//! Results that arrive late, after the person moved on: each race seen in the field.

use super::*;

#[test]
fn a_late_signed_in_after_disconnect_stays_idle() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    let signing_in = s.attempt();
    s.request(Request::Disconnect);
    assert_eq!(s.state(), &SessionState::Idle);
    assert_eq!(s.observe(signing_in, Event::SignedIn), Step::default());
    assert_eq!(s.state(), &SessionState::Idle);
    assert_eq!(s.pending(), None);
}

#[test]
fn a_late_sign_in_prompt_after_disconnect_does_not_sign_in_again() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    let signing_in = s.attempt();
    s.request(Request::Disconnect);
    let step = s.observe(
        signing_in,
        Event::SignInNeeded {
            verification_uri: "https://device.sso/".into(),
            user_code: Some("ABCD-EFGH".into()),
        },
    );
    assert_eq!(step, Step::default());
    assert_eq!(s.state(), &SessionState::Idle);
}

#[test]
fn a_posture_report_while_verifying_egress_does_not_dial_again() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    now(&mut s, Event::SignedIn);
    now(&mut s, Event::Posture(posture(true)));
    now(&mut s, Event::Tunnel(connected()));
    assert_eq!(s.state(), &SessionState::VerifyingEgress);
    let step = now(&mut s, Event::Posture(posture(true)));
    assert_eq!(step, Step::default());
    assert_eq!(s.state(), &SessionState::VerifyingEgress);
}

#[test]
fn an_egress_match_while_idle_asks_for_nothing() {
    let mut s = Session::default();
    assert_eq!(now(&mut s, Event::Egress(nat_match())), Step::default());
    connect(&mut s, &ALL);
    let first = s.attempt();
    s.request(Request::Disconnect);
    assert_eq!(
        s.observe(first, Event::Egress(nat_match())),
        Step::default()
    );
    assert_eq!(now(&mut s, Event::Egress(nat_match())), Step::default());
    assert_eq!(s.state(), &SessionState::Idle);
}

#[test]
fn results_of_an_earlier_connect_do_not_move_the_new_one() {
    let mut s = Session::default();
    connect(&mut s, &ALL);
    let first = s.attempt();
    connect(&mut s, &ALL);
    assert_ne!(first, s.attempt());
    assert_eq!(s.observe(first, Event::SignedIn), Step::default());
    assert!(matches!(s.state(), SessionState::SigningIn { .. }));
    // Credentials vended for the earlier attempt open nothing.
    assert_eq!(s.observe(first, issued()), Step::default());
    assert!(!s.state().serves_credentials());
    // A failure of the earlier attempt does not block the new one either.
    assert_eq!(
        s.observe(first, Event::Failed(Cause::VpnLost)),
        Step::default()
    );
    assert!(matches!(s.state(), SessionState::SigningIn { .. }));
}

#[test]
fn a_tunnel_state_of_the_old_attempt_after_disconnect_is_dropped() {
    let mut s = ready();
    let first = s.attempt();
    s.request(Request::Disconnect);
    let disconnecting = s.attempt();
    assert_eq!(
        s.observe(first, Event::Tunnel(connected())),
        Step::default()
    );
    assert_eq!(s.state(), &SessionState::Disconnecting);
    // The disconnect task of the earlier attempt cannot end the new one's Disconnecting either.
    assert_eq!(s.observe(first, Event::Disconnected), Step::default());
    s.observe(disconnecting, Event::Disconnected);
    assert_eq!(s.state(), &SessionState::Idle);
}
