//! `[egress]`: echo endpoints, quorum, the NAT's addresses, allowed countries, the country
//! database.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use super::reader::{Diagnostics, Table};
use super::{countries, parse_duration};
use crate::country::CountryDatabase;

/// The `[egress]` section of the policy, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EgressSettings {
    pub echo_urls: Vec<Url>,
    pub quorum: usize,
    pub nat_addresses: Vec<IpNet>,
    /// ISO 3166 alpha-2; empty means any country.
    pub allowed_countries: Vec<String>,
    pub geoip_database: Option<std::path::PathBuf>,
    pub allow_plain_http: bool,
    pub timeout: Duration,
}

/// Not the address of a NAT gateway: private, loopback, link-local, shared (CGNAT),
/// unspecified or multicast space.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

pub const DEFAULT_ECHO: &str = "https://checkip.amazonaws.com/";

pub(super) fn read(t: &mut Table, d: &mut Diagnostics) -> Option<EgressSettings> {
    let before = d.issues.len();
    let allow_plain_http = t
        .bool(d, "allow_plain_http")
        .map(|b| b.into_inner())
        .unwrap_or(false);
    let echo_urls: Vec<Url> = match t.strings(d, "echo_urls") {
        None => vec![Url::parse(DEFAULT_ECHO).ok()?],
        Some(list) => {
            if list.is_empty() {
                d.at(
                    t.span(),
                    "`egress.echo_urls` must name at least one echo endpoint",
                );
            }
            list.iter()
                .filter_map(|s| match Url::parse(s.get_ref()) {
                    Ok(u) if u.scheme() == "https" => Some(u),
                    Ok(u) if u.scheme() == "http" && allow_plain_http => Some(u),
                    Ok(_) => {
                        d.at(s.span(), format!("echo endpoint \"{}\" must use https:// (plain http only with allow_plain_http = true, for a lab)", s.get_ref()));
                        None
                    }
                    Err(e) => {
                        d.at(s.span(), format!("echo endpoint \"{}\" is not a URL: {e}", s.get_ref()));
                        None
                    }
                })
                .collect()
        }
    };
    let quorum = match t.integer(d, "quorum") {
        None => 1,
        Some(q) => {
            let n = *q.get_ref();
            if n < 1 || n as usize > echo_urls.len().max(1) {
                d.at(q.span(), format!("`egress.quorum` must be between 1 and the number of echo endpoints ({}), found {n}", echo_urls.len()));
            }
            n.max(1) as usize
        }
    };
    let nat_addresses: Vec<IpNet> = match t.strings(d, "nat_addresses") {
        None => {
            d.at(
                t.span(),
                "missing required key `egress.nat_addresses` (the NAT gateways' Elastic IPs)",
            );
            Vec::new()
        }
        Some(list) => {
            if list.is_empty() {
                d.at(
                    t.span(),
                    "`egress.nat_addresses` must list at least one address",
                );
            }
            list.iter()
                .filter_map(|s| {
                    let text = s.get_ref();
                    let parsed = text
                        .parse::<IpNet>()
                        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from));
                    match parsed {
                        Ok(net) if is_public(net.network()) => Some(net.trunc()),
                        Ok(_) => {
                            d.at(s.span(), format!("\"{text}\" is a private address; aws:SourceIp only ever sees public addresses"));
                            None
                        }
                        Err(_) => {
                            d.at(s.span(), format!("\"{text}\" is not an IP address or CIDR (e.g. 203.0.113.10/32)"));
                            None
                        }
                    }
                })
                .collect()
        }
    };
    let allowed_countries = read_countries(t, d, "allowed_countries");
    let geoip_database = t.string(d, "geoip_database").and_then(|s| {
        let path = PathBuf::from(s.get_ref());
        match CountryDatabase::open(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                d.at(s.span(), e.to_string());
                None
            }
        }
    });
    if !allowed_countries.is_empty() && geoip_database.is_none() && d.issues.len() == before {
        d.at(
            t.span(),
            "`egress.allowed_countries` needs `egress.geoip_database` to tell the country",
        );
    }
    let timeout = t
        .string(d, "timeout")
        .and_then(|s| match parse_duration(s.get_ref()) {
            Some(dur) if dur > Duration::ZERO && dur <= Duration::from_secs(60) => Some(dur),
            _ => {
                d.at(s.span(), format!("`egress.timeout` must be a duration up to 60s such as \"3s\", found \"{}\"", s.get_ref()));
                None
            }
        })
        .unwrap_or(Duration::from_secs(3));
    (d.issues.len() == before).then_some(EgressSettings {
        echo_urls,
        quorum,
        nat_addresses,
        allowed_countries,
        geoip_database,
        allow_plain_http,
        timeout,
    })
}

/// A list of ISO 3166-1 alpha-2 codes.
pub(super) fn read_countries(t: &mut Table, d: &mut Diagnostics, key: &str) -> Vec<String> {
    t.strings(d, key)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            if countries::is_iso_alpha2(c.get_ref()) {
                Some(c.into_inner())
            } else {
                d.at(c.span(), format!("\"{}\" is not an ISO 3166 country code (two capital letters such as DE, GB, US)", c.get_ref()));
                None
            }
        })
        .collect()
}
