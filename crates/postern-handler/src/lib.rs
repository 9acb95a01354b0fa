//! The Client VPN client-connect decision: one pure function from the handler's input (schema
//! v1 or v2) to its output, from the organization policy's `[handler]` rules. Anything it cannot
//! read is denied with AWS's generic message: the handler fails closed.

use std::net::IpAddr;

use postern_core::egress::CountryDatabase;
use postern_core::policy::handler::HandlerRules;
use postern_core::posture::Version;
use serde_json::{Value, json};

/// AWS's own text when a handler fails; shown for malformed events and internal errors.
pub const GENERIC_DENY: &str = "Error establishing connection. Please contact your administrator.";
const MAX_MESSAGE: usize = 255;
const MAX_STATUSES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    V1,
    V2,
}

/// The fields the rules read, after the event was checked.
struct Connection<'a> {
    schema: Schema,
    common_name: &'a str,
    username: &'a str,
    public_ip: IpAddr,
    client_version: &'a str,
    groups: Vec<&'a str>,
}

fn parse(event: &Value) -> Result<Connection<'_>, String> {
    let text = |key: &str| -> Result<&str, String> {
        match event.get(key) {
            Some(Value::String(s)) => Ok(s.as_str()),
            Some(_) => Err(format!("{key} is not a string")),
            None => Err(format!("{key} is missing")),
        }
    };
    let schema = match event.get("schema-version").and_then(Value::as_str) {
        Some("v2") => Schema::V2,
        Some("v1") | None => Schema::V1,
        Some(other) => return Err(format!("unknown schema-version {other}")),
    };
    for key in [
        "connection-id",
        "endpoint-id",
        "platform",
        "platform-version",
    ] {
        text(key)?;
    }
    let public_ip = text("public-ip")?
        .parse::<IpAddr>()
        .map_err(|_| "public-ip is not an address".to_string())?;
    let groups = match (schema, event.get("groups")) {
        (Schema::V2, Some(Value::Array(items))) => items
            .iter()
            .map(|g| {
                g.as_str()
                    .ok_or_else(|| "groups holds a non-string".to_string())
            })
            .collect::<Result<_, _>>()?,
        (Schema::V2, Some(_)) => return Err("groups is not a list".into()),
        _ => Vec::new(),
    };
    Ok(Connection {
        schema,
        common_name: text("common-name")?,
        username: text("username")?,
        public_ip,
        client_version: text("client-openvpn-version")?,
        groups,
    })
}

fn truncate(message: &str) -> String {
    message.chars().take(MAX_MESSAGE).collect()
}

fn output(schema: Schema, allow: bool, message: &str, statuses: Vec<String>) -> Value {
    let statuses: Vec<String> = statuses
        .into_iter()
        .take(MAX_STATUSES)
        .map(|s| truncate(&s))
        .collect();
    match schema {
        Schema::V1 => json!({
            "allow": allow,
            "error-msg-on-failed-posture-compliance": truncate(message),
            "posture-compliance-statuses": statuses,
            "schema-version": "v1"
        }),
        Schema::V2 => json!({
            "allow": allow,
            "error-msg-on-denied-connection": truncate(message),
            "posture-compliance-statuses": statuses,
            "schema-version": "v2"
        }),
    }
}

