//! The VPN's DNS: the servers and search domains the Client VPN endpoint pushes
//! (`dhcp-option DNS` / `DOMAIN`), read from OpenVPN's own log of the push, and the resolver
//! managers' commands that apply them (systemd-resolved on Linux, `scutil` on macOS): plain
//! functions, tested here; the helper runs them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use postern_types::dns::DnsState;

/// Pushed settings beyond these counts are ignored (resolvers use the first few anyway).
const MAX_SERVERS: usize = 8;
const MAX_DOMAINS: usize = 16;

/// What the endpoint pushed for name resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedDns {
    pub servers: Vec<IpAddr>,
    /// Search domains, checked to be plain DNS names.
    pub domains: Vec<String>,
}

impl PushedDns {
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.domains.is_empty()
    }
}

/// What one line of OpenVPN's log says about DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFact {
    /// `PUSH: Received control message: 'PUSH_REPLY,…'`
    Pushed(PushedDns),
    /// `TUN/TAP device tun0 opened`: the interface the settings belong to.
    Device(String),
}

/// Reads a log message (without OpenVPN's timestamp) for the push and the tun device.
pub fn log_fact(message: &str) -> Option<LogFact> {
    if let Some(rest) = message.split_once("PUSH: Received control message: '") {
        let reply = rest.1.strip_suffix('\'').unwrap_or(rest.1);
        let options = reply.strip_prefix("PUSH_REPLY,")?;
        return Some(LogFact::Pushed(pushed_dns(options)));
    }
    let rest = message.split_once("TUN/TAP device ")?.1;
    let device = rest.strip_suffix(" opened")?;
    is_interface_name(device).then(|| LogFact::Device(device.to_string()))
}

/// The DNS options of a PUSH_REPLY's comma-separated option list. Malformed values (not an
/// address, not a DNS name) are left out: they reach no resolver.
pub fn pushed_dns(options: &str) -> PushedDns {
    let mut dns = PushedDns::default();
    for option in options.split(',') {
        let words: Vec<&str> = option.split_whitespace().collect();
        match words.as_slice() {
            ["dhcp-option", "DNS" | "DNS6", address] => {
                if let Ok(ip) = address.parse::<IpAddr>()
                    && !dns.servers.contains(&ip)
                    && dns.servers.len() < MAX_SERVERS
                {
                    dns.servers.push(ip);
                }
            }
            [
                "dhcp-option",
                "DOMAIN" | "DOMAIN-SEARCH" | "ADAPTER_DOMAIN_SUFFIX",
                domain,
            ] => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                if is_dns_name(&domain)
                    && !dns.domains.contains(&domain)
                    && dns.domains.len() < MAX_DOMAINS
                {
                    dns.domains.push(domain);
                }
            }
            _ => {}
        }
    }
    dns
}

/// A plain DNS name: labels of letters, digits and inner hyphens, 63 bytes each, 253 in all.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A Linux or macOS interface name as OpenVPN reports it (`tun0`, `utun4`).
fn is_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// systemd-resolved: the `resolvectl` argument lists that set the link's servers and domains.
pub fn resolvectl_commands(device: &str, dns: &PushedDns) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    if !dns.servers.is_empty() {
        let mut c = vec!["dns".to_string(), device.to_string()];
        c.extend(dns.servers.iter().map(IpAddr::to_string));
        commands.push(c);
    }
    if !dns.domains.is_empty() {
        let mut c = vec!["domain".to_string(), device.to_string()];
        c.extend(dns.domains.iter().cloned());
        commands.push(c);
    }
    commands
}

/// Why `resolvectl` could not be used, from its exit and its error text.
pub fn resolvectl_refusal(stderr: &str) -> String {
    let text = stderr.trim();
    if text.contains("org.freedesktop.resolve1")
        || text.contains("Failed to connect to bus")
        || text.contains("not provided by any .service")
    {
        "no resolver manager (systemd-resolved) runs on this machine".into()
    } else if text.is_empty() {
        "systemd-resolved refused the settings".into()
    } else {
        format!(
            "systemd-resolved refused the settings: {}",
            postern_types::text::escape_control(text.lines().next().unwrap_or(text))
        )
    }
}

/// The `scutil` key Postern owns on macOS: one DNS service entry for the tunnel.
pub const SCUTIL_KEY: &str = "State:/Network/Service/org.postern.vpn/DNS";

/// macOS: the `scutil` script (its stdin) that publishes the tunnel's DNS as a supplemental
/// resolver; with no domains, the servers answer every name.
pub fn scutil_script(dns: &PushedDns) -> String {
    let servers: Vec<String> = dns.servers.iter().map(IpAddr::to_string).collect();
    let mut script = format!("d.init\nd.add ServerAddresses * {}\n", servers.join(" "));
    if !dns.domains.is_empty() {
        let domains = dns.domains.join(" ");
        script += &format!(
            "d.add SearchDomains * {domains}\nd.add SupplementalMatchDomains * {domains}\n"
        );
    }
    script + &format!("set {SCUTIL_KEY}\nquit\n")
}

/// macOS: the script that removes Postern's entry again.
pub fn scutil_removal() -> String {
    format!("remove {SCUTIL_KEY}\nquit\n")
}

