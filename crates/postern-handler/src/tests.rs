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
    postern_policy::country::write_test_database(&path, &[("198.51.100.0/24", "FR")]);
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
    let rules = postern_policy::parse(text).unwrap().handler.unwrap();
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
    let issues = postern_policy::parse(text).unwrap_err();
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

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn at() -> jiff::Timestamp {
    // A Tuesday, 10:30 in Berlin.
    "2026-11-24T09:30:00Z".parse().unwrap()
}

fn handler(rules: HandlerRules) -> Handler {
    Handler::from_rules(rules, None).unwrap()
}

fn with_cedar(rules: HandlerRules, policy: &str) -> Handler {
    let cedar = match CedarPolicy::parse(policy) {
        Ok(c) => c,
        Err(Ok(problems)) => panic!("{problems:?}"),
        Err(Err(e)) => panic!("{e}"),
    };
    Handler {
        rules,
        countries: None,
        cedar: Some(cedar),
    }
}

fn statuses(d: &Decision) -> Vec<String> {
    d.output["posture-compliance-statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_fixture_from_aws_is_read_and_allowed() {
    for name in [
        "aws-docs-request-schema-v1.json",
        "aws-docs-request-schema-v2.json",
        "aws-lambda-rust-runtime-example-request.json",
        "mutual-tls-capture-nulls-no-endpoint-id.json",
        "saml-v2-with-groups.json",
        "openvpn-env-lab-alice.json",
    ] {
        let e = fixture(name);
        let rules = HandlerRules {
            min_client_version: None,
            ..rules()
        };
        let out = decide(&rules, None, &e);
        assert_eq!(out["allow"], true, "{name}: {out}");
        assert_eq!(out["schema-version"], e["schema-version"], "{name}");
    }
}

#[test]
fn the_mutual_tls_capture_with_nulls_is_decided_by_what_it_carries() {
    let e = fixture("mutual-tls-capture-nulls-no-endpoint-id.json");
    // A blocked-user rule does not match a null username; a blocked certificate still does.
    let r = HandlerRules {
        blocked_users: vec!["mallory".into()],
        blocked_common_names: vec!["LAPTOP-0042.corp.example.com".into()],
        ..HandlerRules::default()
    };
    let out = decide(&r, None, &e);
    assert_eq!(out["allow"], false);
    assert_eq!(
        out["posture-compliance-statuses"],
        json!(["non-compliant", "device-blocked"])
    );
    // A minimum version with no version reported: denied with its own message by default...
    let min = HandlerRules {
        min_client_version: Version::parse("2.5"),
        ..HandlerRules::default()
    };
    let out = decide(&min, None, &e);
    assert_eq!(out["allow"], false);
    assert_eq!(
        out["posture-compliance-statuses"][1],
        "client-version-unknown"
    );
    assert!(
        out["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .contains("did not report its version"),
        "{out}"
    );
    // ...and allowed when the policy says so.
    let lenient = HandlerRules {
        unknown_client_version: postern_policy::handler::UnknownClientVersion::Allow,
        ..min
    };
    assert_eq!(decide(&lenient, None, &e)["allow"], true);
}

#[test]
fn the_openvpn_environment_maps_to_the_event_with_nulls() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/openvpn-env-lab-alice.env"),
    )
    .unwrap();
    let vars: std::collections::HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let event = event_from_openvpn_env(|k| vars.get(k).cloned(), false);
    assert_eq!(event, fixture("openvpn-env-lab-alice.json"));
    // The client's own username is not the identity unless an auth backend verified it.
    let mut claimed = vars.clone();
    claimed.insert("username".into(), "admin".into());
    assert_eq!(
        event_from_openvpn_env(|k| claimed.get(k).cloned(), false)["username"],
        "alice.lab.test"
    );
    assert_eq!(
        event_from_openvpn_env(|k| claimed.get(k).cloned(), true)["username"],
        "admin"
    );
    // Empty variables are null, as AWS sends them.
    let verified = event_from_openvpn_env(|k| vars.get(k).cloned(), true);
    assert_eq!(verified["username"], Value::Null);
}

fn assert_generic_denial(d: &Decision, what: &str) {
    assert_eq!(d.output["allow"], json!(false), "{what}: {}", d.output);
    assert_eq!(d.message(), GENERIC_DENY, "{what}");
    assert_eq!(d.log["decision"], "deny", "{what}");
}

