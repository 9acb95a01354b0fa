//! `[handler]`: the rules the Client VPN client-connect handler applies to each connection.

use ipnet::IpNet;

use super::egress::read_countries;
use super::reader::{Diagnostics, Table};
use crate::posture::Version;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HandlerRules {
    /// ISO 3166 alpha-2; empty means any country.
    pub allowed_countries: Vec<String>,
    pub geoip_database: Option<std::path::PathBuf>,
    /// Source addresses allowed (empty: any) and refused.
    pub allowed_source_cidrs: Vec<IpNet>,
    pub blocked_source_cidrs: Vec<IpNet>,
    pub blocked_users: Vec<String>,
    pub blocked_common_names: Vec<String>,
    /// Schema v2: the user must be in at least one of these groups (empty: no group rule).
    pub required_groups: Vec<String>,
    pub min_client_version: Option<Version>,
    /// The admin's message shown to a denied user (at most 255 characters).
    pub deny_message: Option<String>,
}

fn cidrs(t: &mut Table, d: &mut Diagnostics, key: &str) -> Vec<IpNet> {
    t.strings(d, key)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| {
            let text = s.get_ref();
            match text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
            {
                Ok(n) => Some(n.trunc()),
                Err(_) => {
                    d.at(s.span(), format!("\"{text}\" is not an IP address or CIDR"));
                    None
                }
            }
        })
        .collect()
}

pub(super) fn read(t: &mut Table, d: &mut Diagnostics) -> Option<HandlerRules> {
    let before = d.issues.len();
    let allowed_countries = read_countries(t, d, "allowed_countries");
    let geoip_database = t
        .string(d, "geoip_database")
        .map(|s| std::path::PathBuf::from(s.into_inner()));
    let allowed_source_cidrs = cidrs(t, d, "allowed_source_cidrs");
    let blocked_source_cidrs = cidrs(t, d, "blocked_source_cidrs");
    for a in &allowed_source_cidrs {
        if blocked_source_cidrs.iter().any(|b| b.contains(a)) {
            d.at(
                t.span(),
                format!("{a} is both allowed and blocked (inside a blocked range)"),
            );
        }
    }
    let list = |t: &mut Table, d: &mut Diagnostics, key: &str| {
        t.strings(d, key)
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.into_inner())
            .collect::<Vec<_>>()
    };
    let blocked_users = list(t, d, "blocked_users");
    let blocked_common_names = list(t, d, "blocked_common_names");
    let required_groups = list(t, d, "required_groups");
    let min_client_version = t.string(d, "min_client_version").and_then(|s| match Version::parse(s.get_ref()) {
        Some(v) => Some(v),
        None => {
            d.at(s.span(), format!("`handler.min_client_version` is not a version such as \"2.5\", found \"{}\"", s.get_ref()));
            None
        }
    });
    let deny_message = t.string(d, "deny_message").and_then(|s| {
        if s.get_ref().chars().count() > 255 {
            d.at(
                s.span(),
                "`handler.deny_message` must be at most 255 characters (the Client VPN limit)",
            );
            None
        } else {
            Some(s.into_inner())
        }
    });
    if !allowed_countries.is_empty() && geoip_database.is_none() && d.issues.len() == before {
        d.at(
            t.span(),
            "`handler.allowed_countries` needs `handler.geoip_database`",
        );
    }
    (d.issues.len() == before).then_some(HandlerRules {
        allowed_countries,
        geoip_database,
        allowed_source_cidrs,
        blocked_source_cidrs,
        blocked_users,
        blocked_common_names,
        required_groups,
        min_client_version,
        deny_message,
    })
}
