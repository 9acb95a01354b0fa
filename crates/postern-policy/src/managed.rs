//! The operating system's management channel: what Group Policy or an MDM sets for Postern on
//! this machine. It ranks above the policy file (the channel may even name that file), and every
//! value it sets is the organization's, so the app and the CLI show it as locked.
//!
//! - Windows: Group Policy's key `HKLM\SOFTWARE\Policies\Postern`: `PolicyFile` (REG_SZ),
//!   `StartAtLogin` and `ConnectOnStart` (REG_DWORD, 0 or 1), as the ADMX template writes them.
//! - macOS: the managed preferences of the app's domain ([`PREFERENCE_DOMAIN`]) that a
//!   configuration profile installs: `/Library/Managed Preferences/USER/DOMAIN.plist` (a
//!   profile for the user) over `/Library/Managed Preferences/DOMAIN.plist` (for the device),
//!   with the same three keys (string, boolean, boolean).
//! - Linux has no channel of its own: the machine-wide policy file (`/etc/postern/policy.toml`,
//!   written by the package or configuration management) is it.
//!
//! A value of the wrong type is an error, never ignored: a setting the organization meant to
//! force must not silently become the person's choice.

use std::fmt;
use std::path::PathBuf;

/// The app's preference domain (its bundle identifier), which a macOS profile's payload names.
pub const PREFERENCE_DOMAIN: &str = "dev.postern.desktop";
/// Group Policy's registry key (under HKLM), which the ADMX template names.
pub const GROUP_POLICY_KEY: &str = r"SOFTWARE\Policies\Postern";

/// The names of the managed values, the same on every channel.
pub mod key {
    pub const POLICY_FILE: &str = "PolicyFile";
    pub const START_AT_LOGIN: &str = "StartAtLogin";
    pub const CONNECT_ON_START: &str = "ConnectOnStart";
}

/// Which management channel set a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    GroupPolicy,
    ManagedPreferences,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::GroupPolicy => "Group Policy",
            Channel::ManagedPreferences => "a configuration profile (managed preferences)",
        })
    }
}

/// One value the channel set, with where exactly it came from (for the window, `status --json`
/// and the helpdesk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedValue<T> {
    pub value: T,
    pub channel: Channel,
    /// The registry value (`HKLM\…\StartAtLogin`) or the file and key
    /// (`/Library/Managed Preferences/….plist: StartAtLogin`).
    pub location: String,
}

/// Everything the channel sets; `None` where it sets nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managed {
    pub policy_file: Option<ManagedValue<PathBuf>>,
    pub start_at_login: Option<ManagedValue<bool>>,
    pub connect_on_start: Option<ManagedValue<bool>>,
}

impl Managed {
    #[cfg(any(target_os = "macos", test))]
    /// Fills what `self` leaves unset from `lower` (a device-wide profile under a user's).
    fn or(self, lower: Managed) -> Managed {
        Managed {
            policy_file: self.policy_file.or(lower.policy_file),
            start_at_login: self.start_at_login.or(lower.start_at_login),
            connect_on_start: self.connect_on_start.or(lower.connect_on_start),
        }
    }
}

/// The channel holds a value Postern cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel}'s Postern setting ({location}) cannot be read: {detail}")]
pub struct ManagedError {
    pub channel: Channel,
    pub location: String,
    pub detail: String,
}

/// What the management channel sets on this machine, for this user.
pub fn read() -> Result<Managed, ManagedError> {
    #[cfg(windows)]
    return group_policy::read();
    #[cfg(target_os = "macos")]
    return managed_preferences::read();
    #[cfg(not(any(windows, target_os = "macos")))]
    Ok(Managed::default())
}

#[cfg(windows)]
mod group_policy {
    use super::{Channel, GROUP_POLICY_KEY, Managed, ManagedError, ManagedValue, key};
    use crate::registry::{self, Hive, Read};

    fn location(name: &str) -> String {
        format!(r"HKLM\{GROUP_POLICY_KEY}\{name}")
    }

