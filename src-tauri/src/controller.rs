//! The one controller every door of the app goes through: window commands and tray items only
//! forward here. It runs the agent in-process, renders every transition through the [`Shell`]
//! (tray, window, notifications), and holds no rule of its own: states come from the core's
//! machine, their looks from `present`, notifications from `notify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postern_agent::diagnostics::{DiagnosticsSources, collect};
use postern_agent::{Agent, AgentConfig};
use postern_core::Problem;
use postern_core::diagnostics::default_bundle_name;
use postern_core::egress::{self, CountryDatabase};
use postern_core::identity::{KeyringStore, SecretStore};
use postern_core::policy::{self, OrgPolicy};
use postern_core::posture;
use postern_core::session::notify::{Notice, Notifier};
use postern_core::session::present::{Presentation, present};
use postern_core::session::{SessionState, Transition};
use postern_core::settings::{self, LoginItems, Reconciled, Settings, ThisUser};
use postern_core::vpn::ProfileStore;
use postern_core::vpn::saml::{PlainHttp, openable_sign_in_url};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::failure::CommandError;
use crate::view::{
    self, CheckLine, DiagnosticsPreview, EgressView, SavedBundle, SettingsView, WindowView,
};

/// Where the controller's output goes: the tray, the window and the desktop's notifications.
/// The Tauri app implements it; tests record it.
pub trait Shell: Send + Sync + 'static {
    /// A new state to show (tray icon, menu, tooltip; the window's `session` event).
    fn render(&self, view: &Presentation);
    fn notify(&self, notice: &Notice);
}

/// How often the expiry warning is considered.
const TICK: Duration = Duration::from_secs(30);

pub struct Controller {
    agent: Option<Agent>,
    policy: Option<OrgPolicy>,
    policy_file: Option<PathBuf>,
    /// Why nothing can run, when the policy or the agent failed.
    setup_problem: Option<Presentation>,
    /// The agent's profiles, for the window's list.
    profiles: ProfileStore,
    /// The person's login item (start at login).
    login_items: Arc<dyn LoginItems + Send + Sync>,
}

/// What the app does once it has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStart {
    /// Stays in the tray (and connects, when the organization says so).
    Stay { connect: bool },
    /// Started at login although start at login is off (an item the organization turned off,
    /// or one left behind): it ends quietly.
    Quit,
}

pub struct StartOptions {
    pub policy_file: Option<PathBuf>,
    pub agent_socket: PathBuf,
    pub open_browser: bool,
    /// Where the session keeps its things: the user's own places and keychain, or (tests) a
    /// folder and a store of their own.
    pub places: Places,
}

pub enum Places {
    ThisUser,
    /// Only the tests construct it (the app always runs for its user).
    #[cfg_attr(not(test), allow(dead_code))]
    Isolated {
        root: PathBuf,
        secrets: Arc<dyn SecretStore>,
        login_items: Arc<dyn LoginItems + Send + Sync>,
    },
}

impl Controller {
    /// Loads the policy, starts the agent and begins rendering. Never fails: a problem is shown
    /// in the tray and the window instead.
    pub async fn start(options: StartOptions, shell: Arc<dyn Shell>) -> Arc<Self> {
        let loaded = policy::load(options.policy_file.as_deref());
        let mut profiles = ProfileStore::new(ProfileStore::default_dir(), Arc::new(KeyringStore));
        let (policy, agent, setup_problem) = match loaded {
            Err(e) => (
                None,
                None,
                Some(Presentation::problem(
                    "Not configured",
                    e.to_string(),
                    e.next_step(),
                )),
            ),
            Ok((policy, _)) => {
                let config = match &options.places {
                    Places::ThisUser => {
                        AgentConfig::for_this_user(policy.clone(), options.open_browser)
                    }
                    Places::Isolated { root, secrets, .. } => AgentConfig::isolated(
                        policy.clone(),
                        options.open_browser,
                        root,
                        secrets.clone(),
                    ),
                };
                profiles = ProfileStore::new(config.profiles.clone(), config.secrets.clone());
                match Agent::start(config, &options.agent_socket).await {
                    Ok(agent) => (Some(policy), Some(agent), None),
                    Err(e) => (
                        Some(policy),
                        None,
                        Some(Presentation::problem(
                            "Postern cannot start",
                            format!("The session could not start: {e}."),
                            "Quit the other Postern (app or `postern agent`) and open Postern again.".into(),
                        )),
                    ),
                }
            }
        };
        let login_items: Arc<dyn LoginItems + Send + Sync> = match options.places {
            Places::ThisUser => Arc::new(ThisUser),
            Places::Isolated { login_items, .. } => login_items,
        };
        let controller = Arc::new(Self {
            agent,
            policy,
            policy_file: options.policy_file,
            setup_problem,
            profiles,
            login_items,
        });
        match &controller.agent {
            Some(agent) => {
                tokio::spawn(render_loop(agent.transitions(), shell));
            }
            None => shell.render(&controller.presentation()),
        }
        controller
    }

