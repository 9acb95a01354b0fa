//! Egress in the network lab: the real `postern egress` inside the laptop namespace, the lab's
//! echo endpoints (honest and misbehaving), before and through the real VPN.

use std::process::Command;

use postern_e2e::lab::{self, ELASTIC_IP, Helper, LAPTOP_IP};
use postern_e2e::{Run, User, bin, copy_env};

const MISMATCH: i32 = 13;
const UNDETERMINED: i32 = 14;

fn user(echoes: &[&str], quorum: usize, countries: &[&str]) -> User {
    let dir = tempfile::tempdir().unwrap().keep();
    let db = dir.join("country.mmdb");
    postern_core::egress::write_test_database(
        &db,
        &[("203.0.113.0/24", "DE"), ("198.51.100.0/24", "FR")],
    );
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    User::with_policy(&format!(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n\
         [egress]\necho_urls = [{}]\nallow_plain_http = true\nquorum = {quorum}\n\
         nat_addresses = [\"{ELASTIC_IP}/32\"]\nallowed_countries = [{}]\ngeoip_database = \"{}\"\ntimeout = \"2s\"\n",
        list(echoes),
        list(countries),
        db.display()
    ))
}

/// `postern egress --json` run where the laptop is.
fn egress(user: &User) -> Run {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", "pl-laptop"])
        .arg(bin("postern"))
        .args(["egress", "--json"]);
    copy_env(&user.postern(), &mut c);
    Run::from(&mut c)
}

fn connect(helper: &Helper) {
    let text = lab::profile_text("alice.lab.test");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = rt.block_on(lab::connect_tunnel(&helper.socket(), &text));
    assert!(state.is_connected(), "{state:?}");
}

#[test]
fn before_the_vpn_a_mismatch_and_through_it_a_match_in_an_allowed_country() {
    let _turn = lab::take_turn();
    let user = user(&["http://192.0.2.80/", "http://lab.test/"], 2, &["DE"]);
    let before = egress(&user);
    assert_eq!(
        before.code(),
        MISMATCH,
        "{}{}",
        before.stdout(),
        before.stderr()
    );
    let j = before.json();
    assert_eq!(j["verdict"]["verdict"], "mismatch");
    assert_eq!(j["verdict"]["address"], LAPTOP_IP);
    assert!(before.stderr().contains("Connect the company VPN"));

    let helper = Helper::start(&[]);
    connect(&helper);
    let after = egress(&user);
    after.assert_ok();
    let j = after.json();
    assert_eq!(j["schema"], "postern.egress.v1");
    assert_eq!(j["verdict"]["verdict"], "match");
    assert_eq!(j["verdict"]["address"], ELASTIC_IP);
    assert_eq!(j["verdict"]["country"], "DE");
    assert_eq!(
        j["country"]["note"],
        "an estimate from the GeoIP database; AWS decides with its own"
    );
    assert_eq!(j["answers"].as_array().unwrap().len(), 2);

    // The same egress, but the policy allows only France: not a pass.
    let fr_only = user_with_countries(&["FR"]);
    let refused = egress(&fr_only);
    assert_eq!(refused.code(), MISMATCH, "{}", refused.stdout());
    assert_eq!(refused.json()["verdict"]["verdict"], "country-not-allowed");
}

fn user_with_countries(countries: &[&str]) -> User {
    user(&["http://192.0.2.80/"], 1, countries)
}

#[test]
fn one_lying_echo_is_reported_as_disagreement_not_a_pass() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    connect(&helper);
    let user = user(&["http://192.0.2.80/", "http://192.0.2.80/lie"], 1, &[]);
    let run = egress(&user);
    assert_eq!(run.code(), UNDETERMINED, "{}", run.stdout());
    let j = run.json();
    assert_eq!(j["verdict"]["reason"]["why"], "disagreement");
    assert!(run.stdout().contains("203.0.113.99"));
}

#[test]
fn silent_html_garbage_private_and_failing_echoes_are_undetermined_with_reasons() {
    let _turn = lab::take_turn();
    let user = user(
        &[
            "http://192.0.2.80/slow",
            "http://192.0.2.80/html",
            "http://192.0.2.80/garbage",
            "http://192.0.2.80/private",
            "http://192.0.2.80/error",
            "http://192.0.2.81/",
        ],
        1,
        &[],
    );
    let run = egress(&user);
    assert_eq!(run.code(), UNDETERMINED, "{}", run.stdout());
    let j = run.json();
    assert_eq!(j["verdict"]["reason"]["why"], "no-answers");
    let outcomes: Vec<&str> = j["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["answer"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes[0], "timed-out");
    assert_eq!(outcomes[1], "not-an-address");
    assert_eq!(outcomes[2], "not-an-address");
    assert_eq!(outcomes[3], "not-public");
    assert_eq!(outcomes[4], "http-status");
    assert!(
        matches!(outcomes[5], "unreachable" | "timed-out"),
        "{outcomes:?}"
    );
    let failures = j["verdict"]["reason"]["failures"].to_string();
    assert!(failures.contains("hotel Wi-Fi"), "{failures}");
    assert!(failures.contains("10.1.2.3"), "{failures}");
}
