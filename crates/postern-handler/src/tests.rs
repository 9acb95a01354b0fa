//! Golden cases from AWS's handler documentation and the issue.

use serde_json::json;

use super::*;

fn event(v: &str) -> Value {
    let mut e = json!({
        "connection-id": "cvpn-connection-04e7e1b2f0daf9460",
        "endpoint-id": "cvpn-endpoint-0123456789abcdef0",
        "common-name": "alice.lab.test",
        "username": "alice",
        "platform": "linux",
        "platform-version": "6.1.0",
        "public-ip": "198.51.100.10",
        "client-openvpn-version": "2.6.14",
        "schema-version": v
    });
    if v == "v2" {
        e["groups"] = json!(["Engineering"]);
    }
    e
}

fn rules() -> HandlerRules {
    HandlerRules {
        blocked_source_cidrs: vec!["192.0.2.0/24".parse().unwrap()],
        blocked_users: vec!["mallory".into()],
        blocked_common_names: vec!["stolen-laptop.lab.test".into()],
        min_client_version: Version::parse("2.5"),
        ..HandlerRules::default()
    }
}

#[test]
fn an_allowed_connection() {
    let out = decide(&rules(), None, &event("v1"));
    assert_eq!(
        out,
        json!({"allow": true, "error-msg-on-failed-posture-compliance": "", "posture-compliance-statuses": ["compliant"], "schema-version": "v1"})
    );
    let v2 = decide(&rules(), None, &event("v2"));
    assert_eq!(v2["allow"], true);
    assert_eq!(v2["schema-version"], "v2");
    assert!(v2.get("error-msg-on-denied-connection").is_some());
}

#[test]
fn a_blocked_public_ip() {
    let mut e = event("v2");
    e["public-ip"] = json!("192.0.2.44");
    let out = decide(&rules(), None, &e);
    assert_eq!(out["allow"], false);
    assert_eq!(
        out["error-msg-on-denied-connection"],
        "Connections from 192.0.2.44 are blocked."
    );
    assert_eq!(
        out["posture-compliance-statuses"],
        json!(["non-compliant", "source-blocked"])
    );
}

#[test]
fn a_blocked_user_and_device() {
    let mut e = event("v1");
    e["username"] = json!("Mallory");
    let out = decide(&rules(), None, &e);
    assert_eq!(out["allow"], false);
    assert_eq!(
        out["error-msg-on-failed-posture-compliance"],
        "The user Mallory is blocked."
    );
    let mut e = event("v1");
    e["common-name"] = json!("stolen-laptop.lab.test");
    assert_eq!(
        decide(&rules(), None, &e)["posture-compliance-statuses"][1],
        "device-blocked"
    );
}

#[test]
fn groups_and_client_versions() {
    let r = HandlerRules {
        required_groups: vec!["Engineering".into()],
        ..rules()
    };
    assert_eq!(decide(&r, None, &event("v2"))["allow"], true);
    let mut e = event("v2");
    e["groups"] = json!(["Sales"]);
    assert_eq!(decide(&r, None, &e)["allow"], false);
    // v1 carries no groups: fail closed.
    assert_eq!(
        decide(&r, None, &event("v1"))["posture-compliance-statuses"][1],
        "groups-unavailable"
    );
    let mut e = event("v1");
    e["client-openvpn-version"] = json!("2.4.9");
    assert_eq!(
        decide(&rules(), None, &e)["posture-compliance-statuses"][1],
        "client-too-old"
    );
}

