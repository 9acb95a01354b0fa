//! The one controller every door of the app goes through: window commands and tray items only
//! forward here. It runs the agent in-process, renders every transition through the [`Shell`]
//! (tray, window, notifications), and holds no rule of its own: states come from the core's
//! machine, their looks from `present`, notifications from `notify`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_agent::diagnostics::{DiagnosticsSources, collect};
use postern_agent::{Agent, AgentConfig};
use postern_core::Problem;
use postern_core::diagnostics::default_bundle_name;
use postern_core::diagnostics::redact::Redactor;
use postern_core::egress::{self, CountryDatabase};
use postern_core::identity::{Identity, KeyringStore, SecretStore};
use postern_core::l10n::{text, text_with};
use postern_core::policy::{self, OrgPolicy};
use postern_core::posture;
use postern_core::session::journey::{Journey, JourneyTracker};
use postern_core::session::notify::{Notice, Notifier};
use postern_core::session::present::{Presentation, present_named};
use postern_core::session::{SessionState, Transition};
use postern_core::settings::{self, LoginItems, Reconciled, Settings, ThisUser};
use postern_core::vpn::ProfileStore;
use postern_core::vpn::saml::{PlainHttp, openable_sign_in_url};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::failure::CommandError;
use crate::names::AccountNames;
use crate::view::{
    self, CheckLine, CopiedDetails, DiagnosticsPreview, EgressView, SavedBundle, SessionView,
    SettingsView, WindowView,
};