    pub fn presentation(&self) -> Presentation {
        match (&self.setup_problem, &self.agent) {
            (Some(problem), _) => problem.clone(),
            (None, Some(agent)) => present(&agent.transitions().borrow()),
            (None, None) => Presentation::problem(
                "Postern stopped",
                "The session has ended.".into(),
                "Open Postern again.".into(),
            ),
        }
    }

    pub fn view(&self) -> WindowView {
        let (settings, settings_problem) = match self.settings() {
            Ok(s) => (Some(view::settings(&s)), None),
            Err(e) => (None, Some(e.failure())),
        };
        WindowView {
            settings,
            settings_problem,
            session: self.presentation(),
            choices: self.policy.as_ref().map(view::choices).unwrap_or_default(),
            profiles: self
                .profiles
                .list()
                .map(|l| l.into_iter().map(|p| p.name).collect())
                .unwrap_or_default(),
        }
    }

    fn settings(&self) -> Result<Settings, CommandError> {
        Ok(settings::load(self.policy_file.as_deref(), self.login_items.as_ref())?.0)
    }

    /// Turns start at login on or off, as the person asked in the window; refused when the
    /// organization decides.
    pub fn set_start_at_login(&self, on: bool) -> Result<SettingsView, CommandError> {
        let program = || {
            std::env::current_exe().map_err(|e| settings::LoginItemError::Failed {
                location: "this program".into(),
                action: "found",
                detail: e.to_string(),
            })
        };
        settings::set_start_at_login(&self.settings()?, on, program, self.login_items.as_ref())?;
        Ok(view::settings(&self.settings()?))
    }

