//! The Client VPN client-connect decision: one function from the handler's input (schema v1 or
//! v2) to its output, from the organization policy's `[handler]` rules and, when the policy
//! names one, a Cedar policy. Both rule forms feed one verdict, one answer and one log line.
//! Anything the handler cannot read is denied with AWS's generic message: it fails closed.

pub mod cedar;
pub mod event;
pub mod identity;
pub mod runtime;

use std::path::{Path, PathBuf};

use postern_policy::country::CountryDatabase;
use postern_policy::handler::{
    HandlerMode, HandlerRules, UnknownClientVersion, UserAuthentication,
};
use postern_policy::version::Version;
use serde_json::{Value, json};

use cedar::{CedarError, CedarPolicy, ip, record};
pub use event::{Connection, MAX_EVENT_BYTES, Malformed, Schema};
use identity::{Identity, fold};

/// AWS's own text when a handler fails; shown for malformed events and internal errors.
pub const GENERIC_DENY: &str = "Error establishing connection. Please contact your administrator.";
/// AWS's limits on the answer: the message and each status at most 255 characters, at most 10
/// statuses.
pub const MAX_MESSAGE: usize = 255;
pub const MAX_STATUSES: usize = 10;
/// Shown when a Cedar policy refuses without an `@message` of its own.
const CEDAR_DENY: &str = "Your connection is not allowed by the VPN policy.";

/// Who authenticated the identity in the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// AWS Client VPN (the Lambda): `username` is what the directory or IdP authenticated, `null`
    /// for certificate-only endpoints.
    Aws,
    /// An OpenVPN server: `username` is the identity OpenVPN authenticated (the certificate's
    /// common name, or a username an auth backend verified); a rule that needs one denies
    /// when there is none.
    OpenVpn,
}

/// The handler could not start from its policy; every connection is then denied.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Policy(#[from] postern_policy::PolicyError),
    #[error("The country database cannot be opened ({0}); fix `handler.geoip_database`.")]
    Countries(String),
    #[error(transparent)]
    Cedar(#[from] CedarError),
}

/// Everything one decision needs, loaded once (at cold start for the Lambda).
pub struct Handler {
    pub rules: HandlerRules,
    pub countries: Option<CountryDatabase>,
    pub cedar: Option<CedarPolicy>,
}

impl Handler {
    /// From the organization policy file (or the default search), its country database and its
    /// Cedar policy (a relative path is read beside the policy file).
    pub fn load(policy_file: Option<&Path>) -> Result<Self, LoadError> {
        let (policy, file) = postern_policy::load(policy_file)?;
        let rules = policy.handler.unwrap_or_default();
        Self::from_rules(rules, Some(file.path.as_path()))
    }

    pub fn from_rules(rules: HandlerRules, policy_file: Option<&Path>) -> Result<Self, LoadError> {
        let countries = match &rules.geoip_database {
            Some(p) => {
                Some(CountryDatabase::open(p).map_err(|e| LoadError::Countries(e.to_string()))?)
            }
            None => None,
        };
        let cedar = match &rules.cedar_policy {
            Some(p) => Some(CedarPolicy::load(&beside(policy_file, p))?),
            None => None,
        };
        Ok(Self {
            rules,
            countries,
            cedar,
        })
    }

    /// The answer and the log line for one event.
    pub fn decide(&self, event: &Value, origin: Origin, now: jiff::Timestamp) -> Decision {
        evaluate(
            &self.rules,
            self.countries.as_ref(),
            self.cedar.as_ref(),
            event,
            origin,
            now,
        )
    }

    /// [`Handler::decide`] for an event already parsed from `size` bytes (the Lambda runtime
    /// parses the payload itself): the size limit still holds.
    pub fn decide_sized(
        &self,
        event: &Value,
        size: usize,
        origin: Origin,
        now: jiff::Timestamp,
    ) -> Decision {
        if size >= MAX_EVENT_BYTES {
            return malformed(
                event::schema_of(event),
                self.rules.mode,
                Malformed::TooLarge(size),
            );
        }
        self.decide(event, origin, now)
    }

