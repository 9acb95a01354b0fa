//! How the VPN's pushed DNS stands on this machine while the tunnel is up.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// How the pushed DNS stands on this machine while the tunnel is up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "dns",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum DnsState {
    /// The endpoint pushed no DNS: the machine resolves as before.
    #[default]
    NotPushed,
    /// In effect for the tunnel's interface, through `via` (the resolver manager).
    Applied {
        servers: Vec<IpAddr>,
        domains: Vec<String>,
        via: String,
    },
    /// Pushed, but this machine's resolver could not take it: names inside the VPC will not
    /// resolve through the VPN.
    NotApplied { reason: String },
}

impl DnsState {
    /// One line for `vpn status` and the diagnostics.
    pub fn describe(&self) -> String {
        match self {
            DnsState::NotPushed => "DNS: the VPN sets none; names resolve as before".into(),
            DnsState::Applied {
                servers,
                domains,
                via,
            } => {
                let servers: Vec<String> = servers.iter().map(IpAddr::to_string).collect();
                let mut text = format!("DNS: {} through the VPN", servers.join(", "));
                if !domains.is_empty() {
                    text += &format!(" for {}", domains.join(", "));
                }
                text + &format!(" ({via})")
            }
            DnsState::NotApplied { reason } => format!(
                "DNS: the VPN's name servers are not in use ({reason}); names inside the company network will not resolve"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_reads_as_a_sentence() {
        let applied = DnsState::Applied {
            servers: vec!["10.0.0.2".parse().unwrap()],
            domains: vec!["corp.internal".into()],
            via: "systemd-resolved".into(),
        };
        assert_eq!(
            applied.describe(),
            "DNS: 10.0.0.2 through the VPN for corp.internal (systemd-resolved)"
        );
        let json = serde_json::to_value(&applied).unwrap();
        assert_eq!(json["dns"], "applied");
        assert!(
            DnsState::NotApplied {
                reason: "no resolver manager".into()
            }
            .describe()
            .contains("will not resolve")
        );
    }
}
