use super::*;
use crate::management::parse_management_line;

/// Recorded in the lab: OpenVPN 2.6.14 against the lab's endpoint, from hold release to
/// CONNECTED, then SIGTERM.
const CONNECT: &str = include_str!("connect.transcript");
/// Recorded in the lab: the endpoint's connect handler denies with a reason.
const DENIED: &str = include_str!("denied.transcript");
/// Recorded in the lab: OpenVPN 2.6.14 connected, then the server stopped (SIGSTOP) past the
/// pushed ping-restart 3 and resumed once the client's hold was released.
const RECONNECT: &str = include_str!("reconnect.transcript");
/// Recorded in the lab: OpenVPN 2.6.14 given a `dev-node` that does not exist, after the push.
const FATAL: &str = include_str!("fatal.transcript");
/// Recorded in the lab: OpenVPN 2.6.14 connected, sent `signal SIGHUP`, held and released again.
const RESTART_HOLD: &str = include_str!("restart_hold.transcript");
/// Recorded from OpenVPN 2.6.14 against the lab's SAML server: the first attempt is refused
/// with a CRV1 challenge, the retry with the IdP's assertion connects, then SIGTERM.
const SAML: &str = include_str!("saml.transcript");
/// What the lab's IdP answered for the recorded challenge (state 8fa74916f16e2fef).
const SAML_ASSERTION: &str = "PEFzc2VydGlvbiB1c2VyPSJhbGljZSIgc3RhdGU9IjhmYTc0OTE2ZjE2ZTJmZWYiLz4=";

fn limits(federation: Option<Option<usize>>) -> Limits {
    Limits {
        max_reconnects: 3,
        connect_timeout: Duration::from_secs(60),
        reconnect_timeout: Duration::from_secs(30),
        federation,
    }
}

/// Feeds every line; answers each ApplyDns with `dns`, as the helper does.
fn run(m: &mut TunnelMachine, transcript: &str, dns: &DnsState) -> Vec<Output> {
    let mut out = Vec::new();
    for line in transcript.lines() {
        for o in m.handle(Input::Line(parse_management_line(line))) {
            if matches!(o, Output::ApplyDns { .. }) {
                out.push(o);
                out.extend(m.handle(Input::DnsApplied(dns.clone())));
            } else {
                out.push(o);
            }
        }
    }
    out
}

/// `transcript` cut before its first line containing each marker, in order.
fn parts(transcript: &str, markers: &[&str]) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut next = markers.iter().peekable();
    for line in transcript.lines() {
        if next.peek().is_some_and(|m| line.contains(*m)) {
            next.next();
            parts.push(String::new());
        }
        let last = parts.last_mut().expect("one part at least");
        last.push_str(line);
        last.push('\n');
    }
    assert!(next.peek().is_none(), "every marker is in the transcript");
    parts
}

/// The outputs without the traffic counts.
fn without_traffic(out: Vec<Output>) -> Vec<Output> {
    out.into_iter()
        .filter(|o| !matches!(o, Output::Traffic { .. }))
        .collect()
}

fn phases(states: &[TunnelState]) -> Vec<&str> {
    states
        .iter()
        .filter_map(|s| match s {
            TunnelState::Connecting { phase, .. } => Some(phase.as_str()),
            _ => None,
        })
        .collect()
}

fn connected(dns: DnsState) -> TunnelState {
    TunnelState::Connected {
        profile: "corp".into(),
        tunnel_ip: "10.200.0.2".into(),
        endpoint_ip: "203.0.113.20".into(),
        dns,
    }
}

