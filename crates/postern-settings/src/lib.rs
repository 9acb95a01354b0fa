//! The desktop app's settings, each with where it came from. One precedence, the same on every
//! OS (docs/deploy.md):
//!
//! 1. the OS's management channel (Group Policy on Windows, a configuration profile's managed
//!    preferences on macOS: [`postern_policy::managed`]);
//! 2. the organization policy's `[app]` section (on Linux, `/etc/postern/policy.toml` is the
//!    managed location);
//! 3. the person's own choice (start at login: the OS's login item, [`login_item`]);
//! 4. the default (off).
//!
//! What 1 or 2 sets is the organization's: shown as locked, and refused when someone tries to
//! change it here.

pub mod login_item;

use std::path::Path;

use postern_policy::app::AppSettings;
use postern_policy::managed::{self, Managed, ManagedValue};
use postern_policy::{PolicyError, PolicyFile};
use postern_types::{ExitCode, Problem};

pub use login_item::{LoginItem, LoginItemError, LoginItems, ThisUser};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Nobody set it.
    Default,
    /// The person chose it (here: the login item exists).
    Person,
    /// The organization policy's `[app]` section.
    Policy,
    /// Windows Group Policy.
    GroupPolicy,
    /// A macOS configuration profile.
    ManagedPreferences,
}

impl Origin {
    /// Set by the organization: cannot be changed by the person.
    pub fn is_managed(self) -> bool {
        matches!(
            self,
            Origin::Policy | Origin::GroupPolicy | Origin::ManagedPreferences
        )
    }

    /// The words the window and the CLI use for it.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::Person => "your choice",
            Origin::Policy => "set by your organization (policy file)",
            Origin::GroupPolicy => "set by your organization (Group Policy)",
            Origin::ManagedPreferences => "set by your organization (configuration profile)",
        }
    }
}

impl From<managed::Channel> for Origin {
    fn from(channel: managed::Channel) -> Self {
        match channel {
            managed::Channel::GroupPolicy => Origin::GroupPolicy,
            managed::Channel::ManagedPreferences => Origin::ManagedPreferences,
        }
    }
}

/// One setting's value, where it came from, and exactly where (a file, a registry value, the
/// login item), for the helpdesk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
    pub source: Option<String>,
    /// The organization set it: the person cannot change it.
    pub locked: bool,
}

