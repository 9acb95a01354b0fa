//! Arbitrary bytes as the handler's event, through the path the Lambda and OpenVPN doors use
//! (TOML rules and a Cedar policy together): the decision never panics, always answers in the
//! schema's shape, and denies what it cannot read.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use postern_policy::handler::HandlerRules;
use postern_handler::cedar::CedarPolicy;
use postern_handler::{Handler, Origin};
use serde_json::Value;

const CEDAR: &str = r#"
@id("allow-all") permit(principal, action, resource);
@id("no-ios") @message("iOS devices may not connect.")
forbid(principal, action, resource)
when { context.connection has platform && context.connection.platform == "ios" };
"#;

fn handler() -> &'static Handler {
    static HANDLER: OnceLock<Handler> = OnceLock::new();
    HANDLER.get_or_init(|| {
        let rules = HandlerRules {
            blocked_users: vec!["mallory".into()],
            blocked_source_cidrs: vec!["192.0.2.0/24".parse().unwrap()],
            required_groups: vec!["Engineering".into()],
            ..HandlerRules::default()
        };
        let mut handler = Handler::from_rules(rules, None).expect("rules");
        handler.cedar = Some(CedarPolicy::parse(CEDAR).unwrap_or_else(|e| panic!("{e:?}")));
        handler
    })
}

fuzz_target!(|data: &[u8]| {
    let decision = handler().decide_bytes(data, Origin::Aws, jiff::Timestamp::now());
    let out = &decision.output;
    assert!(out["allow"].is_boolean());
    let message = out
        .get("error-msg-on-failed-posture-compliance")
        .or_else(|| out.get("error-msg-on-denied-connection"))
        .and_then(Value::as_str)
        .expect("a message field");
    assert!(message.chars().count() <= 255);
    let statuses = out["posture-compliance-statuses"].as_array().expect("statuses");
    assert!(!statuses.is_empty() && statuses.len() <= 10);
    if decision.allowed() {
        assert!(serde_json::from_slice::<Value>(data).is_ok_and(|v| v.is_object()));
    }
});