    fn value<T>(name: &str, read: Read<T>) -> Result<Option<ManagedValue<T>>, ManagedError> {
        match read {
            Ok(v) => Ok(v.map(|value| ManagedValue {
                value,
                channel: Channel::GroupPolicy,
                location: location(name),
            })),
            Err(detail) => Err(ManagedError {
                channel: Channel::GroupPolicy,
                location: location(name),
                detail,
            }),
        }
    }

    fn switch(name: &str) -> Result<Option<ManagedValue<bool>>, ManagedError> {
        let read = registry::dword(Hive::LocalMachine, GROUP_POLICY_KEY, name);
        let checked = match read {
            Ok(Some(n @ (0 | 1))) => Ok(Some(n == 1)),
            Ok(Some(n)) => Err(format!("{n} is neither 0 (off) nor 1 (on)")),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        value(name, checked)
    }

    pub fn read() -> Result<Managed, ManagedError> {
        let file = registry::string(Hive::LocalMachine, GROUP_POLICY_KEY, key::POLICY_FILE)
            .map(|v| v.filter(|v| !v.trim().is_empty()).map(Into::into));
        Ok(Managed {
            policy_file: value(key::POLICY_FILE, file)?,
            start_at_login: switch(key::START_AT_LOGIN)?,
            connect_on_start: switch(key::CONNECT_ON_START)?,
        })
    }
}

/// A managed-preferences file, as macOS writes it (binary or XML property list). Parsed on
/// every OS so that the tests run everywhere; read from disk only on macOS.
#[cfg(any(target_os = "macos", test))]
pub mod managed_preferences {
    use std::path::{Path, PathBuf};

    use super::{Channel, Managed, ManagedError, ManagedValue, PREFERENCE_DOMAIN, key};

    const FOLDER: &str = "/Library/Managed Preferences";

    /// The files, the user's first: a profile scoped to the user wins over the device's.
    pub fn files(user: Option<&str>) -> Vec<PathBuf> {
        let name = format!("{PREFERENCE_DOMAIN}.plist");
        let mut files = Vec::new();
        let plain =
            |u: &&str| !u.is_empty() && !matches!(*u, "." | "..") && !u.contains(['/', '\0']);
        if let Some(user) = user.filter(plain) {
            files.push(Path::new(FOLDER).join(user).join(&name));
        }
        files.push(Path::new(FOLDER).join(name));
        files
    }

    /// The values one file sets. Keys Postern does not know are left alone (profiles carry
    /// their own bookkeeping keys); a known key with the wrong type is an error.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Managed, ManagedError> {
        let error = |location: String, detail: String| ManagedError {
            channel: Channel::ManagedPreferences,
            location,
            detail,
        };
        let here = |name: &str| format!("{}: {name}", path.display());
        let root = plist::Value::from_reader(std::io::Cursor::new(bytes))
            .map_err(|e| error(path.display().to_string(), e.to_string()))?;
        let plist::Value::Dictionary(dict) = root else {
            return Err(error(
                path.display().to_string(),
                "the file does not hold a dictionary of settings".into(),
            ));
        };
        fn managed<T>(value: T, location: String) -> ManagedValue<T> {
            ManagedValue {
                value,
                channel: Channel::ManagedPreferences,
                location,
            }
        }
        let switch = |name: &str| match dict.get(name) {
            None => Ok(None),
            Some(plist::Value::Boolean(b)) => Ok(Some(managed(*b, here(name)))),
            Some(_) => Err(error(
                here(name),
                "must be a boolean (true or false)".into(),
            )),
        };
        let policy_file = match dict.get(key::POLICY_FILE) {
            None => None,
            Some(plist::Value::String(s)) if s.trim().is_empty() => None,
            Some(plist::Value::String(s)) => {
                Some(managed(PathBuf::from(s), here(key::POLICY_FILE)))
            }
            Some(_) => {
                return Err(error(
                    here(key::POLICY_FILE),
                    "must be a string: the policy file's path".into(),
                ));
            }
        };
        Ok(Managed {
            policy_file,
            start_at_login: switch(key::START_AT_LOGIN)?,
            connect_on_start: switch(key::CONNECT_ON_START)?,
        })
    }

