//! `postern autostart` against this user's real login item place (an XDG autostart folder of the
//! test's own), read back as the desktop reads it; a setting the organization's policy forces is
//! shown as such and refused, with nothing changed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(app_section: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policy.toml"),
            format!(
                "[identity_center]\nstart_url = \"https://my-org.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n{app_section}"
            ),
        )
        .unwrap();
        Self { dir }
    }

    fn entry(&self) -> PathBuf {
        self.dir.path().join("config/autostart/postern.desktop")
    }

    fn postern(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("POSTERN_POLICY", self.dir.path().join("policy.toml"))
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.postern(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// The desktop app the login item starts: the one built beside this `postern`.
fn app() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_postern")).with_file_name("postern-app")
}

#[test]
fn enable_writes_an_entry_the_desktop_runs_and_disable_removes_it() {
    let home = Home::new("");
    let before = home.json(&["autostart", "status", "--json"]);
    assert_eq!(before["schema"], "postern.autostart.v1");
    assert_eq!(before["startAtLogin"]["value"], false);
    assert_eq!(before["startAtLogin"]["origin"], "default");
    assert_eq!(before["loginItem"], serde_json::Value::Null);

    let on = home.json(&["autostart", "enable", "--json"]);
    assert_eq!(on["startAtLogin"]["value"], true);
    assert_eq!(on["startAtLogin"]["origin"], "person");
    assert_eq!(on["startAtLogin"]["locked"], false);
    let entry = std::fs::read_to_string(home.entry()).unwrap();
    // What a session manager runs: the Exec line, split as the Desktop Entry spec says.
    let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    assert_eq!(exec, format!("{} --at-login", app().display()));
    assert!(app().is_file(), "the entry starts a program that exists");
    assert_eq!(on["loginItem"]["program"], app().display().to_string());
    assert!(
        Command::new("desktop-file-validate")
            .arg(home.entry())
            .status()
            .unwrap()
            .success(),
        "{entry}"
    );

    let off = home.json(&["autostart", "disable", "--json"]);
    assert_eq!(off["startAtLogin"]["value"], false);
    assert!(!home.entry().exists());
}

#[test]
fn a_forced_setting_is_shown_as_the_organizations_and_a_change_is_refused() {
    let home = Home::new("[app]\nstart_at_login = false\nconnect_on_start = true\n");
    let status = home.json(&["autostart", "status", "--json"]);
    assert_eq!(status["startAtLogin"]["origin"], "policy");
    assert_eq!(status["startAtLogin"]["locked"], true);
    assert!(
        status["startAtLogin"]["source"]
            .as_str()
            .unwrap()
            .ends_with("policy.toml: [app] start_at_login")
    );
    assert_eq!(status["connectOnStart"]["value"], true);

    let refused = home.postern(&["autostart", "enable"]);
    assert_eq!(refused.status.code(), Some(20));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("Start at login is off and set by your organization (policy file)"),
        "{said}"
    );
    assert!(said.contains("Ask your IT department"), "{said}");
    assert!(!home.entry().exists(), "nothing written");

    let text = String::from_utf8(home.postern(&["autostart", "status"]).stdout).unwrap();
    assert!(
        text.starts_with("Start at login:   off (set by your organization (policy file): "),
        "{text}"
    );
}

#[test]
fn an_invalid_policy_is_reported_not_guessed() {
    let home = Home::new("[app]\nstart_at_login = 1\n");
    let out = home.postern(&["autostart", "enable", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["schema"], "postern.error.v1");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("`app.start_at_login` must be true or false"),
        "{error}"
    );
    assert!(!home.entry().exists());
}
