//! `[handler]`: the rules the Client VPN client-connect handler applies to each connection.

use ipnet::IpNet;

use super::egress::read_countries;
use super::reader::{Diagnostics, Located, Table};
use crate::version::Version;

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
    /// Times when connections are refused (planned maintenance).
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// What a minimum client version does when the client reports none.
    pub unknown_client_version: UnknownClientVersion,
    /// Enforce the decision, or only log it (`shadow`: every connection is allowed).
    pub mode: HandlerMode,
    /// A Cedar policy evaluated beside the rules above (the handler reads and type-checks it;
    /// a relative path is read beside the policy file).
    pub cedar_policy: Option<std::path::PathBuf>,
    /// The directory's DNS domain: bare names and `NETBIOS\user` are read as `user@domain`.
    pub user_domain: Option<String>,
    /// How the endpoint authenticates users, which names the Cedar context's identity
    /// namespace (`saml` or `active-directory`); certificates are always `mutual-authentication`.
    pub user_authentication: UserAuthentication,
    /// The zone of the Cedar context's local time (default: the first maintenance window's,
    /// else UTC).
    pub time_zone: Option<String>,
}

/// A minimum client version with no version reported: a policy choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownClientVersion {
    #[default]
    Deny,
    Allow,
}

/// The endpoint's user authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserAuthentication {
    #[default]
    Saml,
    ActiveDirectory,
}

/// Whether the handler's decision is enforced or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandlerMode {
    #[default]
    Enforce,
    Shadow,
}

impl HandlerRules {
    /// The zone the Cedar context's local time is read in.
    pub fn local_time_zone(&self) -> &str {
        self.time_zone
            .as_deref()
            .or(self
                .maintenance_windows
                .first()
                .map(|w| w.time_zone.as_str()))
            .unwrap_or("UTC")
    }
}

/// A recurring window in a time zone: on `days` (all when empty), from `start` to `end` local
/// time (past midnight when `end` is earlier than `start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub days: Vec<jiff::civil::Weekday>,
    pub start: jiff::civil::Time,
    pub end: jiff::civil::Time,
    pub time_zone: String,
}

impl MaintenanceWindow {
    /// Whether `at` falls in the window (in the window's own time zone).
    pub fn contains(&self, at: jiff::Timestamp) -> bool {
        let Ok(tz) = jiff::tz::TimeZone::get(&self.time_zone) else {
            return false;
        };
        let local = at.to_zoned(tz);
        let (day, time) = (local.weekday(), local.time());
        let on = |d: jiff::civil::Weekday| self.days.is_empty() || self.days.contains(&d);
        if self.start < self.end {
            on(day) && time >= self.start && time < self.end
        } else {
            // Crosses midnight: the evening part belongs to the listed day, the morning part to
            // the day after it.
            (on(day) && time >= self.start) || (on(day.previous()) && time < self.end)
        }
    }
}

fn weekday(name: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match name.to_ascii_lowercase().get(..3)? {
        "mon" => Monday,
        "tue" => Tuesday,
        "wed" => Wednesday,
        "thu" => Thursday,
        "fri" => Friday,
        "sat" => Saturday,
        "sun" => Sunday,
        _ => return None,
    })
}

/// The zone's IANA name if the bundled database knows it; otherwise its location is reported.
fn known_time_zone(d: &mut Diagnostics, s: Located<String>) -> Option<String> {
    match jiff::tz::TimeZone::get(s.get_ref()) {
        Ok(_) => Some(s.into_inner()),
        Err(_) => {
            d.at(
                s.span(),
                format!(
                    "unknown time zone \"{}\" (use an IANA name such as Europe/Berlin)",
                    s.get_ref()
                ),
            );
            None
        }
    }
}

