//! `cargo bench -p postern-handler --bench decide`: decision latency (p50, p99) over many
//! events for the TOML rules and for a 20-policy Cedar set, against the floor of parsing and
//! printing the same JSON (what any handler does), all in one run.
//! Target: p99 < 5 ms without network (Client VPN allows 30 s).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use postern_handler::cedar::CedarPolicy;
use postern_handler::{Handler, Origin};
use postern_policy::handler::HandlerRules;
use postern_policy::version::Version;
use serde_json::{Value, json};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// Twenty policies of the kinds admins write: permits by group and hours, forbids by
/// certificate, address range, platform and client version.
fn cedar_set() -> String {
    let mut text = String::from(
        "@id(\"base\")\npermit(principal, action, resource)\nwhen { context has saml && context.saml.memberOf.contains(\"engineering\") };\n",
    );
    for i in 0..6 {
        text.push_str(&format!(
            "@id(\"hours-{i}\")\npermit(principal, action, resource)\nwhen {{ context has saml && context.saml.memberOf.contains(\"team{i}\") && context.postern.localTime.hour >= 8 && context.postern.localTime.hour < 18 }};\n"
        ));
    }
    for i in 0..6 {
        let names: Vec<String> = (0..40)
            .map(|j| format!("\"device{}.example.com\"", i * 40 + j))
            .collect();
        text.push_str(&format!(
            "@id(\"devices-{i}\")\n@message(\"This device is blocked.\")\nforbid(principal, action, resource)\nwhen {{ context has \"mutual-authentication\" && [{}].contains(context[\"mutual-authentication\"].commonName) }};\n",
            names.join(", ")
        ));
    }
    for i in 0..5 {
        text.push_str(&format!(
            "@id(\"range-{i}\")\nforbid(principal, action, resource)\nwhen {{ context.connection.publicIp.isInRange(ip(\"192.0.{i}.0/24\")) }};\n"
        ));
    }
    text.push_str("@id(\"old-client\")\nforbid(principal, action, resource)\nwhen { context.postern has clientOpenVpnVersion && context.postern.clientOpenVpnVersion.major < 2 };\n");
    text.push_str("@id(\"platforms\")\nforbid(principal, action, resource)\nwhen { context.connection has platform && context.connection.platform == \"ios\" };\n");
    text
}

fn measure(events: &[String], mut run: impl FnMut(&Value) -> String) -> Vec<Duration> {
    let mut out: Vec<Duration> = events
        .iter()
        .map(|e| {
            let t = Instant::now();
            let v: Value = serde_json::from_str(e).unwrap_or(Value::Null);
            std::hint::black_box(run(&v));
            t.elapsed()
        })
        .collect();
    out.sort();
    out
}

fn main() {
    let rules = HandlerRules {
        blocked_source_cidrs: (0..50)
            .map(|i| format!("192.0.{i}.0/24").parse().unwrap())
            .collect(),
        blocked_users: (0..200).map(|i| format!("user{i}")).collect(),
        blocked_common_names: (0..200).map(|i| format!("device{i}.example.com")).collect(),
        required_groups: vec!["Engineering".into(), "Ops".into()],
        min_client_version: Version::parse("2.5"),
        ..HandlerRules::default()
    };
    let toml = Handler::from_rules(rules, None).unwrap();
    let policy = cedar_set();
    let cedar = Handler {
        rules: HandlerRules::default(),
        countries: None,
        cedar: Some(CedarPolicy::parse(&policy).unwrap_or_else(|e| panic!("{e:?}"))),
    };
    assert_eq!(policy.matches("@id(").count(), 20);
    let events: Vec<String> = (0..10_000)
        .map(|i| {
            json!({
                "connection-id": format!("cvpn-connection-{i:017x}"), "endpoint-id": "cvpn-endpoint-0123456789abcdef0",
                "common-name": format!("laptop{i}.example.com"), "username": format!("person{i}"),
                "platform": "linux", "platform-version": "6.1.0", "public-ip": format!("198.51.{}.{}", i % 200, i % 250),
                "client-openvpn-version": "2.6.14", "schema-version": "v2", "groups": ["Engineering"]
            })
            .to_string()
        })
        .collect();
    let now = jiff::Timestamp::now();
    let floor = measure(&events, |v| v.to_string());
    let ours = measure(&events, |v| {
        toml.decide(v, Origin::Aws, now).output.to_string()
    });
    let with_cedar = measure(&events, |v| {
        let d = cedar.decide(v, Origin::Aws, now);
        assert!(d.allowed(), "{}", d.log);
        d.output.to_string()
    });
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let line = |name: &str, d: &[Duration]| {
        println!(
            "{name}: p50 {:.1} µs, p99 {:.1} µs, ratio to the floor at p50 {:.2}x",
            us(percentile(d, 0.5)),
            us(percentile(d, 0.99)),
            us(percentile(d, 0.5)) / us(percentile(&floor, 0.5))
        )
    };
    println!(
        "handler decide, {} events (target p99 < 5 ms):",
        events.len()
    );
    line("  JSON parse+print alone (floor)", &floor);
    line("  TOML rules, 450 rules", &ours);
    line("  Cedar, 20 policies", &with_cedar);
}