    /// Once started: the login item brought in line with what the organization set (so a
    /// setting pushed since takes effect at the next login), then what a start at login does.
    /// A setting that cannot be read leaves the item alone and the app in the tray.
    pub fn after_start(&self, at_login: bool, program: &Path) -> AfterStart {
        let settings = match self.settings() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("settings unreadable, login item left alone: {e}");
                return AfterStart::Stay { connect: false };
            }
        };
        match settings::reconcile(&settings, program, self.login_items.as_ref()) {
            Ok(Reconciled::Unchanged) => {}
            Ok(change) => tracing::info!(
                ?change,
                "login item brought in line with the organization's setting"
            ),
            Err(e) => tracing::warn!("the login item could not be brought in line: {e}"),
        }
        match (at_login, settings.start_at_login.value) {
            (true, false) => AfterStart::Quit,
            (true, true) => AfterStart::Stay {
                connect: settings.connect_on_start.value,
            },
            (false, _) => AfterStart::Stay { connect: false },
        }
    }

    fn agent(&self) -> Result<&Agent, CommandError> {
        self.agent.as_ref().ok_or_else(|| {
            let shown = self.presentation();
            CommandError::NotRunning {
                reason: shown
                    .reason
                    .unwrap_or_else(|| "The session is not running.".into()),
                next_step: shown.next_step.unwrap_or_default(),
            }
        })
    }

    pub async fn connect(
        &self,
        account: String,
        role: String,
        profile: Option<String>,
    ) -> Result<(), CommandError> {
        Ok(self.agent()?.connect(profile, account, role).await?)
    }

    /// Connect from the tray: towards the obvious target when there is one. `Ok(false)` when
    /// the person must pick an account and role in the window first.
    pub async fn connect_obvious(&self) -> Result<bool, CommandError> {
        match self.view().obvious_target() {
            Some(t) => self.connect(t.account, t.role, None).await.map(|()| true),
            None => Ok(false),
        }
    }

    pub async fn disconnect(&self) -> Result<(), CommandError> {
        self.agent()?.disconnect().await;
        Ok(())
    }

    /// The page to open for the sign-in in progress. The VPN server's address (its CRV1
    /// challenge) is checked first: https, or plain http only where the policy allows it.
    pub fn sign_in_url(&self) -> Result<String, CommandError> {
        let url = self
            .presentation()
            .sign_in
            .map(|s| s.url)
            .ok_or(CommandError::NoSignInWaiting)?;
        let vpn = self.agent.as_ref().is_some_and(|a| {
            matches!(
                a.transitions().borrow().state,
                SessionState::VpnSignIn { .. }
            )
        });
        if !vpn {
            return Ok(url);
        }
        Ok(openable_sign_in_url(&url, PlainHttp::from_policy(self.policy.as_ref()))?.into())
    }

    /// The posture checklist, evaluated now.
    pub async fn posture(&self) -> Result<Vec<CheckLine>, CommandError> {
        let settings = self
            .policy
            .as_ref()
            .and_then(|p| p.posture.as_ref())
            .ok_or(CommandError::NoDeviceRequirements)?;
        let requirements = settings.for_this_os().clone();
        let report = tokio::task::spawn_blocking(move || posture::check(&requirements))
            .await
            .map_err(|_| CommandError::PostureInterrupted)?;
        Ok(view::checklist(&report))
    }

    /// Where traffic leaves now.
    pub async fn egress(&self) -> Result<EgressView, CommandError> {
        let settings = self
            .policy
            .as_ref()
            .and_then(|p| p.egress.as_ref())
            .ok_or(CommandError::NoNetworkRequirements)?;
        let countries = match &settings.geoip_database {
            Some(path) => Some(CountryDatabase::open(path)?),
            None => None,
        };
        Ok(view::egress(
            &egress::check(settings, countries.as_ref()).await,
        ))
    }

    fn diagnostics_sources(&self) -> DiagnosticsSources {
        DiagnosticsSources::for_this_user(self.policy_file.clone(), "postern-app")
    }

    pub async fn preview_diagnostics(&self) -> DiagnosticsPreview {
        view::preview(&collect(&self.diagnostics_sources()).await)
    }

    /// Collects again (the preview may be minutes old) and saves into `dir`.
    pub async fn export_diagnostics(&self, dir: &Path) -> Result<SavedBundle, CommandError> {
        let bundle = collect(&self.diagnostics_sources()).await;
        let path = dir.join(default_bundle_name(OffsetDateTime::now_utc()));
        let bytes = bundle.write(&path)?;
        Ok(SavedBundle {
            path: path.display().to_string(),
            bytes,
        })
    }

    /// Quitting disconnects cleanly: credentials withdrawn, tunnel down, socket closed.
    pub async fn shutdown(&self) {
        if let Some(agent) = &self.agent {
            agent.shutdown().await;
        }
    }
}

/// Renders every transition, notifies the actionable ones, and warns before expiry.
async fn render_loop(mut transitions: watch::Receiver<Transition>, shell: Arc<dyn Shell>) {
    let mut notifier = Notifier::default();
    let mut tick = tokio::time::interval(TICK);
    loop {
        let transition = transitions.borrow_and_update().clone();
        shell.render(&present(&transition));
        if let Some(notice) = notifier.on_transition(&transition, Instant::now()) {
            shell.notify(&notice);
        }
        loop {
            tokio::select! {
                changed = transitions.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                _ = tick.tick() => {
                    if let Some(notice) = notifier.on_tick(OffsetDateTime::now_utc(), Instant::now()) {
                        shell.notify(&notice);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