fn published(out: &[Output]) -> Vec<TunnelState> {
    out.iter()
        .filter_map(|o| match o {
            Output::Publish(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn applied() -> DnsState {
    DnsState::Applied {
        servers: vec!["10.0.0.2".parse().unwrap()],
        domains: vec!["corp.internal".into()],
        via: "systemd-resolved".into(),
    }
}

#[test]
fn a_recorded_connect_publishes_its_phases_applies_the_push_and_ends_stopped() {
    let (mut m, first) = TunnelMachine::new("corp", limits(None));
    assert_eq!(
        first,
        vec![
            Output::Send(START.into()),
            Output::ArmDeadline(Duration::from_secs(60))
        ]
    );
    let connect_part: String = CONNECT
        .lines()
        .take_while(|l| !l.contains("EXITING"))
        .map(|l| format!("{l}\n"))
        .collect();
    let out = run(&mut m, &connect_part, &applied());
    let dns = out.iter().find_map(|o| match o {
        Output::ApplyDns { device, dns } => Some((device.clone(), dns.clone())),
        _ => None,
    });
    let (device, dns) = dns.expect("the push was handed to the resolver");
    assert_eq!(device.as_deref(), Some("tun0"));
    assert_eq!(
        dns.servers,
        vec!["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(dns.domains, vec!["corp.internal"]);
    let states = published(&out);
    let phases: Vec<&str> = states
        .iter()
        .filter_map(|s| match s {
            TunnelState::Connecting { phase, .. } => Some(phase.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [
            "RESOLVE",
            "RESOLVE",
            "WAIT",
            "AUTH",
            "ASSIGN_IP",
            "ADD_ROUTES"
        ]
    );
    assert_eq!(
        states.last(),
        Some(&TunnelState::Connected {
            profile: "corp".into(),
            tunnel_ip: "10.200.0.2".into(),
            endpoint_ip: "203.0.113.20".into(),
            dns: applied(),
        })
    );
    // Disconnect: Disconnecting, SIGTERM; once OpenVPN is gone, the DNS is taken back.
    assert_stop_is_sent(&mut m);
    assert!(
        m.handle(Input::Stop).is_empty(),
        "a second stop changes nothing"
    );
    let rest: String = CONNECT
        .lines()
        .skip_while(|l| !l.contains("EXITING"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ends_stopped(&mut m, &rest);
}

#[test]
fn a_recorded_denial_carries_the_servers_reason() {
    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    let out = run(&mut m, DENIED, &DnsState::NotPushed);
    assert!(out.contains(&Output::Send(SIGTERM.into())));
    assert_eq!(
        m.finish(),
        (
            Vec::new(),
            Outcome::Failed(TunnelFailure::Denied {
                reason: Some("Your device failed the posture check (FileVault)".into())
            })
        )
    );
}

/// The back half of a recorded restart: OpenVPN says why, holds, and is released; once it is
/// back, the push goes to the resolver again and the tunnel is published connected.
fn assert_restarted(out: Vec<Output>, reason: &str) {
    let out = without_traffic(out);
    assert_eq!(
        out[..3],
        [
            Output::ArmDeadline(Duration::from_secs(30)),
            Output::Publish(TunnelState::Reconnecting {
                profile: "corp".into(),
                attempt: 1,
                max: 3,
                reason: reason.into()
            }),
            Output::Send(HOLD_RELEASE.into()),
        ]
    );
    assert!(
        matches!(&out[3], Output::ApplyDns { device: Some(d), dns } if d == "tun0" && dns.domains == ["corp.internal"]),
        "{:?}",
        out[3]
    );
    assert_eq!(out[4..], [Output::Publish(connected(applied()))]);
}

/// The end of a recorded session: the owner stops, OpenVPN exits, the DNS is taken back.
fn assert_stops(m: &mut TunnelMachine, rest: &str) {
    assert_stop_is_sent(m);
    assert_ends_stopped(m, rest);
}

/// Stop: Disconnecting, and SIGTERM to OpenVPN.
fn assert_stop_is_sent(m: &mut TunnelMachine) {
    assert_eq!(
        m.handle(Input::Stop),
        vec![
            Output::Publish(TunnelState::Disconnecting {
                profile: "corp".into()
            }),
            Output::Send(SIGTERM.into())
        ]
    );
}

/// OpenVPN's last lines (`rest`) publish nothing, and once it is gone the DNS is taken back.
fn assert_ends_stopped(m: &mut TunnelMachine, rest: &str) {
    assert!(published(&run(m, rest, &applied())).is_empty());
    assert_eq!(
        m.finish(),
        (
            vec![Output::RevertDns {
                device: Some("tun0".into())
            }],
            Outcome::Stopped
        )
    );
}

#[test]
fn a_recorded_ping_restart_is_reconnected_with_the_hold_released() {
    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    let [up, drop, rest] = &parts(
        RECONNECT,
        &[
            "Inactivity timeout (--ping-restart)",
            "CMD 'signal SIGTERM'",
        ],
    )[..] else {
        unreachable!()
    };
    let out = without_traffic(run(&mut m, up, &applied()));
    let states = published(&out);
    assert_eq!(
        phases(&states),
        ["RESOLVE", "WAIT", "AUTH", "ASSIGN_IP", "ADD_ROUTES"]
    );
    assert_eq!(states.last(), Some(&connected(applied())));
    // The first hold is released by START already; the machine's own answer to it is the
    // second "hold release" the recording shows, while OpenVPN is already under way.
    let sent: Vec<&Output> = out
        .iter()
        .filter(|o| matches!(o, Output::Send(_)))
        .collect();
    assert_eq!(sent, [&Output::Send(HOLD_RELEASE.into())]);
    assert_restarted(run(&mut m, drop, &applied()), "ping-restart");
    assert!(!m.deadline_counts(), "back: the reconnect deadline is over");
    assert_stops(&mut m, rest);
}

#[test]
fn a_recorded_sighup_restart_holds_is_released_and_connects_again() {
    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    let [up, restart, rest] = &parts(
        RESTART_HOLD,
        &["CMD 'signal SIGHUP'", "CMD 'signal SIGTERM'"],
    )[..] else {
        unreachable!()
    };
    let states = published(&run(&mut m, up, &applied()));
    assert_eq!(states.last(), Some(&connected(applied())));
    // A hard restart goes through RECONNECTING,SIGHUP and a fresh hold: handled as a reconnect.
    assert_restarted(run(&mut m, restart, &applied()), "SIGHUP");
    assert!(!m.deadline_counts(), "back: the reconnect deadline is over");
    assert_stops(&mut m, rest);
}

#[test]
fn a_recorded_fatal_error_fails_with_openvpns_message() {
    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    let out = without_traffic(run(&mut m, FATAL, &DnsState::NotPushed));
    assert_eq!(phases(&published(&out)), ["RESOLVE", "WAIT", "AUTH"]);
    // OpenVPN exits by itself after FATAL: nothing more to send than the first hold's release.
    assert_eq!(
        out.iter()
            .filter(|o| !matches!(o, Output::Publish(_)))
            .collect::<Vec<_>>(),
        [&Output::Send(HOLD_RELEASE.into())]
    );
    assert_eq!(
        m.finish(),
        (
            Vec::new(),
            Outcome::Failed(TunnelFailure::Fatal {
                message:
                    "ERROR: Cannot open TUN/TAP dev /dev/net/tun0: No such file or directory (errno=2)"
                        .into()
            })
        )
    );
}

#[test]
fn drops_are_reconnected_with_the_hold_released_and_bounded() {
    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    let up = ">STATE:1,CONNECTED,SUCCESS,10.200.0.2,203.0.113.20,443,,\n";
    run(&mut m, up, &DnsState::NotPushed);
    // OpenVPN's own lines after a ping-restart: the state, then a hold before it tries again.
    let drop = ">STATE:2,RECONNECTING,ping-restart,,,,,\n>HOLD:Waiting for hold release:1\n";
    let out = run(&mut m, drop, &DnsState::NotPushed);
    assert_eq!(
        out,
        vec![
            Output::ArmDeadline(Duration::from_secs(30)),
            Output::Publish(TunnelState::Reconnecting {
                profile: "corp".into(),
                attempt: 1,
                max: 3,
                reason: "ping-restart".into()
            }),
            Output::Send(HOLD_RELEASE.into()),
        ]
    );
    // Back: connected again, the count starts over.
    let back = run(&mut m, up, &DnsState::NotPushed);
    assert!(matches!(
        published(&back)[..],
        [TunnelState::Connected { .. }]
    ));
    for attempt in 1..=3 {
        let out = run(
            &mut m,
            ">STATE:3,RECONNECTING,ping-restart,,,,,\n",
            &DnsState::NotPushed,
        );
        assert!(
            matches!(&published(&out)[..], [TunnelState::Reconnecting { attempt: a, .. }] if *a == attempt)
        );
    }
    let out = run(
        &mut m,
        ">STATE:4,RECONNECTING,ping-restart,,,,,\n",
        &DnsState::NotPushed,
    );
    assert_eq!(out, vec![Output::Send(SIGTERM.into())]);
    assert_eq!(
        m.finish().1,
        Outcome::Failed(TunnelFailure::ConnectionLost { attempts: 3 })
    );
}

/// The commands the machine sent.
fn sent(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_recorded_saml_sign_in_waits_for_the_browser_and_connects_with_the_crv1_answer() {
    let (mut m, _) = TunnelMachine::new("corp", limits(Some(Some(256))));
    let [first, challenge, retry, rest] = &parts(
        SAML,
        &[
            "AUTH_FAILED,CRV1",
            "CMD 'hold release'",
            "CMD 'signal SIGTERM'",
        ],
    )[..] else {
        unreachable!()
    };
    // OpenVPN asks for the password before it connects: the ACS port is announced.
    let out = without_traffic(run(&mut m, first, &applied()));
    assert_eq!(
        sent(&out),
        [
            HOLD_RELEASE,
            "username \"Auth\" \"N/A\"\npassword \"Auth\" \"ACS::35001\"\n"
        ]
    );
    assert_eq!(phases(&published(&out)), ["RESOLVE", "WAIT", "AUTH"]);
    // The challenge, then RECONNECTING,auth-failure and a hold: the browser is awaited.
    let out = without_traffic(run(&mut m, challenge, &applied()));
    assert_eq!(
        out,
        [
            Output::ArmDeadline(Duration::from_secs(60)),
            Output::Publish(TunnelState::AwaitingBrowser {
                profile: "corp".into(),
                url: "http://192.0.2.80/idp?state=8fa74916f16e2fef".into()
            }),
        ],
        "the challenge's auth-failure is no drop, and the hold waits for the browser"
    );
    assert!(m.wants_assertion());
    assert!(m.deadline_counts());
    assert_eq!(
        m.handle(Input::Assertion(SAML_ASSERTION.into())),
        [
            Output::Publish(TunnelState::Connecting {
                profile: "corp".into(),
                phase: "AUTH".into()
            }),
            Output::Send(HOLD_RELEASE.into()),
        ]
    );
    assert!(!m.wants_assertion());
    // The retry: the recorded state id and the quoted assertion, which the endpoint accepted.
    let out = without_traffic(run(&mut m, retry, &applied()));
    assert_eq!(
        sent(&out),
        [
            "username \"Auth\" \"N/A\"\npassword \"Auth\" \"CRV1::8fa74916f16e2fef::\
          PEFzc2VydGlvbiB1c2VyPSJhbGljZSIgc3RhdGU9IjhmYTc0OTE2ZjE2ZTJmZWYiLz4%3D\"\n"
        ]
    );
    let states = published(&out);
    assert_eq!(phases(&states), ["WAIT", "AUTH", "ASSIGN_IP", "ADD_ROUTES"]);
    assert_eq!(states.last(), Some(&connected(applied())));
    assert!(
        out.iter().any(|o| matches!(o, Output::ApplyDns { device: Some(d), dns } if d == "tun0" && dns.domains == ["corp.internal"])),
        "{out:?}"
    );
    assert!(!m.deadline_counts(), "connected: the deadline is over");
    assert_stops(&mut m, rest);
}

#[test]
fn the_saml_round_trip_waits_for_the_browser_then_retries_with_crv1() {
    let (mut m, _) = TunnelMachine::new("corp", limits(Some(Some(256))));
    let ask = run(
        &mut m,
        ">PASSWORD:Need 'Auth' username/password\n",
        &DnsState::NotPushed,
    );
    assert_eq!(
        ask,
        vec![Output::Send(
            "username \"Auth\" \"N/A\"\npassword \"Auth\" \"ACS::35001\"\n".into()
        )]
    );
    let challenge = ">PASSWORD:Verification Failed: 'Auth' ['CRV1:R:instance-1/abc:Ti9B:https://idp.example/saml?x=1']\n\
                     >STATE:5,RECONNECTING,auth-failure,,,,,\n>HOLD:Waiting for hold release:1\n";
    let out = run(&mut m, challenge, &DnsState::NotPushed);
    assert_eq!(
        out,
        vec![
            Output::ArmDeadline(Duration::from_secs(60)),
            Output::Publish(TunnelState::AwaitingBrowser {
                profile: "corp".into(),
                url: "https://idp.example/saml?x=1".into()
            }),
        ],
        "the challenge's auth-failure is no drop, and the hold waits for the browser"
    );
    assert!(m.wants_assertion());
    let answered = m.handle(Input::Assertion("PHNhbWw+".into()));
    assert_eq!(
        answered,
        vec![
            Output::Publish(TunnelState::Connecting {
                profile: "corp".into(),
                phase: "AUTH".into()
            }),
            Output::Send(HOLD_RELEASE.into()),
        ]
    );
    assert!(!m.wants_assertion());
    let retry = run(
        &mut m,
        ">PASSWORD:Need 'Auth' username/password\n",
        &DnsState::NotPushed,
    );
    assert_eq!(
        retry,
        vec![Output::Send(
            "username \"Auth\" \"N/A\"\npassword \"Auth\" \"CRV1::instance-1/abc::PHNhbWw%2B\"\n"
                .into()
        )]
    );
    // The endpoint challenging again after the answer is a refusal, not another sign-in.
    let again = run(
        &mut m,
        ">PASSWORD:Verification Failed: 'Auth' ['CRV1:R:instance-1/abd:Ti9B:https://idp.example/saml']\n",
        &DnsState::NotPushed,
    );
    assert_eq!(again, vec![Output::Send(SIGTERM.into())]);
    assert!(matches!(
        m.finish().1,
        Outcome::Failed(TunnelFailure::Denied { .. })
    ));
}

#[test]
fn a_large_assertion_a_challenge_without_saml_a_password_prompt_and_the_deadline_fail() {
    let (mut m, _) = TunnelMachine::new("corp", limits(Some(Some(40))));
    run(
        &mut m,
        ">PASSWORD:Verification Failed: 'Auth' ['CRV1:R:s:Ti9B:https://idp.example/']\n",
        &DnsState::NotPushed,
    );
    assert_eq!(
        m.handle(Input::Assertion("A".repeat(100))),
        vec![Output::Send(SIGTERM.into())]
    );
    assert!(matches!(
        m.finish().1,
        Outcome::Failed(TunnelFailure::SamlAssertionTooLarge { limit: 40, .. })
    ));

    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    run(
        &mut m,
        ">PASSWORD:Verification Failed: 'Auth' ['CRV1:R:s:Ti9B:https://idp.example/']\n",
        &DnsState::NotPushed,
    );
    assert_eq!(
        m.finish().1,
        Outcome::Failed(TunnelFailure::SamlUnsupported)
    );

    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    run(
        &mut m,
        ">PASSWORD:Need 'Auth' username/password\n",
        &DnsState::NotPushed,
    );
    assert_eq!(
        m.finish().1,
        Outcome::Failed(TunnelFailure::PasswordUnsupported)
    );

    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    assert!(m.deadline_counts());
    assert_eq!(
        m.handle(Input::DeadlinePassed),
        vec![Output::Send(SIGTERM.into())]
    );
    assert!(!m.deadline_counts());
    assert!(matches!(
        m.finish().1,
        Outcome::Failed(TunnelFailure::Fatal { .. })
    ));

    // OpenVPN that goes away by itself, with nothing said: exited.
    let (mut m, _) = TunnelMachine::new("corp", limits(None));
    assert_eq!(m.finish(), (Vec::new(), Outcome::Exited));
}
