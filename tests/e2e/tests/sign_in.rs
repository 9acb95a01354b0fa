//! Sign-in end to end: the real `postern` binary, the Identity Center emulator, the session's
//! gnome-keyring, and (where a person would click) headless Chromium.

use std::time::Duration;

use postern_e2e::browser::Browser;
use postern_e2e::{Emulator, Run, User, secret_tool};
use serde_json::json;

const NOT_SIGNED_IN: i32 = 4;
const SIGN_IN_FAILED: i32 = 5;
const IDP: i32 = 6;
const KEYCHAIN: i32 = 7;
const BAD_INPUT: i32 = 3;
const NOT_CONFIGURED: i32 = 8;

fn signed_in(name: &str) -> (Emulator, User) {
    let emulator = Emulator::start(name);
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    let (code, out) = login.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{out}");
    (emulator, user)
}

/// The access token must live in the keychain only: no file under HOME may hold it.
fn assert_no_token_on_disk(user: &User) {
    for file in user.files() {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("aoa") && !text.contains("aor"),
            "{} holds a token",
            file.display()
        );
    }
}

#[test]
fn device_code_sign_in_approved_in_a_real_browser() {
    let emulator = Emulator::start("device-browser");
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser"]);
    let code = login.user_code.clone().expect("user code");
    assert!(
        login.url.contains(&code),
        "the complete URI carries the code: {}",
        login.url
    );

    let browser = Browser::start();
    browser.goto(&login.url);
    assert_eq!(browser.text("#user"), "alice");
    browser.click("#approve");
    assert!(browser.text("#result").contains("approved"));
    drop(browser);

    let (status, out) = login.finish(Duration::from_secs(30));
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("Signed in to https://device-browser.awsapps.com/start"),
        "{out}"
    );

    let whoami = user.run(&["whoami", "--json"]);
    whoami.assert_ok();
    let j = whoami.json();
    assert_eq!(j["schema"], "postern.whoami.v1");
    assert_eq!(j["method"], "device-code");
    assert_eq!(j["refreshable"], true);
    assert!(
        !whoami.stdout().contains("aoa"),
        "whoami must not print the token"
    );

    // In the keychain (the Secret Service of this session), and nowhere on disk.
    let stored = secret_tool(&[
        "lookup",
        "service",
        "postern",
        "username",
        &format!("sso-token:{}", emulator.start_url),
    ]);
    assert!(
        stored.status.success(),
        "the token item exists in the Secret Service"
    );
    assert_no_token_on_disk(&user);
    assert_eq!(emulator.stat("register_client"), 1);
}

#[test]
fn pkce_sign_in_approved_in_a_real_browser() {
    let emulator = Emulator::start("pkce-browser");
    let user = User::new(&emulator);
    let login = user.start_login(&["--no-browser"]);
    assert!(
        login
            .url
            .starts_with(&format!("{}/authorize?", emulator.url)),
        "{}",
        login.url
    );
    assert!(
        login.url.contains("scopes=sso%3Aaccount%3Aaccess"),
        "{}",
        login.url
    );

    let browser = Browser::start();
    browser.goto(&login.url);
    browser.click("#approve");
    // The emulator redirects the browser to Postern's loopback listener, which answers.
    assert!(
        browser
            .text("#postern-result")
            .contains("Signed in to Postern")
    );
    drop(browser);

    let (status, out) = login.finish(Duration::from_secs(30));
    assert_eq!(status, 0, "{out}");
    let j = user.run(&["whoami", "--json"]).json();
    assert_eq!(j["method"], "pkce");
    assert_eq!(emulator.stat("token_authorization_code"), 1);
    assert_no_token_on_disk(&user);
}

#[test]
fn pkce_denied_in_the_browser_says_so() {
    let emulator = Emulator::start("pkce-deny");
    let user = User::new(&emulator);
    let login = user.start_login(&["--no-browser"]);
    let browser = Browser::start();
    browser.goto(&login.url);
    browser.click("#deny");
    assert!(browser.text("#postern-result").contains("denied"));
    drop(browser);
    let (status, out) = login.finish(Duration::from_secs(30));
    assert_eq!(status, SIGN_IN_FAILED, "{out}");
    assert!(
        out.contains("The sign-in was denied in the browser."),
        "{out}"
    );
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "not signed in");
}

