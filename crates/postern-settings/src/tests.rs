use std::cell::RefCell;
use std::path::{Path, PathBuf};

use postern_policy::app::AppSettings;
use postern_policy::managed::{Channel, Managed, ManagedValue};

use super::*;

/// A person's login item in memory.
#[derive(Default)]
struct Memory(RefCell<Option<LoginItem>>);

impl Memory {
    fn with(program: &str) -> Self {
        Self(RefCell::new(Some(item(program))))
    }
}

fn item(program: &str) -> LoginItem {
    LoginItem {
        location: "/home/a/.config/autostart/postern.desktop".into(),
        program: Some(PathBuf::from(program)),
    }
}

impl LoginItems for Memory {
    fn read(&self) -> Result<Option<LoginItem>, LoginItemError> {
        Ok(self.0.borrow().clone())
    }
    fn write(&self, program: &Path) -> Result<LoginItem, LoginItemError> {
        let written = item(&program.display().to_string());
        *self.0.borrow_mut() = Some(written.clone());
        Ok(written)
    }
    fn remove(&self) -> Result<bool, LoginItemError> {
        Ok(self.0.borrow_mut().take().is_some())
    }
}

fn group_policy(value: bool) -> Option<ManagedValue<bool>> {
    Some(ManagedValue {
        value,
        channel: Channel::GroupPolicy,
        location: r"HKLM\SOFTWARE\Policies\Postern\StartAtLogin".into(),
    })
}

fn app(start_at_login: Option<bool>, connect_on_start: Option<bool>) -> AppSettings {
    AppSettings {
        start_at_login,
        connect_on_start,
    }
}

const POLICY: &str = "/etc/postern/policy.toml";

#[test]
fn nothing_set_is_the_default_off_and_unlocked() {
    let s = resolve(&Sources {
        managed: &Managed::default(),
        policy: None,
        login_item: None,
    });
    assert!(!s.start_at_login.value);
    assert_eq!(s.start_at_login.origin, Origin::Default);
    assert!(!s.start_at_login.locked);
    assert_eq!(s.connect_on_start.origin, Origin::Default);
}

#[test]
fn the_persons_login_item_is_their_choice() {
    let item = item("/usr/bin/postern-app");
    let s = resolve(&Sources {
        managed: &Managed::default(),
        policy: Some((&app(None, None), Path::new(POLICY))),
        login_item: Some(&item),
    });
    assert!(s.start_at_login.value);
    assert_eq!(s.start_at_login.origin, Origin::Person);
    assert_eq!(
        s.start_at_login.source.as_deref(),
        Some(item.location.as_str())
    );
    assert!(!s.start_at_login.locked);
}

#[test]
fn the_policy_overrides_the_person_and_locks() {
    let item = item("/usr/bin/postern-app");
    let s = resolve(&Sources {
        managed: &Managed::default(),
        policy: Some((&app(Some(false), Some(true)), Path::new(POLICY))),
        login_item: Some(&item),
    });
    assert!(!s.start_at_login.value);
    assert_eq!(s.start_at_login.origin, Origin::Policy);
    assert!(s.start_at_login.locked);
    assert_eq!(
        s.start_at_login.source.as_deref(),
        Some("/etc/postern/policy.toml: [app] start_at_login")
    );
    assert!(s.connect_on_start.value);
    assert!(s.connect_on_start.locked);
}

#[test]
fn the_management_channel_overrides_the_policy() {
    let managed = Managed {
        start_at_login: group_policy(true),
        ..Managed::default()
    };
    let s = resolve(&Sources {
        managed: &managed,
        policy: Some((&app(Some(false), Some(true)), Path::new(POLICY))),
        login_item: None,
    });
    assert!(s.start_at_login.value);
    assert_eq!(s.start_at_login.origin, Origin::GroupPolicy);
    assert!(s.start_at_login.source.unwrap().ends_with("StartAtLogin"));
    // What the channel leaves unset still comes from the policy.
    assert_eq!(s.connect_on_start.origin, Origin::Policy);
}