#[test]
fn a_country_outside_the_list_and_a_missing_database() {
    let dir = std::env::temp_dir().join(format!("handler-mmdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.mmdb");
    postern_core::egress::write_test_database(&path, &[("198.51.100.0/24", "FR")]);
    let db = CountryDatabase::open(&path).unwrap();
    let r = HandlerRules {
        allowed_countries: vec!["DE".into()],
        geoip_database: Some(path.clone()),
        ..rules()
    };
    let out = decide(&r, Some(&db), &event("v1"));
    assert_eq!(out["allow"], false);
    assert_eq!(
        out["error-msg-on-failed-posture-compliance"],
        "Connections from FR are not allowed."
    );
    let missing = decide(&r, None, &event("v1"));
    assert_eq!(missing["allow"], false);
    assert_eq!(
        missing["error-msg-on-failed-posture-compliance"],
        GENERIC_DENY
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn malformed_events_are_denied_with_the_generic_message() {
    let mut cases = vec![json!({}), json!(null), json!("text"), json!([1, 2])];
    let mut missing = event("v1");
    missing.as_object_mut().unwrap().remove("public-ip");
    cases.push(missing);
    let mut wrong_type = event("v1");
    wrong_type["username"] = json!(42);
    cases.push(wrong_type);
    let mut bad_ip = event("v1");
    bad_ip["public-ip"] = json!("not-an-ip");
    cases.push(bad_ip);
    let mut groups = event("v2");
    groups["groups"] = json!("Engineering");
    cases.push(groups);
    let mut allow_string = event("v1");
    allow_string["schema-version"] = json!("v9");
    cases.push(allow_string);
    for e in cases {
        let out = decide(&rules(), None, &e);
        assert_eq!(out["allow"], json!(false), "{e}");
        assert!(out["allow"].is_boolean(), "allow must be a JSON boolean");
        let msg = out
            .get("error-msg-on-failed-posture-compliance")
            .or(out.get("error-msg-on-denied-connection"))
            .unwrap();
        assert_eq!(msg, GENERIC_DENY, "{e}");
    }
}

#[test]
fn messages_and_statuses_respect_the_limits() {
    let long = "x".repeat(400);
    let r = HandlerRules {
        deny_message: Some(long),
        blocked_users: vec!["alice".into()],
        ..rules()
    };
    let out = decide(&r, None, &event("v1"));
    assert_eq!(
        out["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        255
    );
    assert!(out["posture-compliance-statuses"].as_array().unwrap().len() <= 10);
}

#[test]
fn a_maintenance_window_denies_only_while_it_is_open() {
    let text = "[identity_center]\nstart_url = \"https://x.awsapps.com/start\"\nregion = \"eu-west-1\"\n[handler]\n[[handler.maintenance_windows]]\ndays = [\"Sat\"]\nstart = \"02:00\"\nend = \"04:00\"\ntime_zone = \"Europe/Berlin\"\n";
    let rules = postern_core::policy::parse(text).unwrap().handler.unwrap();
    let open: jiff::Timestamp = "2026-11-21T01:30:00Z".parse().unwrap();
    let closed: jiff::Timestamp = "2026-11-21T05:00:00Z".parse().unwrap();
    let during = decide_at(&rules, None, &event("v2"), open);
    assert_eq!(during["allow"], false);
    assert_eq!(
        during["posture-compliance-statuses"][1],
        "maintenance-window"
    );
    assert_eq!(decide_at(&rules, None, &event("v2"), closed)["allow"], true);
}

#[test]
fn windows_that_never_open_and_unknown_zones_are_rejected_with_lines() {
    let text = "[identity_center]\nstart_url = \"https://x.awsapps.com/start\"\nregion = \"eu-west-1\"\n[handler]\nallowed_countries = [\"XX\"]\ngeoip_database = \"/nonexistent/GeoLite2-Country.mmdb\"\nblocked_source_cidrs = [\"10.0.0.0/8\", \"bogus\"]\n[[handler.maintenance_windows]]\nstart = \"02:00\"\nend = \"02:00\"\ntime_zone = \"Mars/Olympus\"\ndays = [\"Someday\"]\n";
    let issues = postern_core::policy::parse(text).unwrap_err();
    let all = issues
        .iter()
        .map(|i| format!("{}: {}", i.line, i.message))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("5: \"XX\" is not an ISO 3166 country code"),
        "{all}"
    );
    assert!(
        all.contains("6: The country database /nonexistent/GeoLite2-Country.mmdb cannot be used"),
        "{all}"
    );
    assert!(
        all.contains("7: \"bogus\" is not an IP address or CIDR"),
        "{all}"
    );
    assert!(all.contains("unknown time zone \"Mars/Olympus\""), "{all}");
    assert!(
        all.contains("\"Someday\" is not a day of the week"),
        "{all}"
    );
    assert!(all.contains("never opens"), "{all}");
}