impl<T> Setting<T> {
    fn new(value: T, origin: Origin, source: Option<String>) -> Self {
        Self {
            value,
            locked: origin.is_managed(),
            origin,
            source,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Start the app, in the tray, when the person logs in.
    pub start_at_login: Setting<bool>,
    /// Connect at once when the app starts at login (the organization's to decide).
    pub connect_on_start: Setting<bool>,
}

/// What each source says, before precedence is applied.
pub struct Sources<'a> {
    pub managed: &'a Managed,
    /// The policy's `[app]` and the file it came from (none when no policy is installed).
    pub policy: Option<(&'a AppSettings, &'a Path)>,
    /// The person's login item, when it exists.
    pub login_item: Option<&'a LoginItem>,
}

fn from_managed<T: Clone>(value: &Option<ManagedValue<T>>) -> Option<Setting<T>> {
    value.as_ref().map(|v| {
        Setting::new(
            v.value.clone(),
            Origin::from(v.channel),
            Some(v.location.clone()),
        )
    })
}

fn from_policy(value: Option<bool>, file: &Path, key: &str) -> Option<Setting<bool>> {
    value.map(|v| {
        Setting::new(
            v,
            Origin::Policy,
            Some(format!("{}: [app] {key}", file.display())),
        )
    })
}

/// Applies the one precedence: the management channel, the policy, the person, the default.
pub fn resolve(sources: &Sources) -> Settings {
    let policy = |pick: fn(&AppSettings) -> Option<bool>, key: &str| {
        sources
            .policy
            .and_then(|(app, file)| from_policy(pick(app), file, key))
    };
    let start_at_login = from_managed(&sources.managed.start_at_login)
        .or_else(|| policy(|a| a.start_at_login, "start_at_login"))
        .or_else(|| {
            sources
                .login_item
                .map(|item| Setting::new(true, Origin::Person, Some(item.location.clone())))
        })
        .unwrap_or_else(|| Setting::new(false, Origin::Default, None));
    let connect_on_start = from_managed(&sources.managed.connect_on_start)
        .or_else(|| policy(|a| a.connect_on_start, "connect_on_start"))
        .unwrap_or_else(|| Setting::new(false, Origin::Default, None));
    Settings {
        start_at_login,
        connect_on_start,
    }
}

/// The settings as they stand on this machine, for this person, and the login item behind the
/// person's choice. An unreadable management channel or an invalid policy is an error: the
/// organization may have locked something, and guessing would unlock it. No policy at all is
/// fine (nothing is managed then).
pub fn load(
    explicit_policy: Option<&Path>,
    items: &dyn LoginItems,
) -> Result<(Settings, Option<LoginItem>), SettingsError> {
    let managed = managed::read().map_err(|e| SettingsError::Policy(e.into()))?;
    let policy = match postern_policy::locate_with(explicit_policy, &managed) {
        Ok(PolicyFile { path, .. }) => Some((postern_policy::load_file(&path)?.app, path)),
        Err(PolicyError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let login_item = items.read()?;
    let settings = resolve(&Sources {
        managed: &managed,
        policy: policy.as_ref().map(|(app, path)| (app, path.as_path())),
        login_item: login_item.as_ref(),
    });
    Ok((settings, login_item))
}

/// What changed when the login item was brought in line with the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reconciled {
    Unchanged,
    Written,
    Removed,
}

/// Brings the login item in line with what the organization set: written (pointing at
/// `program`) when start at login is forced on, removed when forced off; the person's own
/// choice is left as it is. The app does this at every start, so a setting pushed later takes
/// effect at the next login.
pub fn reconcile(
    settings: &Settings,
    program: &Path,
    items: &dyn LoginItems,
) -> Result<Reconciled, LoginItemError> {
    let setting = &settings.start_at_login;
    if !setting.locked {
        return Ok(Reconciled::Unchanged);
    }
    let current = items.read()?;
    match (setting.value, current) {
        (true, Some(item)) if item.program.as_deref() == Some(program) => Ok(Reconciled::Unchanged),
        (true, _) => items.write(program).map(|_| Reconciled::Written),
        (false, Some(_)) => items.remove().map(|_| Reconciled::Removed),
        (false, None) => Ok(Reconciled::Unchanged),
    }
}

/// Turns start at login on or off as the person asked; refused when the organization decides.
pub fn set_start_at_login(
    settings: &Settings,
    on: bool,
    program: impl FnOnce() -> Result<std::path::PathBuf, LoginItemError>,
    items: &dyn LoginItems,
) -> Result<Option<LoginItem>, SettingsError> {
    let setting = &settings.start_at_login;
    if setting.locked && setting.value != on {
        return Err(SettingsError::Locked {
            setting: "Start at login",
            value: setting.value,
            origin: setting.origin,
            location: setting.source.clone().unwrap_or_default(),
        });
    }
    if on {
        Ok(Some(items.write(&program()?)?))
    } else {
        items.remove()?;
        Ok(None)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    LoginItem(#[from] LoginItemError),
    #[error(
        "{setting} is {} and {} ({location}); it cannot be changed here.",
        if *.value { "on" } else { "off" },
        .origin.describe()
    )]
    Locked {
        setting: &'static str,
        value: bool,
        origin: Origin,
        /// Where the organization set it.
        location: String,
    },
}

impl Problem for SettingsError {
    fn exit_code(&self) -> ExitCode {
        match self {
            SettingsError::Policy(e) => e.exit_code(),
            SettingsError::LoginItem(e) => e.exit_code(),
            SettingsError::Locked { .. } => ExitCode::SettingLocked,
        }
    }

    fn next_step(&self) -> String {
        match self {
            SettingsError::Policy(e) => e.next_step(),
            SettingsError::LoginItem(e) => e.next_step(),
            SettingsError::Locked { .. } => {
                "Ask your IT department if it should be different for you.".into()
            }
        }
    }
}

#[cfg(test)]
mod tests;