/// The reasons a connection is refused, in the order they are checked.
fn refusals(
    rules: &HandlerRules,
    countries: Option<&CountryDatabase>,
    c: &Connection,
    now: jiff::Timestamp,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if rules.maintenance_windows.iter().any(|w| w.contains(now)) {
        out.push((
            "maintenance-window",
            "The VPN is closed for planned maintenance; try again later.".into(),
        ));
    }
    if rules
        .blocked_source_cidrs
        .iter()
        .any(|n| n.contains(&c.public_ip))
    {
        out.push((
            "source-blocked",
            format!("Connections from {} are blocked.", c.public_ip),
        ));
    }
    if !rules.allowed_source_cidrs.is_empty()
        && !rules
            .allowed_source_cidrs
            .iter()
            .any(|n| n.contains(&c.public_ip))
    {
        out.push((
            "source-not-allowed",
            format!("Connections from {} are not allowed.", c.public_ip),
        ));
    }
    if !c.username.is_empty()
        && rules
            .blocked_users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(c.username))
    {
        out.push((
            "user-blocked",
            format!("The user {} is blocked.", c.username),
        ));
    }
    if rules
        .blocked_common_names
        .iter()
        .any(|n| n == c.common_name)
    {
        out.push((
            "device-blocked",
            format!("The device certificate {} is blocked.", c.common_name),
        ));
    }
    if !rules.required_groups.is_empty() {
        if c.schema == Schema::V1 {
            out.push((
                "groups-unavailable",
                "Group membership is required but not available (schema v1).".into(),
            ));
        } else if !c
            .groups
            .iter()
            .any(|g| rules.required_groups.iter().any(|r| r == g))
        {
            out.push((
                "group-not-allowed",
                "You are not in a group allowed to connect.".into(),
            ));
        }
    }
    if let Some(min) = &rules.min_client_version {
        match Version::parse(c.client_version) {
            Some(v) if &v >= min => {}
            _ => out.push((
                "client-too-old",
                format!(
                    "This VPN client ({}) is older than {min}; update it.",
                    c.client_version
                ),
            )),
        }
    }
    if !rules.allowed_countries.is_empty() {
        match countries.and_then(|db| db.country(c.public_ip)) {
            Some(country) if rules.allowed_countries.contains(&country) => {}
            Some(country) => out.push((
                "country-not-allowed",
                format!("Connections from {country} are not allowed."),
            )),
            None => out.push((
                "country-unknown",
                "The country of your connection could not be determined.".into(),
            )),
        }
    }
    out
}

fn schema_of(event: &Value) -> Schema {
    match event.get("schema-version").and_then(Value::as_str) {
        Some("v2") => Schema::V2,
        _ => Schema::V1,
    }
}

/// The answer when the handler itself cannot work (its policy unreadable, a database missing):
/// deny with AWS's generic message; the cause goes to the log, not to the user.
pub fn fail_closed(event: &Value) -> Value {
    output(
        schema_of(event),
        false,
        GENERIC_DENY,
        vec!["non-compliant".into(), "handler-error".into()],
    )
}

/// The handler's answer to one event, exactly as the Lambda returns it.
pub fn decide(rules: &HandlerRules, countries: Option<&CountryDatabase>, event: &Value) -> Value {
    decide_at(rules, countries, event, jiff::Timestamp::now())
}

/// [`decide`] at a given time (maintenance windows depend on it).
pub fn decide_at(
    rules: &HandlerRules,
    countries: Option<&CountryDatabase>,
    event: &Value,
    now: jiff::Timestamp,
) -> Value {
    let schema = schema_of(event);
    let connection = match parse(event) {
        Ok(c) => c,
        Err(_) => {
            return output(
                schema,
                false,
                GENERIC_DENY,
                vec!["non-compliant".into(), "malformed-event".into()],
            );
        }
    };
    if !rules.allowed_countries.is_empty() && countries.is_none() {
        // The database the rules need is missing: deny rather than guess.
        return output(
            schema,
            false,
            GENERIC_DENY,
            vec!["non-compliant".into(), "handler-misconfigured".into()],
        );
    }
    let refused = refusals(rules, countries, &connection, now);
    if refused.is_empty() {
        return output(schema, true, "", vec!["compliant".into()]);
    }
    let message = rules
        .deny_message
        .clone()
        .unwrap_or_else(|| refused[0].1.clone());
    let statuses = std::iter::once("non-compliant".to_string())
        .chain(refused.iter().map(|(s, _)| s.to_string()))
        .collect();
    output(schema, false, &message, statuses)
}

#[cfg(test)]
mod tests;