    /// Every file in order, the first one's values winning; a missing file sets nothing.
    pub fn read_files(files: &[PathBuf]) -> Result<Managed, ManagedError> {
        let mut managed = Managed::default();
        for path in files {
            match std::fs::read(path) {
                Ok(bytes) => managed = managed.or(parse(&bytes, path)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ManagedError {
                        channel: Channel::ManagedPreferences,
                        location: path.display().to_string(),
                        detail: e.to_string(),
                    });
                }
            }
        }
        Ok(managed)
    }

    #[cfg(target_os = "macos")]
    pub fn read() -> Result<Managed, ManagedError> {
        read_files(&files(crate::account::user_name().as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::managed_preferences::{files, parse, read_files};
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/managed")
            .join(name)
    }

    #[test]
    fn a_binary_managed_preferences_file_sets_its_three_values() {
        // Written by plistlib in binary form, as macOS stores managed preferences.
        let path = fixture("dev.postern.desktop.binary.plist");
        let managed = parse(&std::fs::read(&path).unwrap(), &path).unwrap();
        let file = managed.policy_file.unwrap();
        assert_eq!(
            file.value,
            Path::new("/Library/Application Support/Postern/policy.toml")
        );
        assert_eq!(file.channel, Channel::ManagedPreferences);
        assert!(
            file.location.ends_with("binary.plist: PolicyFile"),
            "{}",
            file.location
        );
        assert!(managed.start_at_login.unwrap().value);
        assert!(!managed.connect_on_start.unwrap().value);
    }

    #[test]
    fn the_example_profile_payload_reads_as_managed_preferences() {
        // The payload of installers/macos/dev.postern.desktop.mobileconfig, as XML.
        let path = fixture("dev.postern.desktop.xml.plist");
        let managed = parse(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert!(managed.policy_file.is_some());
        assert!(managed.start_at_login.unwrap().value);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_that_names_it() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>StartAtLogin</key><string>yes</string></dict></plist>"#;
        let e = parse(xml, Path::new("/L/p.plist")).unwrap_err();
        assert_eq!(e.location, "/L/p.plist: StartAtLogin");
        assert!(e.to_string().contains("must be a boolean"), "{e}");
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>PolicyFile</key><true/></dict></plist>"#;
        assert!(parse(xml, Path::new("/L/p.plist")).is_err());
    }

    #[test]
    fn a_file_that_is_no_property_list_is_an_error_and_unknown_keys_are_left_alone() {
        assert!(parse(b"not a plist", Path::new("/L/p.plist")).is_err());
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>PayloadUUID</key><string>x</string></dict></plist>"#;
        assert_eq!(
            parse(xml, Path::new("/L/p.plist")).unwrap(),
            Managed::default()
        );
    }

    #[test]
    fn the_users_profile_wins_over_the_devices_and_a_missing_file_sets_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.plist");
        let device = dir.path().join("device.plist");
        std::fs::write(
            &user,
            br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>StartAtLogin</key><false/></dict></plist>"#,
        )
        .unwrap();
        std::fs::copy(fixture("dev.postern.desktop.binary.plist"), &device).unwrap();
        let managed = read_files(&[user.clone(), device.clone()]).unwrap();
        assert!(!managed.start_at_login.as_ref().unwrap().value);
        assert!(
            managed
                .start_at_login
                .unwrap()
                .location
                .starts_with(&user.display().to_string())
        );
        assert!(managed.policy_file.is_some(), "the device's value fills in");
        let missing = read_files(&[dir.path().join("none.plist")]).unwrap();
        assert_eq!(missing, Managed::default());
    }

    #[test]
    fn the_users_file_comes_first_and_a_strange_user_name_is_not_a_path() {
        assert_eq!(
            files(Some("alice")),
            vec![
                PathBuf::from("/Library/Managed Preferences/alice/dev.postern.desktop.plist"),
                PathBuf::from("/Library/Managed Preferences/dev.postern.desktop.plist"),
            ]
        );
        assert_eq!(files(Some("../x")).len(), 1);
        assert_eq!(files(Some("..")).len(), 1);
        assert_eq!(files(None).len(), 1);
    }
}