    /// [`Handler::decide`] from raw bytes (standard input, a file): events of
    /// [`MAX_EVENT_BYTES`] and more, invalid UTF-8 and nesting past serde's limit are denied.
    pub fn decide_bytes(&self, bytes: &[u8], origin: Origin, now: jiff::Timestamp) -> Decision {
        match event::from_bytes(bytes) {
            Ok(event) => self.decide(&event, origin, now),
            Err(e) => malformed(Schema::V1, self.rules.mode, e),
        }
    }
}

fn beside(policy_file: Option<&Path>, path: &Path) -> PathBuf {
    match policy_file.and_then(Path::parent) {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// One decision: what AWS gets, and the structured line to log (stdout in Lambda, where it
/// reaches CloudWatch; stderr in the OpenVPN mode).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub output: Value,
    pub log: Value,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.output["allow"] == true
    }

    /// The message field of either schema.
    pub fn message(&self) -> &str {
        self.output
            .get("error-msg-on-denied-connection")
            .or_else(|| self.output.get("error-msg-on-failed-posture-compliance"))
            .and_then(Value::as_str)
            .unwrap_or(GENERIC_DENY)
    }
}

/// One reason a connection is refused: its status, the message for the user, and whether that
/// message is the admin's own (a Cedar `@message`), which wins over the generic ones.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reason {
    status: String,
    message: String,
    admin: bool,
}

impl Reason {
    fn new(status: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: status.into(),
            message: message.into(),
            admin: false,
        }
    }
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

fn mode_name(mode: HandlerMode) -> &'static str {
    match mode {
        HandlerMode::Enforce => "enforce",
        HandlerMode::Shadow => "shadow",
    }
}

/// A denial the user sees as AWS's generic message (the event or the handler is at fault).
/// Shadow mode does not lift it for a malformed event: there is nothing to connect.
fn generic(schema: Schema, mode: HandlerMode, status: &str, cause: String) -> Decision {
    let statuses = vec!["non-compliant".to_string(), status.to_string()];
    Decision {
        output: output(schema, false, GENERIC_DENY, statuses.clone()),
        log: json!({
            "event": "postern-handler-decision",
            "mode": mode_name(mode),
            "decision": "deny",
            "allowed": false,
            "statuses": statuses,
            "message": GENERIC_DENY,
            "cause": cause,
        }),
    }
}

fn malformed(schema: Schema, mode: HandlerMode, e: Malformed) -> Decision {
    generic(schema, mode, "malformed-event", e.to_string())
}

/// The answer when the handler itself cannot work (its policy unreadable, a database missing):
/// deny with AWS's generic message; the cause goes to the log, not to the user.
pub fn fail_closed(event: &Value) -> Value {
    output(
        event::schema_of(event),
        false,
        GENERIC_DENY,
        vec!["non-compliant".into(), "handler-error".into()],
    )
}

/// The handler's input from OpenVPN's auth environment (`var` reads one variable). OpenVPN
/// leaves a variable empty or unset when the client did not send it; AWS sends `null`, and so
/// does this. The identity is what OpenVPN authenticated: the certificate's common name, or,
/// with `verified_username`, the username an auth backend verified before this hook.
pub fn event_from_openvpn_env(
    var: impl Fn(&str) -> Option<String>,
    verified_username: bool,
) -> Value {
    let text = |key: &str| match var(key) {
        Some(v) if !v.trim().is_empty() => Value::String(v),
        _ => Value::Null,
    };
    let common_name = text("common_name");
    let username = if verified_username {
        text("username")
    } else {
        common_name.clone()
    };
    let connection_id = match text("untrusted_port") {
        Value::String(port) => json!(format!("openvpn-{port}")),
        _ => Value::Null,
    };
    json!({
        "connection-id": connection_id,
        "endpoint-id": Value::Null,
        "common-name": common_name,
        "username": username,
        "platform": text("IV_PLAT"),
        "platform-version": text("IV_PLAT_VER"),
        "public-ip": text("untrusted_ip"),
        "client-openvpn-version": text("IV_VER"),
        "groups": [],
        "schema-version": "v2"
    })
}