fn windows(t: &mut Table, d: &mut Diagnostics) -> Vec<MaintenanceWindow> {
    let mut out = Vec::new();
    for mut w in t.tables(d, "maintenance_windows") {
        let time = |w: &mut Table, d: &mut Diagnostics, key: &str| {
            w.required_string(d, key).and_then(|s| {
                match jiff::civil::Time::strptime("%H:%M", s.get_ref()) {
                    Ok(t) => Some(t),
                    Err(_) => {
                        d.at(
                            s.span(),
                            format!(
                                "`{key}` must be a time such as \"02:00\", found \"{}\"",
                                s.get_ref()
                            ),
                        );
                        None
                    }
                }
            })
        };
        let start = time(&mut w, d, "start");
        let end = time(&mut w, d, "end");
        let time_zone = w
            .required_string(d, "time_zone")
            .and_then(|s| known_time_zone(d, s));
        let days = w
            .strings(d, "days")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| match weekday(s.get_ref()) {
                Some(day) => Some(day),
                None => {
                    d.at(
                        s.span(),
                        format!("\"{}\" is not a day of the week", s.get_ref()),
                    );
                    None
                }
            })
            .collect();
        if let (Some(start), Some(end)) = (start, end)
            && start == end
        {
            d.at(
                w.span(),
                "a maintenance window whose start and end are equal never opens",
            );
        }
        w.finish(d);
        if let (Some(start), Some(end), Some(time_zone)) = (start, end, time_zone) {
            out.push(MaintenanceWindow {
                days,
                start,
                end,
                time_zone,
            });
        }
    }
    out
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
    let geoip_database = t.string(d, "geoip_database").and_then(|s| {
        let path = std::path::PathBuf::from(s.get_ref());
        match crate::country::CountryDatabase::open(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                d.at(s.span(), e.to_string());
                None
            }
        }
    });
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
    let maintenance_windows = windows(t, d);
    let unknown_client_version = match t.string(d, "unknown_client_version") {
        None => UnknownClientVersion::Deny,
        Some(s) => match s.get_ref().as_str() {
            "deny" => UnknownClientVersion::Deny,
            "allow" => UnknownClientVersion::Allow,
            other => {
                d.at(
                    s.span(),
                    format!("`handler.unknown_client_version` must be \"deny\" or \"allow\", found \"{other}\""),
                );
                UnknownClientVersion::Deny
            }
        },
    };
    let mode = match t.string(d, "mode") {
        None => HandlerMode::Enforce,
        Some(s) => match s.get_ref().as_str() {
            "enforce" => HandlerMode::Enforce,
            "shadow" => HandlerMode::Shadow,
            other => {
                d.at(
                    s.span(),
                    format!("`handler.mode` must be \"enforce\" or \"shadow\", found \"{other}\""),
                );
                HandlerMode::Enforce
            }
        },
    };
    let cedar_policy = t.string(d, "cedar_policy").and_then(|s| {
        let path = std::path::PathBuf::from(s.get_ref());
        // A relative path is read beside the policy file, which only the handler knows.
        match std::fs::metadata(&path) {
            _ if path.is_relative() => Some(path),
            Ok(m) if m.is_file() => Some(path),
            _ => {
                d.at(
                    s.span(),
                    format!(
                        "the Cedar policy {} cannot be read (is the path right?)",
                        path.display()
                    ),
                );
                None
            }
        }
    });
    let user_domain = t.string(d, "user_domain").and_then(|s| {
        let domain = s.get_ref().trim().to_lowercase();
        if domain.contains('.') && !domain.contains(['@', '\\', ' ']) {
            Some(domain)
        } else {
            d.at(
                s.span(),
                format!("`handler.user_domain` must be a DNS domain such as \"corp.example.com\", found \"{}\"", s.get_ref()),
            );
            None
        }
    });
    let user_authentication = match t.string(d, "user_authentication") {
        None => UserAuthentication::Saml,
        Some(s) => match s.get_ref().as_str() {
            "saml" => UserAuthentication::Saml,
            "active-directory" => UserAuthentication::ActiveDirectory,
            other => {
                d.at(
                    s.span(),
                    format!("`handler.user_authentication` must be \"saml\" or \"active-directory\", found \"{other}\""),
                );
                UserAuthentication::Saml
            }
        },
    };
    let time_zone = t.string(d, "time_zone").and_then(|s| known_time_zone(d, s));
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
        maintenance_windows,
        unknown_client_version,
        mode,
        cedar_policy,
        user_domain,
        user_authentication,
        time_zone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[&str], start: &str, end: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            days: days.iter().filter_map(|d| weekday(d)).collect(),
            start: jiff::civil::Time::strptime("%H:%M", start).unwrap(),
            end: jiff::civil::Time::strptime("%H:%M", end).unwrap(),
            time_zone: "Europe/Berlin".into(),
        }
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn windows_follow_their_time_zone_and_cross_midnight() {
        // Saturday 02:00–04:00 in Berlin (UTC+1 in November).
        let w = window(&["Sat"], "02:00", "04:00");
        assert!(w.contains(at("2026-11-21T01:30:00Z")));
        assert!(!w.contains(at("2026-11-21T03:30:00Z")));
        assert!(!w.contains(at("2026-11-22T01:30:00Z")), "Sunday");
        // Friday 23:00 to Saturday 01:00.
        let late = window(&["Fri"], "23:00", "01:00");
        assert!(late.contains(at("2026-11-20T22:30:00Z")));
        assert!(
            late.contains(at("2026-11-20T23:30:00Z")),
            "after midnight, Saturday morning"
        );
        assert!(
            !late.contains(at("2026-11-21T22:30:00Z")),
            "Saturday night is not in it"
        );
        // Every day when no day is named.
        assert!(window(&[], "12:00", "13:00").contains(at("2026-11-24T11:30:00Z")));
    }
}
