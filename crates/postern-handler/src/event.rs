//! The handler's input as AWS documents it (schema v1 and v2): every field may be JSON `null`
//! or absent except the public address the rules need. Certificate-only endpoints send `null`
//! for `username`, `platform`, `platform-version` and `client-openvpn-version`, and a published
//! capture has no `endpoint-id`; the handler reads those as "not reported".

use std::net::IpAddr;

use serde_json::Value;

/// Events of this size and more are refused unread (AWS's own events are a few hundred bytes).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    V1,
    V2,
}

/// Why an event could not be read; logged, never shown to the user (who gets AWS's generic
/// message).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("the event is {0} bytes, at least the limit of {MAX_EVENT_BYTES}")]
    TooLarge(usize),
    #[error("the event is not JSON ({0})")]
    NotJson(String),
    #[error("the event is not a JSON object")]
    NotObject,
    #[error("`{0}` has the wrong type (AWS sends a string or null)")]
    WrongType(&'static str),
    #[error("`groups` is not a list of strings")]
    Groups,
    #[error("unknown schema-version {0:?}")]
    UnknownSchema(String),
    #[error("`public-ip` is missing or not an address")]
    PublicIp,
}

/// A read event. Text fields are `None` when AWS sent `null`, an empty string, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub schema: Schema,
    pub connection_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub common_name: Option<String>,
    pub username: Option<String>,
    pub platform: Option<String>,
    pub platform_version: Option<String>,
    /// Canonical (`::ffff:192.0.2.44` is `192.0.2.44`), so a CIDR rule cannot be sidestepped.
    pub public_ip: IpAddr,
    pub client_openvpn_version: Option<String>,
    /// Schema v2 only; empty for mutual authentication.
    pub groups: Vec<String>,
}

/// The schema the answer must follow, read even from an event that is otherwise malformed.
pub fn schema_of(event: &Value) -> Schema {
    match event.get("schema-version").and_then(Value::as_str) {
        Some("v2") => Schema::V2,
        _ => Schema::V1,
    }
}

/// Reads raw bytes as an event: the size limit first, then JSON (serde's nesting limit and
/// UTF-8 checks apply).
pub fn from_bytes(bytes: &[u8]) -> Result<Value, Malformed> {
    if bytes.len() >= MAX_EVENT_BYTES {
        return Err(Malformed::TooLarge(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| Malformed::NotJson(e.to_string()))
}

fn text(event: &Value, key: &'static str) -> Result<Option<String>, Malformed> {
    match event.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Malformed::WrongType(key)),
    }
}

pub fn parse(event: &Value) -> Result<Connection, Malformed> {
    if !event.is_object() {
        return Err(Malformed::NotObject);
    }
    let schema = match event.get("schema-version") {
        None | Some(Value::Null) => Schema::V1,
        Some(Value::String(s)) if s == "v1" => Schema::V1,
        Some(Value::String(s)) if s == "v2" => Schema::V2,
        Some(Value::String(s)) => return Err(Malformed::UnknownSchema(s.clone())),
        Some(_) => return Err(Malformed::WrongType("schema-version")),
    };
    let public_ip = text(event, "public-ip")?
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .ok_or(Malformed::PublicIp)?
        .to_canonical();
    let groups = match (schema, event.get("groups")) {
        (Schema::V2, Some(Value::Array(items))) => items
            .iter()
            .map(|g| g.as_str().map(str::to_string).ok_or(Malformed::Groups))
            .collect::<Result<_, _>>()?,
        (Schema::V2, None | Some(Value::Null)) => Vec::new(),
        (Schema::V2, Some(_)) => return Err(Malformed::Groups),
        // v1 has no groups: whatever is there is not AWS's and is not read.
        (Schema::V1, _) => Vec::new(),
    };
    Ok(Connection {
        schema,
        connection_id: text(event, "connection-id")?,
        endpoint_id: text(event, "endpoint-id")?,
        common_name: text(event, "common-name")?,
        username: text(event, "username")?,
        platform: text(event, "platform")?,
        platform_version: text(event, "platform-version")?,
        public_ip,
        client_openvpn_version: text(event, "client-openvpn-version")?,
        groups,
    })
}