#[test]
fn large_deep_non_utf8_and_mistyped_events_are_denied_generically() {
    let h = handler(rules());
    let mut big = serde_json::to_vec(&event("v2")).unwrap();
    big.pop();
    let pad = format!(",\"padding\":\"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
    big.extend_from_slice(pad.as_bytes());
    assert_generic_denial(&h.decide_bytes(&big, Origin::Aws, at()), "1 MB event");
    let exactly = vec![b' '; MAX_EVENT_BYTES];
    assert_generic_denial(
        &h.decide_bytes(&exactly, Origin::Aws, at()),
        "exactly 1 MiB",
    );
    assert_generic_denial(
        &h.decide_sized(&event("v2"), MAX_EVENT_BYTES, Origin::Aws, at()),
        "1 MiB from the Lambda runtime",
    );
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_generic_denial(&h.decide_bytes(deep.as_bytes(), Origin::Aws, at()), "deep");
    let mut deep_field = serde_json::to_string(&event("v1")).unwrap();
    deep_field.pop();
    deep_field.push_str(&format!(
        ",\"x\":{}{}}}",
        "{\"a\":".repeat(300),
        "1".to_string() + &"}".repeat(300)
    ));
    assert_generic_denial(
        &h.decide_bytes(deep_field.as_bytes(), Origin::Aws, at()),
        "deep field",
    );
    let mut latin1 = serde_json::to_vec(&event("v1")).unwrap();
    let at_name = latin1.windows(5).position(|w| w == b"alice").unwrap();
    latin1[at_name] = 0xE9;
    assert_generic_denial(&h.decide_bytes(&latin1, Origin::Aws, at()), "non-UTF-8");
    // A wrong type in any field the schema has (groups only in v2).
    let fields = [
        "connection-id",
        "endpoint-id",
        "common-name",
        "username",
        "platform",
        "platform-version",
        "public-ip",
        "client-openvpn-version",
        "schema-version",
        "groups",
    ];
    for field in fields {
        for wrong in [
            json!(42),
            json!(true),
            json!({"a": "b"}),
            json!(["x"]),
            json!(1.5),
        ] {
            let mut e = event("v2");
            e[field] = wrong.clone();
            if field == "groups" && wrong.is_array() {
                continue; // a list of strings is the right type
            }
            assert_generic_denial(
                &h.decide(&e, Origin::Aws, at()),
                &format!("{field}={wrong}"),
            );
        }
    }
    let mut groups = event("v2");
    groups["groups"] = json!(["Engineering", 7]);
    assert_generic_denial(&h.decide(&groups, Origin::Aws, at()), "a non-string group");
    let mut null_ip = event("v1");
    null_ip["public-ip"] = Value::Null;
    assert_generic_denial(&h.decide(&null_ip, Origin::Aws, at()), "null public-ip");
}

const CEDAR_SET: &str = r#"
@id("engineering-in-hours")
permit(principal, action, resource)
when {
  context has saml &&
  context.saml.memberOf.contains("engineering") &&
  ["Mon", "Tue", "Wed", "Thu", "Fri"].contains(context.postern.localTime.weekday) &&
  context.postern.localTime.hour >= 8 && context.postern.localTime.hour < 18
};

@id("stolen-laptops")
@message("This laptop was reported stolen; call the service desk.")
forbid(principal, action, resource)
when {
  context has "mutual-authentication" &&
  ["stolen-laptop.lab.test"].contains(context["mutual-authentication"].commonName)
};

@id("no-documentation-range")
forbid(principal, action, resource)
when { context.connection.publicIp.isInRange(ip("192.0.2.0/24")) };
"#;

fn cedar_rules() -> HandlerRules {
    HandlerRules {
        time_zone: Some("Europe/Berlin".into()),
        ..HandlerRules::default()
    }
}

#[test]
fn cedar_permits_and_forbids_name_their_policies() {
    let h = with_cedar(cedar_rules(), CEDAR_SET);
    let ok = h.decide(&event("v2"), Origin::Aws, at());
    assert!(ok.allowed(), "{}", ok.output);
    assert_eq!(statuses(&ok), ["compliant", "permit:engineering-in-hours"]);
    // Outside working hours nothing permits.
    let night: jiff::Timestamp = "2026-11-24T22:00:00Z".parse().unwrap();
    let late = h.decide(&event("v2"), Origin::Aws, night);
    assert!(!late.allowed());
    assert_eq!(statuses(&late), ["non-compliant", "no-policy-permitted"]);
    // A forbid with the admin's message.
    let mut stolen = event("v2");
    stolen["common-name"] = json!("Stolen-Laptop.lab.test");
    let d = h.decide(&stolen, Origin::Aws, at());
    assert!(!d.allowed());
    assert_eq!(statuses(&d), ["non-compliant", "forbid:stolen-laptops"]);
    assert_eq!(
        d.message(),
        "This laptop was reported stolen; call the service desk."
    );
    // The IPv4-mapped form of a forbidden address is the address.
    let mut mapped = event("v2");
    mapped["public-ip"] = json!("::ffff:192.0.2.44");
    let d = h.decide(&mapped, Origin::Aws, at());
    assert_eq!(
        statuses(&d),
        ["non-compliant", "forbid:no-documentation-range"]
    );
    // Group names are folded as the TOML rules fold them.
    let mut shouting = event("v2");
    shouting["groups"] = json!(["ENGINEERING "]);
    assert!(h.decide(&shouting, Origin::Aws, at()).allowed());
}

#[test]
fn toml_rules_and_cedar_share_one_verdict() {
    let r = HandlerRules {
        blocked_source_cidrs: vec!["203.0.113.0/24".parse().unwrap()],
        ..cedar_rules()
    };
    let h = with_cedar(r, CEDAR_SET);
    let mut e = event("v2");
    e["public-ip"] = json!("203.0.113.9");
    let d = h.decide(&e, Origin::Aws, at());
    assert!(!d.allowed());
    assert_eq!(statuses(&d), ["non-compliant", "source-blocked"]);
    e["common-name"] = json!("stolen-laptop.lab.test");
    let d = h.decide(&e, Origin::Aws, at());
    assert_eq!(
        statuses(&d),
        ["non-compliant", "source-blocked", "forbid:stolen-laptops"]
    );
    // The admin's own message wins over the rule's.
    assert_eq!(
        d.message(),
        "This laptop was reported stolen; call the service desk."
    );
}

fn problems_of(policy: &str) -> Vec<cedar::Problem> {
    match CedarPolicy::parse(policy) {
        Ok(_) => panic!("accepted: {policy}"),
        Err(Ok(p)) => p,
        Err(Err(e)) => panic!("{e}"),
    }
}

#[test]
fn bad_cedar_is_refused_with_line_and_column() {
    let syntax = problems_of(
        "permit(principal, action, resource)\nwhen { context.connection.platform == };\n",
    );
    assert_eq!(syntax[0].line, 2, "{syntax:?}");
    let types = problems_of(
        "permit(principal, action, resource);\nforbid(principal, action, resource)\n  when { context.postern.localTime.weekday < 5 };\n",
    );
    assert_eq!(types[0].line, 3, "{types:?}");
    let unknown = problems_of(
        "permit(principal, action, resource)\n  when { context.connection.deviceSerial == \"x\" };\n",
    );
    assert_eq!(
        (unknown[0].line, unknown[0].column > 1),
        (2, true),
        "{unknown:?}"
    );
    assert!(unknown[0].message.contains("deviceSerial"), "{unknown:?}");
    // An optional attribute read without `has` does not type-check: it could be absent.
    let unguarded = problems_of(
        "permit(principal, action, resource)\n  when { context.saml.nameId == \"alice\" };\n",
    );
    assert_eq!(unguarded[0].line, 2, "{unguarded:?}");
}

#[test]
fn a_policy_file_that_does_not_check_makes_loading_fail() {
    let dir = tempdir();
    let path = dir.join("bad.cedar");
    std::fs::write(
        &path,
        "permit(principal, action, resource)\nwhen { context.nope };\n",
    )
    .unwrap();
    let rules = HandlerRules {
        cedar_policy: Some(path.clone()),
        ..HandlerRules::default()
    };
    match Handler::from_rules(rules, None) {
        Err(LoadError::Cedar(e)) => {
            let text = e.to_string();
            assert!(text.contains(&format!("{}:2:", path.display())), "{text}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a policy that does not type-check was loaded"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "handler-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn shadow_mode_allows_and_records_what_it_would_have_done() {
    let r = HandlerRules {
        mode: postern_policy::handler::HandlerMode::Shadow,
        blocked_common_names: vec!["mallory.lab.test".into()],
        deny_message: Some("Not this device.".into()),
        ..HandlerRules::default()
    };
    let h = handler(r);
    let mut e = event("v1");
    e["common-name"] = json!("mallory.lab.test");
    let d = h.decide(&e, Origin::Aws, at());
    assert_eq!(d.output["allow"], true);
    assert_eq!(statuses(&d), ["shadow", "would-deny", "device-blocked"]);
    assert_eq!(d.output["error-msg-on-failed-posture-compliance"], "");
    assert_eq!(d.log["mode"], "shadow");
    assert_eq!(d.log["decision"], "deny");
    assert_eq!(d.log["allowed"], true);
    assert_eq!(d.log["message"], "Not this device.");
    assert_eq!(
        d.log["statuses"],
        json!(["non-compliant", "device-blocked"])
    );
    // One line of JSON.
    assert!(!d.log.to_string().contains('\n'));
    let ok = h.decide(&event("v1"), Origin::Aws, at());
    assert_eq!(statuses(&ok), ["shadow", "would-allow"]);
    // A malformed event is still refused: there is nothing to let in.
    assert_generic_denial(
        &h.decide(&json!({}), Origin::Aws, at()),
        "shadow, malformed",
    );
}

fn identity_rules() -> HandlerRules {
    HandlerRules {
        blocked_users: vec!["mallory@corp.example.com".into()],
        blocked_source_cidrs: vec!["192.0.2.0/24".parse().unwrap()],
        deny_message: Some("Access revoked; contact security.".into()),
        ..HandlerRules::default()
    }
}

#[test]
fn the_forms_of_a_blocked_user_are_all_blocked_in_v1_and_v2() {
    let h = handler(identity_rules());
    for schema in ["v1", "v2"] {
        for form in [
            "mallory@corp.example.com",
            "MALLORY@corp.example.com",
            "CORP\\mallory",
            "mallory",
            "mallory@corp.example.com ",
        ] {
            let mut e = event(schema);
            e["username"] = json!(form);
            let d = h.decide(&e, Origin::Aws, at());
            assert!(!d.allowed(), "{schema} {form:?}");
            assert_eq!(d.message(), "Access revoked; contact security.");
            assert_eq!(statuses(&d)[1], "user-blocked", "{schema} {form:?}");
        }
        let mut mapped = event(schema);
        mapped["public-ip"] = json!("::ffff:192.0.2.44");
        let d = h.decide(&mapped, Origin::Aws, at());
        assert_eq!(statuses(&d)[1], "source-blocked", "{schema}");
        // The legitimate user is still let in.
        let mut alice = event(schema);
        alice["username"] = json!("alice@corp.example.com");
        assert!(h.decide(&alice, Origin::Aws, at()).allowed(), "{schema}");
    }
}

#[test]
fn the_openvpn_mode_applies_user_rules_to_the_authenticated_identity() {
    let h = handler(identity_rules());
    let env = |cn: &str, user: &str| {
        let vars: std::collections::HashMap<&str, String> = [
            ("common_name", cn.to_string()),
            ("username", user.to_string()),
            ("untrusted_ip", "198.51.100.10".to_string()),
            ("IV_VER", "2.6.14".to_string()),
        ]
        .into_iter()
        .collect();
        event_from_openvpn_env(|k| vars.get(k).cloned(), false)
    };
    // The certificate names Mallory: whatever username the client typed, the rule applies.
    let d = h.decide(
        &env("Mallory@corp.example.com", "alice"),
        Origin::OpenVpn,
        at(),
    );
    assert!(!d.allowed());
    assert_eq!(d.message(), "Access revoked; contact security.");
    // No identity at all: a rule that needs one denies instead of passing.
    let d = h.decide(&env("", ""), Origin::OpenVpn, at());
    assert!(!d.allowed());
    assert_eq!(statuses(&d)[1], "user-unauthenticated");
    assert!(
        h.decide(&env("alice@corp.example.com", ""), Origin::OpenVpn, at())
            .allowed()
    );
}

#[test]
fn cedar_sees_the_same_normalised_identity() {
    let r = HandlerRules {
        user_domain: Some("corp.example.com".into()),
        ..cedar_rules()
    };
    let policy = r#"
permit(principal, action, resource);
@id("revoked")
forbid(principal, action, resource)
when { context has saml && context.saml.nameId == "mallory@corp.example.com" };
"#;
    let h = with_cedar(r, policy);
    for form in ["CORP\\Mallory", "mallory", " MALLORY@corp.example.com"] {
        let mut e = event("v2");
        e["username"] = json!(form);
        let d = h.decide(&e, Origin::Aws, at());
        assert_eq!(
            statuses(&d),
            ["non-compliant", "forbid:revoked"],
            "{form:?}"
        );
    }
    let mut alice = event("v2");
    alice["username"] = json!("CORP\\alice");
    assert!(h.decide(&alice, Origin::Aws, at()).allowed());
}

#[test]
fn the_context_follows_the_schema_for_every_fixture() {
    // Every fixture's context is accepted by the schema (optional attributes left out when
    // AWS sent null), so a valid policy never meets a context it was not checked against.
    let h = with_cedar(cedar_rules(), "permit(principal, action, resource);");
    for name in [
        "aws-docs-request-schema-v1.json",
        "aws-docs-request-schema-v2.json",
        "aws-lambda-rust-runtime-example-request.json",
        "mutual-tls-capture-nulls-no-endpoint-id.json",
        "saml-v2-with-groups.json",
        "openvpn-env-lab-alice.json",
    ] {
        let d = h.decide(&fixture(name), Origin::Aws, at());
        assert!(d.allowed(), "{name}: {} {}", d.output, d.log);
    }
}