#[test]
fn a_browser_that_never_comes_back_times_out_cleanly() {
    let emulator = Emulator::start("pkce-timeout");
    let user = User::new(&emulator);
    let login = user.start_login(&["--no-browser", "--browser-timeout", "1"]);
    let (status, out) = login.finish(Duration::from_secs(30));
    assert_eq!(status, SIGN_IN_FAILED, "{out}");
    assert!(
        out.contains("No answer came back from the browser"),
        "{out}"
    );
    assert!(
        out.contains("--device-code"),
        "suggests the remote-shell flow: {out}"
    );
}

#[test]
fn slow_down_adds_five_seconds_and_still_signs_in() {
    let emulator = Emulator::start("slow-down");
    emulator.knobs(json!({"slow_down_next": 1}));
    let user = User::new(&emulator);
    let started = std::time::Instant::now();
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    let (status, out) = login.finish(Duration::from_secs(30));
    assert_eq!(status, 0, "{out}");
    // interval 1 s, slow_down once: the next poll comes 1 + 5 s later, not at 1 s.
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.stat("slow_down_sent"), 1);
    assert_eq!(
        emulator.stat("token_device_code"),
        2,
        "exactly one poll after slow_down"
    );
}

#[test]
fn a_pending_code_keeps_polling_then_denial_ends_it() {
    let emulator = Emulator::start("device-deny");
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser"]);
    std::thread::sleep(Duration::from_millis(2500));
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), false);
    let (status, out) = login.finish(Duration::from_secs(30));
    assert_eq!(status, SIGN_IN_FAILED, "{out}");
    assert!(out.contains("denied"), "{out}");
    assert!(
        emulator.stat("token_device_code") >= 2,
        "it polled while pending"
    );
}

#[test]
fn access_denied_from_the_service_ends_the_sign_in() {
    let emulator = Emulator::start("device-access-denied");
    emulator.knobs(json!({"deny_next_poll": true}));
    let user = User::new(&emulator);
    let (status, out) = user
        .start_login(&["--device-code", "--no-browser"])
        .finish(Duration::from_secs(30));
    assert_eq!(status, SIGN_IN_FAILED, "{out}");
    assert!(out.contains("The sign-in was denied"), "{out}");
}

#[test]
fn an_expired_device_code_says_so() {
    let emulator = Emulator::start("device-expired");
    emulator.knobs(json!({"device_code_ttl_secs": 2}));
    let user = User::new(&emulator);
    let (status, out) = user
        .start_login(&["--device-code", "--no-browser"])
        .finish(Duration::from_secs(30));
    assert_eq!(status, SIGN_IN_FAILED, "{out}");
    assert!(out.contains("The sign-in code expired"), "{out}");
}

