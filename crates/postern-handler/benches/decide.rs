//! `cargo bench -p postern-handler --bench decide`: decision latency (p50, p99) over many
//! events, against the floor of parsing and printing the same JSON (what any handler does).
//! Target: p99 < 5 ms without network (Client VPN allows 30 s).

use std::time::{Duration, Instant};

use postern_core::policy::handler::HandlerRules;
use postern_core::posture::Version;
use serde_json::{Value, json};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
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
    let mut ours = Vec::with_capacity(events.len());
    let mut floor = Vec::with_capacity(events.len());
    for e in &events {
        let t = Instant::now();
        let v: Value = serde_json::from_str(e).unwrap();
        let out = postern_handler::decide(&rules, None, &v).to_string();
        ours.push(t.elapsed());
        std::hint::black_box(out);
        let t = Instant::now();
        let v: Value = serde_json::from_str(e).unwrap();
        std::hint::black_box(v.to_string());
        floor.push(t.elapsed());
    }
    ours.sort();
    floor.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "handler decide, {} events, 450 rules: p50 {:.1} µs, p99 {:.1} µs (target p99 < 5 ms); JSON parse+print alone: p50 {:.1} µs, p99 {:.1} µs; ratio at p50 {:.2}x",
        events.len(),
        us(percentile(&ours, 0.5)),
        us(percentile(&ours, 0.99)),
        us(percentile(&floor, 0.5)),
        us(percentile(&floor, 0.99)),
        us(percentile(&ours, 0.5)) / us(percentile(&floor, 0.5))
    );
}
