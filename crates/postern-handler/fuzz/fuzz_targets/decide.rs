//! Arbitrary bytes as the handler's event: the decision never panics, always answers in the
//! schema's shape, and denies what it cannot read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_core::policy::handler::HandlerRules;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let event: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
    let rules = HandlerRules {
        blocked_users: vec!["mallory".into()],
        blocked_source_cidrs: vec!["192.0.2.0/24".parse().unwrap()],
        required_groups: vec!["Engineering".into()],
        ..HandlerRules::default()
    };
    let out = postern_handler::decide(&rules, None, &event);
    assert!(out["allow"].is_boolean());
    let message = out
        .get("error-msg-on-failed-posture-compliance")
        .or_else(|| out.get("error-msg-on-denied-connection"))
        .and_then(Value::as_str)
        .expect("a message field");
    assert!(message.chars().count() <= 255);
    let statuses = out["posture-compliance-statuses"].as_array().expect("statuses");
    assert!(!statuses.is_empty() && statuses.len() <= 10);
    if out["allow"] == true {
        assert!(event.is_object());
    }
});