#[test]
fn ten_parallel_callers_on_an_expired_token_cause_exactly_one_refresh() {
    let emulator = Emulator::start("single-flight");
    emulator.knobs(json!({"access_token_ttl_secs": 6}));
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    emulator.knobs(json!({"access_token_ttl_secs": 3600}));
    // Under 5 s left counts as expired: every caller needs a new token.
    std::thread::sleep(Duration::from_secs(2));

    let callers: Vec<_> = (0..10)
        .map(|_| {
            user.postern()
                .args(["whoami", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut expiries = std::collections::BTreeSet::new();
    for caller in callers {
        let out = caller.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        expiries.insert(j["expiresAt"].as_str().unwrap().to_string());
    }
    assert_eq!(
        emulator.stat("token_refresh"),
        1,
        "exactly one process refreshed"
    );
    assert_eq!(
        expiries.len(),
        1,
        "all callers saw the one refreshed token: {expiries:?}"
    );
}

#[test]
fn a_token_revoked_at_the_portal_is_refreshed_once_and_the_call_retried() {
    let (emulator, user) = signed_in("portal-revoked");
    emulator.expire_tokens();
    user.run(&["accounts"]).assert_ok();
    assert_eq!(emulator.stat("token_refresh"), 1);
    assert_eq!(emulator.stat("list_accounts"), 2, "the 401, then the retry");
    // When the refresh token is dead too, the answer is to sign in again.
    emulator.knobs(json!({"invalid_grant_on_refresh": true}));
    emulator.expire_tokens();
    user.run(&["accounts"])
        .assert_fails(NOT_SIGNED_IN, "session has ended");
    user.run(&["accounts"])
        .assert_fails(NOT_SIGNED_IN, "postern login");
}

#[test]
fn invalid_grant_on_refresh_forgets_the_token() {
    let emulator = Emulator::start("invalid-grant");
    emulator.knobs(json!({"access_token_ttl_secs": 6}));
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    emulator.knobs(json!({"invalid_grant_on_refresh": true}));
    std::thread::sleep(Duration::from_secs(2));
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "Your IAM Identity Center session has ended");
    // The dead token is gone: the next call does not try it again.
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "You are not signed in");
    assert_eq!(emulator.stat("token_refresh"), 1);
}

#[test]
fn an_expired_registration_means_sign_in_again_and_sign_in_registers_anew() {
    let emulator = Emulator::start("registration-expired");
    emulator.knobs(json!({"client_secret_ttl_secs": 4, "access_token_ttl_secs": 6}));
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    std::thread::sleep(Duration::from_secs(4));
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "registration with Identity Center expired");
    emulator.knobs(json!({"client_secret_ttl_secs": 7776000}));
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    assert_eq!(emulator.stat("register_client"), 2);
    user.run(&["whoami"]).assert_ok();
}

#[test]
fn a_registration_identity_center_no_longer_accepts_is_replaced_at_the_next_sign_in() {
    let (emulator, user) = signed_in("registration-revoked");
    emulator.forget_clients();
    // The stored registration is still within its lifetime: only Identity Center's answer
    // says it is dead. Sign-in registers anew, once, and succeeds.
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    let (code, out) = login.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{out}");
    assert_eq!(emulator.stat("register_client"), 2);
    user.run(&["whoami"]).assert_ok();
}

#[test]
fn accounts_follow_every_page() {
    let (emulator, user) = signed_in("accounts-pages");
    emulator.knobs(json!({"max_page": 1}));
    let run = user.run(&["accounts", "--json"]);
    run.assert_ok();
    let j = run.json();
    assert_eq!(j["schema"], "postern.accounts.v1");
    let accounts = j["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert_eq!(accounts[1]["accountId"], "444455556666");
    assert_eq!(accounts[1]["roles"], json!(["Admin", "Developer"]));
    assert_eq!(
        emulator.stat("list_accounts"),
        3,
        "one call per page of one"
    );
    let text = user.run(&["accounts"]);
    assert!(
        text.stdout()
            .contains("111122223333  Production  roles: Developer, ReadOnly")
    );
}

#[test]
fn logout_ends_the_portal_session_and_deletes_every_secret() {
    let (emulator, user) = signed_in("logout");
    let key = format!("sso-token:{}", emulator.start_url);
    assert!(
        secret_tool(&["lookup", "service", "postern", "username", &key])
            .status
            .success()
    );
    let run = user.run(&["logout", "--json"]);
    run.assert_ok();
    assert_eq!(run.json()["wasSignedIn"], true);
    assert_eq!(run.json()["portalLogoutError"], serde_json::Value::Null);
    assert_eq!(emulator.stat("logout"), 1);
    for item in [
        key.clone(),
        format!("{key}#1"),
        format!("oidc-client:eu-west-1:{}", emulator.start_url),
    ] {
        let found = secret_tool(&["lookup", "service", "postern", "username", &item]);
        assert!(!found.status.success(), "{item} is still in the keychain");
    }
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "not signed in");
    assert!(
        user.run(&["logout"])
            .assert_ok()
            .stdout()
            .contains("were not signed in")
    );
}

#[test]
fn logout_still_clears_local_secrets_when_the_portal_is_down() {
    let (emulator, user) = signed_in("logout-offline");
    drop(emulator);
    let run = user.run(&["logout"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("could not be told"),
        "{}",
        run.stdout()
    );
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "not signed in");
}

#[test]
fn the_aws_cli_cache_is_exported_only_on_request_owner_only_and_removed_on_logout() {
    let emulator = Emulator::start("cli-export");
    let user = User::new(&emulator);
    let login = user.start_login(&["--device-code", "--no-browser", "--export-aws-cli-cache"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    let cache = user
        .home
        .path()
        .join(".aws/sso/cache/a74282a5b06a13e864a551b6c57b9ce7ff1f21c7.json");
    let text = std::fs::read_to_string(&cache).expect("exported cache file");
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    for field in [
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    ] {
        assert!(j[field].is_string(), "{field} missing: {text}");
    }
    assert!(j["expiresAt"].as_str().unwrap().ends_with('Z'));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(user.run(&["whoami", "--json"]).json()["awsCliCacheExported"] == true);
    user.run(&["logout"]).assert_ok();
    assert!(!cache.exists(), "logout removes the exported file");

    // Without the flag nothing is written.
    let (_e2, plain) = signed_in("cli-no-export");
    assert!(!plain.home.path().join(".aws").exists());
}

#[test]
fn an_unreachable_identity_provider_is_named() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let user = User::with_policy(&format!(
        "[identity_center]\nstart_url = \"https://offline.awsapps.com/start\"\nregion = \"eu-west-1\"\noidc_endpoint = \"http://127.0.0.1:{port}\"\n"
    ));
    let run = user.run(&["login", "--device-code", "--no-browser"]);
    run.assert_fails(IDP, "could not be reached");
    run.assert_fails(IDP, "Check your internet connection");
}

#[test]
fn a_wrong_region_is_explained() {
    let emulator = Emulator::start("wrong-region");
    emulator.knobs(json!({"wrong_region": true}));
    let user = User::new(&emulator);
    user.run(&["login", "--device-code", "--no-browser"])
        .assert_fails(IDP, "belongs to another region than eu-west-1");
}

#[test]
fn server_errors_are_retried_then_reported() {
    let emulator = Emulator::start("server-errors");
    let user = User::new(&emulator);
    // One 500 is absorbed by the SDK's standard retry...
    emulator.knobs(json!({"fail_next": 1}));
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    // ...a persistent failure is reported as the service's fault.
    emulator.knobs(json!({"fail_next": 10}));
    user.run(&["accounts"]).assert_fails(IDP, "internal error");
}

#[test]
fn a_malformed_start_url_is_rejected_with_its_line() {
    let user = User::with_policy(
        "[identity_center]\nstart_url = \"my-org.awsapps.com\"\nregion = \"eu-west-1\"\n",
    );
    let run = user.run(&["login", "--device-code", "--no-browser"]);
    run.assert_fails(BAD_INPUT, "policy.toml:2:13:");
    run.assert_fails(BAD_INPUT, "https:// address");
    let v = user.run(&["policy", "validate", user.policy.to_str().unwrap()]);
    v.assert_fails(BAD_INPUT, "policy.toml:2:13:");
}

#[test]
fn no_policy_at_all_says_where_it_looked() {
    let user = User::with_policy("");
    let run = Run::from(user.postern().env_remove("POSTERN_POLICY").arg("whoami"));
    run.assert_fails(NOT_CONFIGURED, "No organization policy is configured");
    run.assert_fails(NOT_CONFIGURED, "/etc/postern/policy.toml");
}

#[test]
fn a_corrupted_keychain_item_is_named() {
    let (emulator, user) = signed_in("corrupt-item");
    let key = format!("sso-token:{}", emulator.start_url);
    let mut store = std::process::Command::new("secret-tool")
        .args([
            "store", "--label", "damaged", "service", "postern", "username", &key,
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    store
        .stdin
        .take()
        .unwrap()
        .write_all(b"v1:{not json")
        .unwrap();
    assert!(store.wait().unwrap().success());
    user.run(&["whoami"])
        .assert_fails(KEYCHAIN, "is unreadable");
    user.run(&["whoami"])
        .assert_fails(KEYCHAIN, "postern logout");
    // And the advice works: logout clears it, login replaces it.
    user.run(&["logout"]).assert_ok();
    user.run(&["whoami"])
        .assert_fails(NOT_SIGNED_IN, "not signed in");
}

#[test]
fn no_secret_service_is_a_clear_keychain_error() {
    let emulator = Emulator::start("no-keychain");
    let user = User::new(&emulator);
    let run = Run::from(
        user.postern()
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .arg("whoami"),
    );
    run.assert_fails(KEYCHAIN, "No keychain is available");
    run.assert_fails(KEYCHAIN, "Secret Service");
}

#[test]
fn ctrl_c_and_sigterm_end_a_command_with_the_usual_codes_and_the_keychain_stays_usable() {
    let emulator = Emulator::start("interrupted");
    let user = User::new(&emulator);
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        // A login waiting for approval has read the keychain and will write it.
        let login = user.start_login(&["--device-code", "--no-browser"]);
        login.signal(signal);
        let (status, out) = login.finish(Duration::from_secs(15));
        assert_eq!(status, code, "after SIG{signal}: {out}");
    }
    // The keyring daemon is the same unlocked one: a later sign-in stores its token.
    let login = user.start_login(&["--device-code", "--no-browser"]);
    emulator.approve_device_code(login.user_code.as_deref().unwrap(), true);
    assert_eq!(login.finish(Duration::from_secs(30)).0, 0);
    user.run(&["whoami"]).assert_ok();
}

#[test]
fn aws_config_install_all_writes_the_roles_the_portal_gives_of_those_the_policy_allows() {
    let (emulator, user) = signed_in("aws-config-all");
    // The policy allows three roles; the portal gives this person two of them.
    let policy = std::fs::read_to_string(&user.policy).unwrap();
    std::fs::write(
        &user.policy,
        format!(
            "{policy}\n[[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\nrequire = []\n\n\
             [[access]]\naccount = \"444455556666\"\nrole = \"ReadOnly\"\nrequire = []\n\n\
             [[access]]\naccount = \"777788889999\"\nrole = \"ReadOnly\"\nrequire = []\nregion = \"eu-central-1\"\n"
        ),
    )
    .unwrap();
    let config = user.home.path().join(".aws/config");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[profile mine]\nregion = us-east-1\n").unwrap();

    // Without --all: one profile per rule.
    let every = user.run(&["aws-config", "install", "--json"]);
    every.assert_ok();
    assert_eq!(every.json()["added"].as_array().unwrap().len(), 3);

    let all = user.run(&["aws-config", "install", "--all", "--json"]);
    all.assert_ok();
    let report = all.json();
    assert_eq!(
        report["removed"],
        serde_json::json!(["postern-444455556666-ReadOnly"]),
        "{report}"
    );
    assert_eq!(
        report["unchanged"],
        serde_json::json!([
            "postern-111122223333-Developer",
            "postern-777788889999-ReadOnly"
        ]),
        "{report}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with("[profile mine]\nregion = us-east-1\n"),
        "{text}"
    );
    assert!(!text.contains("444455556666"), "{text}");
    assert!(
        text.contains("--account 777788889999 --role ReadOnly\nregion = eu-central-1\n"),
        "{text}"
    );
    assert!(emulator.stat("list_account_roles") >= 1);
    // botocore reads the file Postern wrote: every profile, with its region.
    let read = std::process::Command::new("python3")
        .args([
            "-c",
            "import botocore.session, sys; s = botocore.session.Session(); \
             print(sorted(s.available_profiles)); \
             print(s.full_config['profiles']['postern-777788889999-ReadOnly']['region'])",
        ])
        .env("AWS_CONFIG_FILE", &config)
        .output()
        .unwrap();
    let read = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.contains("'postern-111122223333-Developer', 'postern-777788889999-ReadOnly'")
            && read.contains("eu-central-1"),
        "{read}"
    );
}
