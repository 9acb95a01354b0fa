//! When to look again: on the policy's interval, when the network changes (new Wi-Fi, VPN up
//! or down, cable out) and when the machine wakes from sleep. One small poller, no platform
//! event APIs: wake is seen as the wall clock jumping ahead of the monotonic clock (which
//! stops while the machine sleeps), a network change as a different set of interface addresses.

use std::time::{Duration, Instant, SystemTime};

/// How often the poller looks at the clocks and the interfaces.
pub const POLL: Duration = Duration::from_secs(5);
/// A wall-clock jump this much beyond the monotonic clock means the machine slept.
const SLEEP_THRESHOLD: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Interval,
    NetworkChanged,
    Woke,
}

/// Interface addresses, sorted: two equal signatures mean the same network attachment.
pub fn network_signature() -> Vec<String> {
    let Ok(networks) = sysinfo::Networks::new_with_refreshed_list() else {
        return Vec::new();
    };
    let mut sig: Vec<String> = networks
        .iter()
        .flat_map(|(name, data)| {
            data.ip_networks()
                .iter()
                .map(move |n| format!("{} {}/{}", name.to_string_lossy(), n.addr, n.prefix))
        })
        .collect();
    sig.sort();
    sig
}

/// The signature without the lines of `own` addresses (Postern's own tunnel): its coming and
/// going is not a change of the network the device is attached to.
pub fn without(network: Vec<String>, own: &[String]) -> Vec<String> {
    network
        .into_iter()
        .filter(|line| {
            !own.iter().any(|a| {
                line.split_whitespace()
                    .nth(1)
                    .and_then(|net| net.split('/').next())
                    == Some(a.as_str())
            })
        })
        .collect()
}

/// The decision, fed with readings: pure, so it is tested without sleeping or unplugging.
#[derive(Debug)]
pub struct Watch {
    interval: Duration,
    last_check: Instant,
    last_poll: (Instant, SystemTime),
    network: Vec<String>,
    own: Vec<String>,
    every: Duration,
}

impl Watch {
    pub fn new(interval: Duration, now: Instant, wall: SystemTime, network: Vec<String>) -> Self {
        Self {
            interval,
            last_check: now,
            last_poll: (now, wall),
            network,
            own: Vec::new(),
            every: POLL,
        }
    }

    /// Polls this often instead of [`POLL`].
    pub fn polling(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// Addresses of Postern's own tunnel, left out of every comparison.
    pub fn ignore(&mut self, own: &[String]) {
        if self.own != own {
            self.own = own.to_vec();
            self.network = without(std::mem::take(&mut self.network), own);
        }
    }

    /// One poll: what (if anything) calls for a new evaluation now.
    pub fn poll(
        &mut self,
        now: Instant,
        wall: SystemTime,
        network: Vec<String>,
    ) -> Option<Trigger> {
        let network = without(network, &self.own);
        let (prev_mono, prev_wall) = self.last_poll;
        self.last_poll = (now, wall);
        let mono = now.saturating_duration_since(prev_mono);
        let walled = wall.duration_since(prev_wall).unwrap_or_default();
        let trigger = if walled > mono + SLEEP_THRESHOLD {
            Some(Trigger::Woke)
        } else if network != self.network {
            Some(Trigger::NetworkChanged)
        } else if now.saturating_duration_since(self.last_check) >= self.interval {
            Some(Trigger::Interval)
        } else {
            None
        };
        self.network = network;
        if trigger.is_some() {
            self.last_check = now;
        }
        trigger
    }

    /// Waits for the next trigger, polling every [`POLL`] (or as [`Watch::polling`] says).
    pub async fn next(&mut self) -> Trigger {
        loop {
            tokio::time::sleep(self.every).await;
            let network = tokio::task::spawn_blocking(network_signature)
                .await
                .unwrap_or_default();
            if let Some(t) = self.poll(Instant::now(), SystemTime::now(), network) {
                return t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_network_change_and_wake() {
        let t0 = Instant::now();
        let w0 = SystemTime::now();
        let net = || vec!["eth0 198.51.100.10/24".to_string()];
        let mut w = Watch::new(Duration::from_secs(300), t0, w0, net());
        let s = |n| Duration::from_secs(n);
        assert_eq!(w.poll(t0 + s(5), w0 + s(5), net()), None);
        // The VPN came up: a tun address appeared.
        let vpn = vec![
            "eth0 198.51.100.10/24".to_string(),
            "tun0 10.200.0.2/22".to_string(),
        ];
        assert_eq!(
            w.poll(t0 + s(10), w0 + s(10), vpn.clone()),
            Some(Trigger::NetworkChanged)
        );
        assert_eq!(w.poll(t0 + s(15), w0 + s(15), vpn.clone()), None);
        // The lid was closed for an hour: monotonic time moved 5 s, the wall clock an hour.
        assert_eq!(
            w.poll(t0 + s(20), w0 + s(3620), vpn.clone()),
            Some(Trigger::Woke)
        );
        // Five minutes after the last check.
        assert_eq!(w.poll(t0 + s(319), w0 + s(3919), vpn.clone()), None);
        assert_eq!(
            w.poll(t0 + s(320), w0 + s(3920), vpn),
            Some(Trigger::Interval)
        );
    }

    #[test]
    fn postern_s_own_tunnel_is_no_network_change() {
        let t0 = Instant::now();
        let w0 = SystemTime::now();
        let s = |n| Duration::from_secs(n);
        let laptop = vec!["eth0 198.51.100.10/24".to_string()];
        let mut w = Watch::new(Duration::from_secs(300), t0, w0, laptop.clone());
        w.ignore(&["10.200.0.2".to_string()]);
        let with_tunnel = vec![
            "eth0 198.51.100.10/24".to_string(),
            "tun0 10.200.0.2/22".to_string(),
        ];
        assert_eq!(w.poll(t0 + s(5), w0 + s(5), with_tunnel.clone()), None);
        assert_eq!(w.poll(t0 + s(10), w0 + s(10), laptop.clone()), None);
        // Another interface, though, is a new network.
        let wifi = vec![
            "tun0 10.200.0.2/22".to_string(),
            "wlan0 192.0.2.7/24".to_string(),
        ];
        assert_eq!(
            w.poll(t0 + s(15), w0 + s(15), wifi),
            Some(Trigger::NetworkChanged)
        );
    }

    // Windows is left out: wine answers sysinfo's interface query with no interfaces at all.
    #[test]
    #[cfg(unix)]
    fn this_machine_has_a_network_signature() {
        // The loopback interface's name differs (lo, lo0, "Loopback Pseudo-Interface 1"); its
        // address does not.
        let loopback = |l: &String| l.ends_with(" 127.0.0.1/8") || l.ends_with(" ::1/128");
        assert!(
            network_signature().iter().any(loopback),
            "{:?}",
            network_signature()
        );
    }
}
