//! Why a window command or tray item did not do what was asked: one typed cause per case, each
//! with its next step. It crosses into the window as a [`Failure`] (kind, sentence, next step),
//! never as a bare string.

use postern_core::Problem;
use postern_core::diagnostics::ExportError;
use postern_core::egress::CountryError;
use postern_core::l10n::{text, text_with};
use postern_core::settings::SettingsError;
use postern_core::vpn::saml::SamlError;
use postern_ipc::agent::AgentError;
use postern_ipc::agent_client::AgentClientError;
use serde::{Serialize, Serializer};
use ts_rs::TS;

#[derive(Debug)]
pub enum CommandError {
    /// The policy or the agent could not start; the reason is what the window already shows.
    NotRunning {
        reason: String,
        next_step: String,
    },
    /// Boxed: the agent's refusals carry a whole session state.
    Agent(Box<AgentClientError>),
    NoSignInWaiting,
    SignInUrl(SamlError),
    NoDeviceRequirements,
    NoNetworkRequirements,
    PostureInterrupted,
    CountryDatabase(CountryError),
    Export(ExportError),
    NoFolderForBundle,
    BrowserNotOpened {
        url: String,
        detail: String,
    },
    Settings(SettingsError),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let said = match self {
            CommandError::NotRunning { reason, .. } => reason.clone(),
            CommandError::Agent(e) => e.to_string(),
            CommandError::NoSignInWaiting => text("failure-no-sign-in-waiting"),
            CommandError::SignInUrl(e) => e.to_string(),
            CommandError::NoDeviceRequirements => text("failure-no-device-requirements"),
            CommandError::NoNetworkRequirements => text("failure-no-network-requirements"),
            CommandError::PostureInterrupted => text("failure-posture-interrupted"),
            CommandError::CountryDatabase(e) => e.to_string(),
            CommandError::Export(e) => e.to_string(),
            CommandError::NoFolderForBundle => text("failure-no-folder-for-bundle"),
            CommandError::BrowserNotOpened { detail, .. } => {
                text_with("failure-browser-not-opened", &[("detail", detail.into())])
            }
            CommandError::Settings(e) => e.to_string(),
        };
        f.write_str(&said)
    }
}

impl std::error::Error for CommandError {}

impl From<SamlError> for CommandError {
    fn from(e: SamlError) -> Self {
        CommandError::SignInUrl(e)
    }
}

impl From<CountryError> for CommandError {
    fn from(e: CountryError) -> Self {
        CommandError::CountryDatabase(e)
    }
}

impl From<ExportError> for CommandError {
    fn from(e: ExportError) -> Self {
        CommandError::Export(e)
    }
}

impl From<SettingsError> for CommandError {
    fn from(e: SettingsError) -> Self {
        CommandError::Settings(e)
    }
}

impl From<AgentError> for CommandError {
    fn from(e: AgentError) -> Self {
        // The client error carries the next step for each of the agent's refusals.
        CommandError::Agent(Box::new(AgentClientError::Refused(e)))
    }
}

/// What the window receives when a command fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub kind: FailureKind,
    /// One sentence: what happened.
    pub message: String,
    /// What to do about it, when there is something to do.
    pub next_step: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    NotRunning,
    Refused,
    NoSignInWaiting,
    UnsafeSignInAddress,
    NotRequired,
    Interrupted,
    BadCountryDatabase,
    NotSaved,
    NoBrowser,
    /// The organization decides this setting.
    SettingLocked,
    /// The settings could not be read or the login item written.
    SettingNotChanged,
}

impl CommandError {
    pub fn kind(&self) -> FailureKind {
        match self {
            CommandError::NotRunning { .. } => FailureKind::NotRunning,
            CommandError::Agent(_) => FailureKind::Refused,
            CommandError::NoSignInWaiting => FailureKind::NoSignInWaiting,
            CommandError::SignInUrl(_) => FailureKind::UnsafeSignInAddress,
            CommandError::NoDeviceRequirements | CommandError::NoNetworkRequirements => {
                FailureKind::NotRequired
            }
            CommandError::PostureInterrupted => FailureKind::Interrupted,
            CommandError::CountryDatabase(_) => FailureKind::BadCountryDatabase,
            CommandError::Export(_) | CommandError::NoFolderForBundle => FailureKind::NotSaved,
            CommandError::BrowserNotOpened { .. } => FailureKind::NoBrowser,
            CommandError::Settings(SettingsError::Locked { .. }) => FailureKind::SettingLocked,
            CommandError::Settings(_) => FailureKind::SettingNotChanged,
        }
    }

    pub fn next_step(&self) -> String {
        match self {
            CommandError::NotRunning { next_step, .. } => next_step.clone(),
            CommandError::Agent(e) => e.next_step(),
            CommandError::NoSignInWaiting => text("failure-no-sign-in-waiting-next"),
            CommandError::SignInUrl(e) => e.next_step(),
            CommandError::NoDeviceRequirements | CommandError::NoNetworkRequirements => {
                text("failure-not-required-next")
            }
            CommandError::PostureInterrupted => text("failure-posture-interrupted-next"),
            CommandError::CountryDatabase(e) => e.next_step(),
            CommandError::Export(e) => e.next_step(),
            CommandError::NoFolderForBundle => text("failure-no-folder-for-bundle-next"),
            CommandError::BrowserNotOpened { url, .. } => {
                text_with("failure-browser-not-opened-next", &[("url", url.into())])
            }
            CommandError::Settings(e) => e.next_step(),
        }
    }

    pub fn failure(&self) -> Failure {
        let next = self.next_step();
        Failure {
            kind: self.kind(),
            message: self.to_string(),
            next_step: (!next.is_empty()).then_some(next),
        }
    }
}

/// Tauri sends a command's error to the window as its serialized form.
impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.failure().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reaches_the_window_as_kind_sentence_and_next_step() {
        let refused = CommandError::from(AgentError::AccessNotAllowed {
            account: "111122223333".into(),
            role: "Admin".into(),
        });
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["kind"], "refused");
        assert_eq!(
            json["message"],
            "The company policy does not allow credentials for account 111122223333 role Admin."
        );
        assert!(
            json["nextStep"]
                .as_str()
                .unwrap()
                .contains("postern accounts"),
            "{json}"
        );
    }

    #[test]
    fn a_cause_without_a_next_step_sends_none_rather_than_an_empty_line() {
        let quiet = CommandError::NotRunning {
            reason: "The company policy is missing.".into(),
            next_step: String::new(),
        };
        assert_eq!(quiet.failure().next_step, None);
        assert_eq!(quiet.failure().kind, FailureKind::NotRunning);
    }
}
