//! Properties over random sequences of requests and results, fresh and late.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Input {
    Connect(Vec<Gate>),
    Disconnect,
    /// A result from the current attempt (`age` 0) or one `age` attempts old.
    Observed {
        age: u64,
        event: Event,
    },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::SignedIn),
        Just(Event::SignInNeeded {
            verification_uri: "https://device.sso/".into(),
            user_code: None
        }),
        Just(Event::Failed(Cause::IdentityCenterFault {
            detail: "503".into()
        })),
        any::<bool>().prop_map(|ok| Event::Posture(posture(ok))),
        Just(Event::Tunnel(connected())),
        Just(Event::Tunnel(TunnelState::Reconnecting {
            profile: "corp".into(),
            attempt: 1,
            max: 3,
            reason: "ping-restart".into()
        })),
        Just(Event::Tunnel(TunnelState::Disconnected)),
        Just(Event::Tunnel(TunnelState::Connecting {
            profile: "corp".into(),
            phase: "WAIT".into()
        })),
        Just(Event::Egress(nat_match())),
        Just(Event::Egress(Verdict::Mismatch {
            address: "198.51.100.10".parse().unwrap()
        })),
        Just(issued()),
        Just(Event::CredentialsExpired),
        Just(Event::Disconnected),
    ]
}

fn gates() -> impl Strategy<Value = Vec<Gate>> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(p, v, e)| {
        [(p, Gate::Posture), (v, Gate::Vpn), (e, Gate::Egress)]
            .into_iter()
            .filter_map(|(on, g)| on.then_some(g))
            .collect()
    })
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        1 => gates().prop_map(Input::Connect),
        1 => Just(Input::Disconnect),
        12 => (prop_oneof![3 => Just(0u64), 1 => 1u64..3], event())
            .prop_map(|(age, event)| Input::Observed { age, event }),
    ]
}

/// What the current attempt itself has observed, kept beside the machine by the test.
#[derive(Default, Debug)]
struct Witness {
    require: Vec<Gate>,
    signed_in: bool,
    compliant: bool,
    tunnel_up: bool,
    /// The tunnel that came up last: profile, address, endpoint.
    through: Option<(String, String, String)>,
    /// The egress matched since the tunnel last came up (in this attempt).
    egress: Option<IpAddr>,
}

impl Witness {
    fn saw(&mut self, event: &Event) {
        match event {
            Event::SignedIn => self.signed_in = true,
            Event::Posture(r) if matches!(r.status, posture::Status::Compliant) => {
                self.compliant = true
            }
            // Tunnel states count only where the rule has a tunnel.
            Event::Tunnel(_) if !self.require.contains(&Gate::Vpn) => {}
            // The same tunnel said again changes nothing; any other one is proved anew.
            Event::Tunnel(TunnelState::Connected {
                profile,
                tunnel_ip,
                endpoint_ip,
                ..
            }) => {
                let through = Some((profile.clone(), tunnel_ip.clone(), endpoint_ip.clone()));
                if !(self.tunnel_up && self.through == through) {
                    self.tunnel_up = true;
                    self.through = through;
                    self.egress = None;
                }
            }
            // OpenVPN's phases while up are no drop.
            Event::Tunnel(TunnelState::Connecting { .. }) => {}
            Event::Tunnel(_) => {
                self.tunnel_up = false;
                self.egress = None;
            }
            Event::Egress(Verdict::Match { address, .. }) => self.egress = Some(*address),
            _ => {}
        }
    }
}

fn feed(s: &mut Session, w: &mut Witness, input: &Input) {
    match input {
        Input::Connect(require) => {
            connect(s, require);
            *w = Witness {
                require: require.clone(),
                ..Witness::default()
            };
        }
        Input::Disconnect => {
            s.request(Request::Disconnect);
            *w = Witness::default();
        }
        Input::Observed { age, event } => {
            let attempt = Attempt(s.attempt().0.saturating_sub(*age));
            if *age == 0 {
                w.saw(event);
            }
            s.observe(attempt, event.clone());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn ready_only_on_the_current_attempts_own_observations(
        inputs in proptest::collection::vec(input(), 1..60)
    ) {
        let mut s = Session::default();
        let mut w = Witness::default();
        for input in &inputs {
            feed(&mut s, &mut w, input);
            if let SessionState::Ready { egress, .. } = s.state() {
                prop_assert!(w.signed_in, "Ready without a sign-in: {inputs:?}");
                if w.require.contains(&Gate::Posture) {
                    prop_assert!(w.compliant, "Ready without posture: {inputs:?}");
                }
                if w.require.contains(&Gate::Vpn) {
                    prop_assert!(w.tunnel_up, "Ready without the tunnel: {inputs:?}");
                }
                if w.require.contains(&Gate::Egress) {
                    prop_assert!(w.egress.is_some(), "Ready without egress: {inputs:?}");
                    prop_assert_eq!(*egress, w.egress);
                } else {
                    prop_assert_eq!(*egress, None);
                }
            }
        }
    }

    #[test]
    fn disconnect_always_ends_in_idle_with_nothing_pending(
        before in proptest::collection::vec(input(), 0..40),
        late in proptest::collection::vec(event(), 0..20),
    ) {
        let mut s = Session::default();
        let mut w = Witness::default();
        for input in &before {
            feed(&mut s, &mut w, input);
        }
        let earlier = s.attempt();
        let step = s.request(Request::Disconnect);
        prop_assert!(!s.state().serves_credentials());
        if step.actions.contains(&Action::DisconnectVpn) {
            prop_assert_eq!(s.state(), &SessionState::Disconnecting);
        }
        // Late results of every earlier attempt change nothing…
        for event in &late {
            s.observe(earlier, event.clone());
        }
        // …and the disconnect's own report (when a tunnel was taken down) ends it.
        if s.state() == &SessionState::Disconnecting {
            let attempt = s.attempt();
            s.observe(attempt, Event::Disconnected);
        }
        prop_assert_eq!(s.state(), &SessionState::Idle);
        prop_assert_eq!(s.pending(), None);
        for event in &late {
            let step = s.observe(earlier, event.clone());
            prop_assert!(step.transition.is_none());
        }
        prop_assert_eq!(s.state(), &SessionState::Idle);
    }
}