/// Where the controller's output goes: the tray, the window and the desktop's notifications.
/// The Tauri app implements it; tests record it.
pub trait Shell: Send + Sync + 'static {
    /// A new state to show (tray icon, menu, tooltip; the window's `session` event).
    fn render(&self, view: &SessionView);
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
    /// The session as last rendered, with the journey of the latest Connect.
    shown: Arc<Mutex<SessionView>>,
    names: Arc<AccountNames>,
    clipboard: Mutex<Option<arboard::Clipboard>>,
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
        let mut names_file = postern_core::paths::user_state_dir().join("account-names.json");
        let mut identity = None;
        let (policy, agent, setup_problem) = match loaded {
            Err(e) => (
                None,
                None,
                Some(Presentation::problem(
                    &text("state-not-configured"),
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
                names_file = config.state_dir.join("account-names.json");
                // Only to learn the accounts' names after a sign-in; the agent does the rest.
                identity = Identity::new(
                    &policy.identity_center,
                    config.secrets.clone(),
                    config.state_dir.clone(),
                    config.aws_dir.clone(),
                )
                .map(Arc::new)
                .ok();
                match Agent::start(config, &options.agent_socket).await {
                    Ok(agent) => (Some(policy), Some(agent), None),
                    Err(e) => (
                        Some(policy),
                        None,
                        Some(Presentation::problem(
                            &text("state-cannot-start"),
                            text_with("state-cannot-start-reason", &[("detail", (&e).into())]),
                            text("state-cannot-start-next"),
                        )),
                    ),
                }
            }
        };
        let login_items: Arc<dyn LoginItems + Send + Sync> = match options.places {
            Places::ThisUser => Arc::new(ThisUser),
            Places::Isolated { login_items, .. } => login_items,
        };
        let names = Arc::new(AccountNames::load(names_file));
        let first = SessionView {
            presentation: setup_problem.clone().unwrap_or_else(Presentation::starting),
            journey: Journey::default(),
        };
        let controller = Arc::new(Self {
            agent,
            policy,
            policy_file: options.policy_file,
            setup_problem,
            profiles,
            login_items,
            shown: Arc::new(Mutex::new(first)),
            names,
            clipboard: Mutex::new(None),
        });
        match &controller.agent {
            Some(agent) => {
                tokio::spawn(render_loop(
                    agent.transitions(),
                    shell,
                    Rendering {
                        names: controller.names.clone(),
                        identity,
                        shown: controller.shown.clone(),
                    },
                ));
            }
            None => shell.render(&controller.session()),
        }
        controller
    }

    /// The session as the doors show it now.
    pub fn session(&self) -> SessionView {
        if let Some(problem) = &self.setup_problem {
            return SessionView {
                presentation: problem.clone(),
                journey: Journey::default(),
            };
        }
        let Some(agent) = &self.agent else {
            return SessionView {
                presentation: Presentation::problem(
                    &text("state-stopped"),
                    text("state-stopped-reason"),
                    text("state-stopped-next"),
                ),
                journey: Journey::default(),
            };
        };
        let journey = self
            .shown
            .lock()
            .map(|s| s.journey.clone())
            .unwrap_or_default();
        SessionView {
            presentation: present_named(&agent.transitions().borrow(), |a| self.names.name_of(a)),
            journey,
        }
    }

    pub fn presentation(&self) -> Presentation {
        self.session().presentation
    }

    pub fn view(&self) -> WindowView {
        let (settings, settings_problem) = match self.settings() {
            Ok(s) => (Some(view::settings(&s)), None),
            Err(e) => (None, Some(e.failure())),
        };
        WindowView {
            settings,
            settings_problem,
            session: self.session(),
            choices: self
                .policy
                .as_ref()
                .map(|p| view::choices(p, |a| self.names.name_of(a)))
                .unwrap_or_default(),
            profiles: self
                .profiles
                .list()
                .map(|l| l.iter().map(view::profile_choice).collect())
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
    /// (`program` is this app, when the OS can say where it is; without it the item is left.)
    pub fn after_start(&self, at_login: bool, program: Option<&Path>) -> AfterStart {
        let settings = match self.settings() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("settings unreadable, login item left alone: {e}");
                return AfterStart::Stay { connect: false };
            }
        };
        let reconciled = match program {
            Some(program) => settings::reconcile(&settings, program, self.login_items.as_ref()),
            None => Ok(Reconciled::Unchanged),
        };
        match reconciled {
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
        let checked = requirements.clone();
        let report = tokio::task::spawn_blocking(move || posture::check(&checked))
            .await
            .map_err(|_| CommandError::PostureInterrupted)?;
        Ok(view::checklist(&report, &requirements))
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

    /// What the helpdesk needs to hear, for the clipboard: the state, its cause and next step,
    /// the steps, the versions and the time. Nothing secret is in a presentation; the
    /// diagnostics' redactor still goes over it (names, addresses of mail, tokens).
    pub fn details(&self) -> String {
        let details = view::details(
            &self.session(),
            &postern_core::diagnostics::OsInfo::this_machine(),
            OffsetDateTime::now_utc(),
        );
        // The install's salt: a name hashed here matches the same name in a diagnostics bundle.
        Redactor::for_this_user(postern_core::diagnostics::salt())
            .redact_counted(&details)
            .0
    }

    /// Puts [`Self::details`] on the OS clipboard. The clipboard stays with the app (on X11 the
    /// owner serves the text until something else is copied), so it is kept, not dropped.
    pub fn copy_details(&self) -> CopiedDetails {
        let text = self.details();
        let copied = match self.clipboard.lock() {
            Ok(mut clipboard) => {
                if clipboard.is_none() {
                    *clipboard = arboard::Clipboard::new()
                        .map_err(|e| tracing::warn!("no clipboard: {e}"))
                        .ok();
                }
                clipboard
                    .as_mut()
                    .map(|c| c.set_text(text.clone()))
                    .is_some_and(|set| {
                        set.map_err(|e| tracing::warn!("the clipboard refused the text: {e}"))
                            .is_ok()
                    })
            }
            Err(_) => false,
        };
        CopiedDetails { copied, text }
    }

    /// Quitting disconnects cleanly: credentials withdrawn, tunnel down, socket closed.
    pub async fn shutdown(&self) {
        if let Some(agent) = &self.agent {
            agent.shutdown().await;
        }
    }
}

/// What the render loop keeps beside the transitions.
struct Rendering {
    names: Arc<AccountNames>,
    /// To learn the accounts' names once signed in (none when it could not be made).
    identity: Option<Arc<Identity>>,
    shown: Arc<Mutex<SessionView>>,
}

impl Rendering {
    /// Asks the portal for the accounts' names (after a sign-in), without holding up rendering.
    fn learn_names(&self) {
        let (Some(identity), names) = (self.identity.clone(), self.names.clone()) else {
            return;
        };
        tokio::spawn(async move {
            match identity.accounts().await {
                Ok(accounts) => {
                    names.replace(
                        accounts
                            .into_iter()
                            .filter_map(|a| a.account_name.map(|name| (a.account_id, name))),
                    );
                }
                Err(e) => tracing::info!("account names not refreshed: {e}"),
            }
        });
    }
}

/// Renders every transition (with the journey of the latest Connect and the accounts' names),
/// notifies the actionable ones, and warns before expiry.
async fn render_loop(
    mut transitions: watch::Receiver<Transition>,
    shell: Arc<dyn Shell>,
    rendering: Rendering,
) {
    let mut notifier = Notifier::default();
    let mut journey = JourneyTracker::default();
    let mut tick = tokio::time::interval(TICK);
    let mut named_this_sign_in = false;
    loop {
        let transition = transitions.borrow_and_update().clone();
        journey.on_transition(&transition);
        let ready = matches!(transition.state, SessionState::Ready { .. });
        if ready && !named_this_sign_in {
            named_this_sign_in = true;
            rendering.learn_names();
        } else if matches!(transition.state, SessionState::SigningIn { .. }) {
            named_this_sign_in = false;
        }
        let render = |journey: &JourneyTracker| {
            let view = SessionView {
                presentation: present_named(&transition, |a| rendering.names.name_of(a)),
                journey: journey.journey().clone(),
            };
            if let Ok(mut shown) = rendering.shown.lock() {
                *shown = view.clone();
            }
            shell.render(&view);
        };
        render(&journey);
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
                () = rendering.names.changed() => render(&journey),
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
