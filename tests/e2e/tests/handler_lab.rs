//! The client-connect handler in the network lab: the lab's OpenVPN server runs
//! `postern-handler openvpn` as its connect hook (`tests/lab/connect_hook`), with the policy
//! each test writes. A Cedar policy in shadow mode lets a denied device connect and records the
//! denial; the same policy enforcing refuses it with the admin's message; user rules apply to
//! the certificate OpenVPN authenticated, however it is spelt. Needs root (CI is root).

use std::path::PathBuf;

use postern_e2e::lab::{self, ELASTIC_IP, Helper, LAPTOP_IP};
use postern_e2e::{Run, User};

const VPN_FAILED: i32 = 9;

fn lab_dir() -> PathBuf {
    PathBuf::from(std::env::var("POSTERN_LAB_DIR").unwrap_or_else(|_| "/run/postern-lab".into()))
}

/// Writes the handler policy the lab server reads (the turn's guard rewrites the lab's own
/// when the test ends) and the Cedar policy beside it.
fn handler_policy(handler: &str, cedar: Option<&str>) {
    let dir = lab_dir();
    // The hook runs the handler built beside the lab script.
    postern_e2e::bin("postern-handler");
    if let Some(text) = cedar {
        std::fs::write(dir.join("handler-lab.cedar"), text).unwrap();
    }
    let text = format!(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n[handler]\n{handler}"
    );
    let tmp = dir.join("handler.toml.test");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("handler.toml")).unwrap();
}

fn server_log() -> String {
    std::fs::read_to_string(lab_dir().join("server.log")).unwrap_or_default()
}

/// The handler's decision lines in the server's log since `from` (a byte offset).
fn decisions_since(from: usize) -> Vec<serde_json::Value> {
    let log = server_log();
    log.get(from..)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "postern-handler-decision")
        .collect()
}

fn vpn(user: &User, helper: &Helper, args: &[&str]) -> Run {
    Run::from(
        user.postern()
            .env("POSTERN_HELPER_SOCKET", helper.socket())
            .arg("vpn")
            .args(args),
    )
}

fn import(user: &User, cn: &str) {
    let file = user.home.path().join(format!("{cn}.ovpn"));
    lab::lab(&["profile", cn, file.to_str().unwrap()]);
    Run::from(
        user.postern()
            .args(["vpn", "import", file.to_str().unwrap(), "--name", "corp"]),
    )
    .assert_ok();
}

const STOLEN: &str = "This laptop was reported stolen; call the service desk.";

const CEDAR: &str = r#"
@id("everyone")
permit(principal, action, resource);

@id("stolen-laptops")
@message("This laptop was reported stolen; call the service desk.")
forbid(principal, action, resource)
when {
  context has "mutual-authentication" &&
  ["mallory.lab.test"].contains(context["mutual-authentication"].commonName)
};
"#;

#[test]
fn a_shadow_denial_connects_and_the_same_policy_enforcing_refuses() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let user = User::with_policy("");
    import(&user, "mallory.lab.test");

    handler_policy(
        "mode = \"shadow\"\ncedar_policy = \"handler-lab.cedar\"\n",
        Some(CEDAR),
    );
    let from = server_log().len();
    vpn(&user, &helper, &["connect", "corp"]).assert_ok();
    assert_eq!(
        lab::egress_address(),
        ELASTIC_IP,
        "shadow mode let the device in"
    );
    let lines = decisions_since(from);
    let line = lines
        .iter()
        .find(|l| l["common-name"] == "mallory.lab.test")
        .unwrap_or_else(|| panic!("no decision line in the server log: {lines:?}"));
    assert_eq!(line["mode"], "shadow");
    assert_eq!(line["decision"], "deny");
    assert_eq!(line["allowed"], true);
    assert_eq!(line["message"], STOLEN);
    assert_eq!(
        line["statuses"],
        serde_json::json!(["non-compliant", "forbid:stolen-laptops"])
    );
    vpn(&user, &helper, &["disconnect"]).assert_ok();
    assert_eq!(lab::egress_address(), LAPTOP_IP);

    handler_policy("cedar_policy = \"handler-lab.cedar\"\n", None);
    vpn(&user, &helper, &["connect", "corp"]).assert_fails(VPN_FAILED, STOLEN);
    assert!(lab::tun_devices().is_empty());
    assert_eq!(lab::egress_address(), LAPTOP_IP);
}

#[test]
fn user_rules_apply_to_the_certificate_however_it_is_spelt() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let revoked = "Access revoked; contact security.";
    // The rule spells the name differently from the certificate; the client sends no username
    // (certificate only), which used to skip the user rules.
    handler_policy(
        &format!("blocked_users = [\" Mallory.LAB.test\"]\ndeny_message = \"{revoked}\"\n"),
        None,
    );
    let mallory = User::with_policy("");
    import(&mallory, "mallory.lab.test");
    vpn(&mallory, &helper, &["connect", "corp"]).assert_fails(VPN_FAILED, revoked);
    assert!(lab::tun_devices().is_empty());

    let alice = User::with_policy("");
    import(&alice, "alice.lab.test");
    vpn(&alice, &helper, &["connect", "corp"]).assert_ok();
    assert_eq!(lab::egress_address(), ELASTIC_IP);
    vpn(&alice, &helper, &["disconnect"]).assert_ok();
}