/// macOS: the name servers `scutil --dns` lists in resolver entries whose search or match
/// domains include `domain`, to confirm the settings took.
pub fn scutil_servers_for(output: &str, domain: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for entry in output.split("\nresolver #") {
        let mut servers = Vec::new();
        let mut matches = false;
        for line in entry.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if key.starts_with("nameserver[") {
                servers.extend(value.parse::<IpAddr>().ok());
            } else if (key.starts_with("search domain[") || key == "domain") && value == domain {
                matches = true;
            }
        }
        if matches {
            for server in servers {
                if !found.contains(&server) {
                    found.push(server);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenVPN 2.6's log of an AWS Client VPN push (recorded; addresses of the lab).
    const PUSH: &str = "PUSH: Received control message: 'PUSH_REPLY,route 10.0.0.0 255.255.0.0,route-gateway 10.200.0.1,topology subnet,ping 1,ping-restart 20,dhcp-option DNS 10.0.0.2,dhcp-option DNS 10.0.0.3,dhcp-option DOMAIN corp.internal,ifconfig 10.200.0.2 255.255.252.0,peer-id 0,cipher AES-256-GCM'";

    #[test]
    fn the_push_reply_gives_the_servers_and_domains() {
        assert_eq!(
            log_fact(PUSH),
            Some(LogFact::Pushed(PushedDns {
                servers: vec!["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()],
                domains: vec!["corp.internal".into()],
            }))
        );
        assert_eq!(
            log_fact("TUN/TAP device tun0 opened"),
            Some(LogFact::Device("tun0".into()))
        );
        assert_eq!(log_fact("Initialization Sequence Completed"), None);
        // A push without DNS is a push: the state says none was set.
        assert_eq!(
            log_fact(
                "PUSH: Received control message: 'PUSH_REPLY,route-gateway 10.200.0.1,ping 1'"
            ),
            Some(LogFact::Pushed(PushedDns::default()))
        );
    }

    #[test]
    fn malformed_and_hostile_values_reach_no_resolver() {
        let dns = pushed_dns(
            "dhcp-option DNS not-an-ip,dhcp-option DNS 10.0.0.2 extra,dhcp-option DOMAIN -bad.example,\
             dhcp-option DOMAIN a;rm -rf /,dhcp-option DOMAIN Corp.Internal.,dhcp-option DOMAIN corp.internal,\
             dhcp-option DNS6 fd00::53,dhcp-option DOMAIN-SEARCH eu.corp.internal",
        );
        assert_eq!(dns.servers, vec!["fd00::53".parse::<IpAddr>().unwrap()]);
        assert_eq!(dns.domains, vec!["corp.internal", "eu.corp.internal"]);
        assert_eq!(log_fact("TUN/TAP device tun0;x opened"), None);
        assert!(!is_dns_name(&"a".repeat(64)));
        assert!(is_dns_name(&["a".repeat(63), "b".into()].join(".")));
        let many: Vec<String> = (1..=20)
            .map(|i| format!("dhcp-option DNS 10.0.0.{i}"))
            .collect();
        assert_eq!(pushed_dns(&many.join(",")).servers.len(), MAX_SERVERS);
    }

    #[test]
    fn resolvectl_gets_one_command_per_setting_and_a_missing_manager_is_named() {
        let dns = pushed_dns("dhcp-option DNS 10.0.0.2,dhcp-option DOMAIN corp.internal");
        assert_eq!(
            resolvectl_commands("tun0", &dns),
            vec![
                vec!["dns", "tun0", "10.0.0.2"],
                vec!["domain", "tun0", "corp.internal"]
            ]
        );
        assert!(resolvectl_commands("tun0", &PushedDns::default()).is_empty());
        // resolvectl's own words when systemd-resolved is not running (recorded, systemd 252).
        assert_eq!(
            resolvectl_refusal(
                "Failed to set DNS configuration: The name org.freedesktop.resolve1 was not provided by any .service files\n"
            ),
            "no resolver manager (systemd-resolved) runs on this machine"
        );
        assert!(
            resolvectl_refusal("Failed to resolve interface \"tun9\": No such device\n")
                .contains("No such device")
        );
    }

    /// `scutil --dns` with a supplemental resolver for the VPN, in the layout macOS prints (written
    /// from that layout, not captured on a Mac).
    const SCUTIL_DNS: &str = "DNS configuration\n\nresolver #1\n  search domain[0] : home.example\n  nameserver[0] : 192.168.1.1\n  if_index : 15 (en0)\n  flags    : Request A records\n  reach    : 0x00020002 (Reachable,Directly Reachable Address)\n\nresolver #2\n  domain   : corp.internal\n  nameserver[0] : 10.0.0.2\n  nameserver[1] : 10.0.0.3\n  flags    : Supplemental, Request A records\n  reach    : 0x00000003 (Reachable,Transient Connection)\n  order    : 102400\n\nDNS configuration (for scoped queries)\n";

    #[test]
    fn scutil_scripts_and_the_servers_it_reports() {
        let dns = pushed_dns("dhcp-option DNS 10.0.0.2,dhcp-option DOMAIN corp.internal");
        assert_eq!(
            scutil_script(&dns),
            "d.init\nd.add ServerAddresses * 10.0.0.2\nd.add SearchDomains * corp.internal\n\
             d.add SupplementalMatchDomains * corp.internal\nset State:/Network/Service/org.postern.vpn/DNS\nquit\n"
        );
        assert_eq!(
            scutil_removal(),
            "remove State:/Network/Service/org.postern.vpn/DNS\nquit\n"
        );
        assert_eq!(
            scutil_servers_for(SCUTIL_DNS, "corp.internal"),
            vec![
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "10.0.0.3".parse().unwrap()
            ]
        );
        assert!(scutil_servers_for(SCUTIL_DNS, "other.example").is_empty());
    }
}