#[test]
fn the_json_names_value_origin_source_and_lock() {
    let s = resolve(&Sources {
        managed: &Managed {
            start_at_login: group_policy(true),
            ..Managed::default()
        },
        policy: None,
        login_item: None,
    });
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["startAtLogin"]["value"], serde_json::json!(true));
    assert_eq!(json["startAtLogin"]["origin"], "group-policy");
    assert_eq!(json["startAtLogin"]["locked"], serde_json::json!(true));
    assert_eq!(json["connectOnStart"]["origin"], "default");
    assert_eq!(json["connectOnStart"]["source"], serde_json::Value::Null);
}

fn settings_with(start_at_login: Option<bool>, item: Option<&LoginItem>) -> Settings {
    resolve(&Sources {
        managed: &Managed::default(),
        policy: Some((&app(start_at_login, None), Path::new(POLICY))),
        login_item: item,
    })
}

fn app_path() -> Result<PathBuf, LoginItemError> {
    Ok(PathBuf::from("/usr/bin/postern-app"))
}

#[test]
fn the_person_turns_it_on_and_off() {
    let items = Memory::default();
    let on = set_start_at_login(&settings_with(None, None), true, app_path, &items).unwrap();
    assert_eq!(
        on.unwrap().program,
        Some(PathBuf::from("/usr/bin/postern-app"))
    );
    assert!(items.read().unwrap().is_some());
    set_start_at_login(&settings_with(None, None), false, app_path, &items).unwrap();
    assert!(items.read().unwrap().is_none());
}

#[test]
fn a_locked_setting_refuses_the_other_value_and_keeps_the_item() {
    let items = Memory::with("/usr/bin/postern-app");
    let e =
        set_start_at_login(&settings_with(Some(true), None), false, app_path, &items).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::SettingLocked);
    assert!(
        e.to_string()
            .contains("Start at login is on and set by your organization (policy file)"),
        "{e}"
    );
    assert!(items.read().unwrap().is_some(), "nothing removed");
    // Asking for the value it already has is fine (and writes the item).
    let items = Memory::default();
    set_start_at_login(&settings_with(Some(true), None), true, app_path, &items).unwrap();
    assert!(items.read().unwrap().is_some());
    let e =
        set_start_at_login(&settings_with(Some(false), None), true, app_path, &items).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::SettingLocked);
}

#[test]
fn a_missing_app_is_a_login_item_failure_and_writes_nothing() {
    let items = Memory::default();
    let missing = || {
        Err(LoginItemError::AppNotFound {
            looked: vec![PathBuf::from("/usr/bin/postern-app")],
        })
    };
    let e = set_start_at_login(&settings_with(None, None), true, missing, &items).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::LoginItemFailed);
    assert!(e.to_string().contains("/usr/bin/postern-app"), "{e}");
    assert!(items.read().unwrap().is_none());
}

#[test]
fn reconcile_writes_what_is_forced_on_and_removes_what_is_forced_off() {
    let program = Path::new("/usr/bin/postern-app");
    let items = Memory::default();
    let forced_on = settings_with(Some(true), None);
    assert_eq!(
        reconcile(&forced_on, program, &items).unwrap(),
        Reconciled::Written
    );
    assert_eq!(
        reconcile(&forced_on, program, &items).unwrap(),
        Reconciled::Unchanged
    );
    // An item that starts another (moved, older) program is rewritten.
    let stale = Memory::with("/opt/old/postern-app");
    assert_eq!(
        reconcile(&forced_on, program, &stale).unwrap(),
        Reconciled::Written
    );
    assert_eq!(
        stale.read().unwrap().unwrap().program.as_deref(),
        Some(program)
    );
    let forced_off = settings_with(Some(false), None);
    assert_eq!(
        reconcile(&forced_off, program, &items).unwrap(),
        Reconciled::Removed
    );
    assert!(items.read().unwrap().is_none());
}

#[test]
fn reconcile_leaves_the_persons_choice_alone() {
    let program = Path::new("/usr/bin/postern-app");
    let items = Memory::with("/opt/elsewhere/postern-app");
    let item = items.read().unwrap();
    let theirs = settings_with(None, item.as_ref());
    assert_eq!(
        reconcile(&theirs, program, &items).unwrap(),
        Reconciled::Unchanged
    );
    assert_eq!(
        items.read().unwrap().unwrap().program,
        Some(PathBuf::from("/opt/elsewhere/postern-app"))
    );
}
