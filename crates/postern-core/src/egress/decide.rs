//! The egress decision, a pure function of the settings and the echo answers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::{CountryDatabase, EchoAnswer, EchoResult, EgressSettings};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(
    tag = "verdict",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Verdict {
    #[error("Traffic leaves through the company NAT ({address}).")]
    Match {
        address: IpAddr,
        nat: IpNet,
        country: Option<String>,
    },
    #[error(
        "Traffic leaves from {address}, which is not the company NAT, so AWS would refuse these credentials."
    )]
    Mismatch { address: IpAddr },
    #[error("Traffic leaves from {address} in {country}, a country the policy does not allow.")]
    CountryNotAllowed { address: IpAddr, country: String },
    #[error("The public address could not be determined: {reason}.")]
    Undetermined { reason: Undetermined },
}

impl Verdict {
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Verdict::Match { address, .. }
            | Verdict::Mismatch { address }
            | Verdict::CountryNotAllowed { address, .. } => Some(*address),
            Verdict::Undetermined { .. } => None,
        }
    }

    pub fn is_match(&self) -> bool {
        matches!(self, Verdict::Match { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(
    tag = "why",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Undetermined {
    #[error("no echo endpoint answered with an address ({})", summary(.failures))]
    NoAnswers { failures: Vec<String> },
    #[error("the echo endpoints disagree ({})", .answers.iter().map(|(u, a)| format!("{u} says {a}")).collect::<Vec<_>>().join(", "))]
    Disagreement { answers: Vec<(String, IpAddr)> },
    #[error("only {agreeing} echo endpoint(s) answered, the policy wants {quorum}")]
    BelowQuorum { agreeing: usize, quorum: usize },
}

fn summary(failures: &[String]) -> String {
    failures.join("; ")
}

fn describe_failure(r: &EchoResult) -> String {
    let what = match &r.answer {
        EchoAnswer::Address { address } => return format!("{} answered {address}", r.url),
        EchoAnswer::TimedOut => "timed out".to_string(),
        EchoAnswer::Unreachable { detail } => format!("unreachable: {detail}"),
        EchoAnswer::HttpStatus { status } => format!("answered HTTP {status}"),
        EchoAnswer::NotAnAddress { snippet } => {
            format!("answered something that is not an address ({snippet:?})")
        }
        EchoAnswer::NotPublic { address } => format!("answered the non-public address {address}"),
    };
    format!("{} {what}", r.url)
}

pub fn decide(
    settings: &EgressSettings,
    answers: &[EchoResult],
    countries: Option<&CountryDatabase>,
) -> Verdict {
    let addresses: Vec<(String, IpAddr)> = answers
        .iter()
        .filter_map(|r| match r.answer {
            EchoAnswer::Address { address } => Some((r.url.clone(), address)),
            _ => None,
        })
        .collect();
    if addresses.is_empty() {
        return Verdict::Undetermined {
            reason: Undetermined::NoAnswers {
                failures: answers.iter().map(describe_failure).collect(),
            },
        };
    }
    let distinct: BTreeMap<IpAddr, usize> =
        addresses.iter().fold(BTreeMap::new(), |mut m, (_, a)| {
            *m.entry(*a).or_default() += 1;
            m
        });
    if distinct.len() > 1 {
        return Verdict::Undetermined {
            reason: Undetermined::Disagreement { answers: addresses },
        };
    }
    if addresses.len() < settings.quorum {
        return Verdict::Undetermined {
            reason: Undetermined::BelowQuorum {
                agreeing: addresses.len(),
                quorum: settings.quorum,
            },
        };
    }
    let address = addresses[0].1;
    let Some(nat) = settings.nat_addresses.iter().find(|n| n.contains(&address)) else {
        return Verdict::Mismatch { address };
    };
    let country = countries.and_then(|db| db.country(address));
    if !settings.allowed_countries.is_empty() {
        match &country {
            Some(c) if settings.allowed_countries.contains(c) => {}
            Some(c) => {
                return Verdict::CountryNotAllowed {
                    address,
                    country: c.clone(),
                };
            }
            None => {
                return Verdict::CountryNotAllowed {
                    address,
                    country: "an unknown country".into(),
                };
            }
        }
    }
    Verdict::Match {
        address,
        nat: *nat,
        country,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::is_public;
    use std::time::Duration;

    fn settings(quorum: usize) -> EgressSettings {
        EgressSettings {
            echo_urls: vec![],
            quorum,
            nat_addresses: vec![
                "203.0.113.10/32".parse().unwrap(),
                "2001:db8:1::/48".parse().unwrap(),
            ],
            allowed_countries: vec![],
            geoip_database: None,
            allow_plain_http: false,
            timeout: Duration::from_secs(3),
        }
    }

    fn says(url: &str, answer: EchoAnswer) -> EchoResult {
        EchoResult {
            url: url.into(),
            answer,
            elapsed_ms: 1,
        }
    }

    fn addr(a: &str) -> EchoAnswer {
        EchoAnswer::Address {
            address: a.parse().unwrap(),
        }
    }

    #[test]
    fn agreement_inside_the_nat_matches() {
        let v = decide(
            &settings(2),
            &[
                says("a", addr("203.0.113.10")),
                says("b", addr("203.0.113.10")),
                says("c", EchoAnswer::TimedOut),
            ],
            None,
        );
        assert!(v.is_match(), "{v:?}");
        let v6 = decide(&settings(1), &[says("a", addr("2001:db8:1::5"))], None);
        assert!(v6.is_match(), "IPv6 NAT ranges match too");
    }

    #[test]
    fn an_address_outside_the_nat_is_a_mismatch() {
        let v = decide(&settings(1), &[says("a", addr("198.51.100.10"))], None);
        assert_eq!(
            v,
            Verdict::Mismatch {
                address: "198.51.100.10".parse().unwrap()
            }
        );
    }

    #[test]
    fn one_lying_echo_makes_it_undetermined_not_a_pass() {
        let v = decide(
            &settings(1),
            &[
                says("a", addr("203.0.113.10")),
                says("b", addr("203.0.113.99")),
            ],
            None,
        );
        assert!(
            matches!(
                v,
                Verdict::Undetermined {
                    reason: Undetermined::Disagreement { .. }
                }
            ),
            "{v:?}"
        );
        assert!(
            v.to_string()
                .contains("a says 203.0.113.10, b says 203.0.113.99")
        );
    }

    #[test]
    fn too_few_answers_is_below_quorum() {
        let v = decide(
            &settings(2),
            &[
                says("a", addr("203.0.113.10")),
                says("b", EchoAnswer::TimedOut),
            ],
            None,
        );
        assert_eq!(
            v,
            Verdict::Undetermined {
                reason: Undetermined::BelowQuorum {
                    agreeing: 1,
                    quorum: 2
                }
            }
        );
    }

    #[test]
    fn no_usable_answer_names_every_failure() {
        let v = decide(
            &settings(1),
            &[
                says("a", EchoAnswer::TimedOut),
                says(
                    "b",
                    EchoAnswer::NotAnAddress {
                        snippet: "<html>".into(),
                    },
                ),
                says(
                    "c",
                    EchoAnswer::NotPublic {
                        address: "10.1.2.3".parse().unwrap(),
                    },
                ),
            ],
            None,
        );
        let text = v.to_string();
        assert!(
            text.contains("a timed out") && text.contains("<html>") && text.contains("10.1.2.3"),
            "{text}"
        );
    }

    #[test]
    fn public_means_not_private_loopback_link_local_or_cgnat() {
        for p in [
            "203.0.113.10",
            "198.51.100.1",
            "8.8.8.8",
            "2001:db8::1",
            "2600::1",
        ] {
            assert!(is_public(p.parse().unwrap()), "{p}");
        }
        for n in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "224.0.0.1",
        ] {
            assert!(!is_public(n.parse().unwrap()), "{n}");
        }
    }

    #[test]
    fn echo_bodies() {
        assert_eq!(
            super::super::parse_echo_body(b"203.0.113.10\n"),
            addr("203.0.113.10")
        );
        assert!(matches!(
            super::super::parse_echo_body(b"<html><body>Login</body></html>"),
            EchoAnswer::NotAnAddress { .. }
        ));
        assert!(matches!(
            super::super::parse_echo_body(&[0xff, 0x00, 0x13]),
            EchoAnswer::NotAnAddress { .. }
        ));
        assert!(matches!(
            super::super::parse_echo_body(b"192.168.0.7"),
            EchoAnswer::NotPublic { .. }
        ));
    }
}