/// The handler's answer to one event from AWS, exactly as the Lambda returns it (TOML rules
/// only; [`Handler`] adds the Cedar policy and the log line).
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
    evaluate(rules, countries, None, event, Origin::Aws, now).output
}

/// The reasons the `[handler]` rules refuse a connection, in the order they are checked.
fn refusals(
    rules: &HandlerRules,
    countries: Option<&CountryDatabase>,
    c: &Connection,
    origin: Origin,
    now: jiff::Timestamp,
) -> Vec<Reason> {
    let mut out = Vec::new();
    if rules.maintenance_windows.iter().any(|w| w.contains(now)) {
        out.push(Reason::new(
            "maintenance-window",
            "The VPN is closed for planned maintenance; try again later.",
        ));
    }
    if rules
        .blocked_source_cidrs
        .iter()
        .any(|n| n.contains(&c.public_ip))
    {
        out.push(Reason::new(
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
        out.push(Reason::new(
            "source-not-allowed",
            format!("Connections from {} are not allowed.", c.public_ip),
        ));
    }
    let domain = rules.user_domain.as_deref();
    let user = c
        .username
        .as_deref()
        .and_then(|u| Identity::parse(u, domain));
    let needs_user = !rules.blocked_users.is_empty() || !rules.required_groups.is_empty();
    match &user {
        // AWS sends no username for certificate-only endpoints: a block list names no one there.
        None if origin == Origin::OpenVpn && needs_user => out.push(Reason::new(
            "user-unauthenticated",
            "No authenticated user name came with this connection, and the VPN's rules need one.",
        )),
        Some(who)
            if rules
                .blocked_users
                .iter()
                .filter_map(|b| Identity::parse(b, domain))
                .any(|b| who.matches(&b)) =>
        {
            out.push(Reason::new(
                "user-blocked",
                format!(
                    "The user {} is blocked.",
                    c.username.as_deref().unwrap_or_default().trim()
                ),
            ));
        }
        _ => {}
    }
    if let Some(cn) = &c.common_name {
        let cn_folded = fold(cn);
        if rules
            .blocked_common_names
            .iter()
            .any(|n| fold(n) == cn_folded)
        {
            out.push(Reason::new(
                "device-blocked",
                format!("The device certificate {} is blocked.", cn.trim()),
            ));
        }
    }
    if !rules.required_groups.is_empty() {
        if c.schema == Schema::V1 {
            out.push(Reason::new(
                "groups-unavailable",
                "Group membership is required but not available (schema v1).",
            ));
        } else if !c
            .groups
            .iter()
            .any(|g| rules.required_groups.iter().any(|r| fold(r) == fold(g)))
        {
            out.push(Reason::new(
                "group-not-allowed",
                "You are not in a group allowed to connect.",
            ));
        }
    }
    if let Some(min) = &rules.min_client_version {
        match c.client_openvpn_version.as_deref() {
            None => {
                if rules.unknown_client_version == UnknownClientVersion::Deny {
                    out.push(Reason::new(
                        "client-version-unknown",
                        format!("This VPN client did not report its version, and version {min} or later is required; use a client that reports it."),
                    ));
                }
            }
            Some(text) => match Version::parse(text) {
                Some(v) if &v >= min => {}
                _ => out.push(Reason::new(
                    "client-too-old",
                    format!("This VPN client ({text}) is older than {min}; update it."),
                )),
            },
        }
    }
    if !rules.allowed_countries.is_empty() {
        match countries.and_then(|db| db.country(c.public_ip)) {
            Some(country) if rules.allowed_countries.contains(&country) => {}
            Some(country) => out.push(Reason::new(
                "country-not-allowed",
                format!("Connections from {country} are not allowed."),
            )),
            None => out.push(Reason::new(
                "country-unknown",
                "The country of your connection could not be determined.",
            )),
        }
    }
    out
}

/// "2.6.14-rc1" → {major 2, minor 6, patch 14}; missing parts are 0.
fn version_record(text: &str) -> Option<Value> {
    let numeric: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric.split('.').map(|p| p.parse::<i64>().ok());
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some(json!({"major": major, "minor": minor, "patch": patch}))
}

fn weekday_name(day: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday::*;
    match day {
        Monday => "Mon",
        Tuesday => "Tue",
        Wednesday => "Wed",
        Thursday => "Thu",
        Friday => "Fri",
        Saturday => "Sat",
        Sunday => "Sun",
    }
}

/// The Cedar context of one connection (see `client_vpn.cedarschema`), with identities
/// normalised as the TOML rules read them, so both rule forms agree.
pub fn context_json(
    rules: &HandlerRules,
    countries: Option<&CountryDatabase>,
    c: &Connection,
    now: jiff::Timestamp,
) -> Value {
    let text = |s: &Option<String>| s.as_ref().map(|v| Value::String(v.clone()));
    let user = c
        .username
        .as_deref()
        .and_then(|u| Identity::parse(u, rules.user_domain.as_deref()));
    let groups: Vec<Value> = c.groups.iter().map(|g| Value::String(fold(g))).collect();
    let zone_name = rules.local_time_zone();
    let zone = jiff::tz::TimeZone::get(zone_name).unwrap_or(jiff::tz::TimeZone::UTC);
    let local = now.to_zoned(zone);
    let (hour, minute) = (i64::from(local.hour()), i64::from(local.minute()));
    let mut ctx = serde_json::Map::new();
    ctx.insert(
        "connection".into(),
        record([
            ("endpointId", text(&c.endpoint_id)),
            ("connectionId", text(&c.connection_id)),
            ("platform", text(&c.platform)),
            ("platformVersion", text(&c.platform_version)),
            ("publicIp", Some(ip(c.public_ip))),
            ("clientOpenVpnVersion", text(&c.client_openvpn_version)),
        ]),
    );
    if let Some(cn) = &c.common_name {
        ctx.insert(
            "mutual-authentication".into(),
            json!({"commonName": fold(cn)}),
        );
    }
    if let Some(u) = &user {
        let (namespace, name_key) = match rules.user_authentication {
            UserAuthentication::Saml => ("saml", "nameId"),
            UserAuthentication::ActiveDirectory => ("active-directory", "username"),
        };
        ctx.insert(
            namespace.into(),
            json!({name_key: u.canonical(), "memberOf": groups}),
        );
    }
    ctx.insert(
        "postern".into(),
        record([
            (
                "schemaVersion",
                Some(json!(match c.schema {
                    Schema::V1 => "v1",
                    Schema::V2 => "v2",
                })),
            ),
            (
                "country",
                countries
                    .and_then(|db| db.country(c.public_ip))
                    .map(Value::String),
            ),
            (
                "localTime",
                Some(json!({
                    "timeZone": zone_name,
                    "weekday": weekday_name(local.weekday()),
                    "hour": hour,
                    "minute": minute,
                    "minuteOfDay": hour * 60 + minute,
                })),
            ),
            (
                "clientOpenVpnVersion",
                c.client_openvpn_version.as_deref().and_then(version_record),
            ),
            (
                "user",
                user.as_ref().map(|u| {
                    record([
                        ("name", Some(json!(u.user))),
                        ("domain", u.domain.clone().map(Value::String)),
                        ("canonical", Some(json!(u.canonical()))),
                    ])
                }),
            ),
            (
                "maintenance",
                Some(json!(
                    rules.maintenance_windows.iter().any(|w| w.contains(now))
                )),
            ),
        ]),
    );
    Value::Object(ctx)
}

/// The one decision path: read the event, apply the TOML rules and the Cedar policy, then answer
/// by the mode (enforce, or shadow: allow and record what would have happened).
fn evaluate(
    rules: &HandlerRules,
    countries: Option<&CountryDatabase>,
    cedar: Option<&CedarPolicy>,
    event: &Value,
    origin: Origin,
    now: jiff::Timestamp,
) -> Decision {
    let schema = event::schema_of(event);
    let c = match event::parse(event) {
        Ok(c) => c,
        Err(e) => return malformed(schema, rules.mode, e),
    };
    if !rules.allowed_countries.is_empty() && countries.is_none() {
        // The database the rules need is missing: deny rather than guess.
        return generic(
            schema,
            rules.mode,
            "handler-misconfigured",
            "`handler.allowed_countries` is set but no country database is loaded".into(),
        );
    }
    let mut reasons = refusals(rules, countries, &c, origin, now);
    let mut permitted_by = Vec::new();
    let mut errors = Vec::new();
    if let Some(policy) = cedar {
        let principal = c
            .username
            .as_deref()
            .and_then(|u| Identity::parse(u, rules.user_domain.as_deref()))
            .map(|u| u.canonical())
            .or_else(|| c.common_name.as_deref().map(fold))
            .unwrap_or_default();
        let verdict = policy.decide(
            &principal,
            c.endpoint_id.as_deref().unwrap_or_default(),
            context_json(rules, countries, &c, now),
        );
        if verdict.allow {
            permitted_by = verdict.policies;
        } else if !verdict.errors.is_empty() {
            errors = verdict.errors;
            reasons.push(Reason::new("policy-error", GENERIC_DENY));
        } else if verdict.policies.is_empty() {
            reasons.push(Reason::new("no-policy-permitted", CEDAR_DENY));
        } else {
            let admin = verdict.message.is_some();
            let message = verdict.message.unwrap_or_else(|| CEDAR_DENY.into());
            for id in verdict.policies {
                reasons.push(Reason {
                    status: format!("forbid:{id}"),
                    message: message.clone(),
                    admin,
                });
            }
        }
    }
    let would_allow = reasons.is_empty();
    let statuses: Vec<String> = if would_allow {
        std::iter::once("compliant".to_string())
            .chain(permitted_by.iter().map(|id| format!("permit:{id}")))
            .collect()
    } else {
        std::iter::once("non-compliant".to_string())
            .chain(reasons.iter().map(|r| r.status.clone()))
            .collect()
    };
    let message = if would_allow {
        String::new()
    } else if let Some(r) = reasons.iter().find(|r| r.admin) {
        r.message.clone()
    } else if let Some(m) = &rules.deny_message {
        m.clone()
    } else {
        reasons[0].message.clone()
    };
    let (allowed, answer_statuses, answer_message) = match rules.mode {
        HandlerMode::Enforce => (would_allow, statuses.clone(), message.clone()),
        HandlerMode::Shadow => (
            true,
            [
                "shadow".to_string(),
                format!("would-{}", if would_allow { "allow" } else { "deny" }),
            ]
            .into_iter()
            .chain(statuses.iter().skip(1).cloned())
            .collect(),
            String::new(),
        ),
    };
    let mut log = json!({
        "event": "postern-handler-decision",
        "mode": mode_name(rules.mode),
        "decision": if would_allow { "allow" } else { "deny" },
        "allowed": allowed,
        "statuses": statuses,
        "message": truncate(&message),
        "connection-id": c.connection_id,
        "endpoint-id": c.endpoint_id,
        "public-ip": c.public_ip.to_string(),
        "common-name": c.common_name,
        "username": c.username,
        "schema-version": match c.schema { Schema::V1 => "v1", Schema::V2 => "v2" },
    });
    if !errors.is_empty() {
        log["policy-errors"] = json!(errors);
    }
    Decision {
        output: output(c.schema, allowed, &answer_message, answer_statuses),
        log,
    }
}

#[cfg(test)]
mod tests;
