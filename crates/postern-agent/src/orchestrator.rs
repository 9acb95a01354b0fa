//! Runs the session: feeds observations to the state machine and carries out its actions.
//! Long work (sign-in, posture, VPN, egress, vending) runs in tasks that report back as events
//! tagged with the attempt that started them, so a request for credentials is answered at once
//! whatever is in progress, and nothing late moves a newer attempt. A new Connect or a Disconnect
//! cancels every task of the attempt before it.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_core::credentials::VendedCredentials;
use postern_core::identity::{Identity, KeyringStore, SecretStore};
use postern_core::policy::OrgPolicy;
use postern_core::policy::access::{AccessRule, Gate};
use postern_core::posture::{self, PostureReport};
use postern_core::session::{
    Action, Attempt, Cause, Event, Request, Session, SessionState, Step, Target, Transition,
};
use postern_core::vpn::ProfileStore;
use postern_core::vpn::saml::PlainHttp;
use postern_core::vpn::tunnel::TunnelState;
use postern_ipc::agent::AgentError;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use crate::parts::{Parts, Prompt};
use crate::tunnel::VpnSignIn;

pub struct AgentConfig {
    pub policy: OrgPolicy,
    pub helper_socket: PathBuf,
    pub profiles: PathBuf,
    pub state_dir: PathBuf,
    pub aws_dir: Option<PathBuf>,
    /// Open the browser for sign-in (false on a headless machine: the code is shown instead).
    pub open_browser: bool,
    /// Where the sign-in and the profiles' keys are kept: the OS keychain, or a test's store.
    pub secrets: Arc<dyn SecretStore>,
}

impl AgentConfig {
    /// This user's usual places: the helper's socket, the profile store, the state directory.
    pub fn for_this_user(policy: OrgPolicy, open_browser: bool) -> Self {
        Self {
            policy,
            helper_socket: postern_ipc::client::socket_path(),
            profiles: ProfileStore::default_dir(),
            state_dir: postern_core::paths::user_state_dir(),
            aws_dir: postern_core::paths::aws_dir(),
            open_browser,
            secrets: Arc::new(KeyringStore),
        }
    }

    /// Everything of the session's under `root` and in `secrets`, nothing of the user's: for
    /// tests of the doors that start an agent.
    pub fn isolated(
        policy: OrgPolicy,
        open_browser: bool,
        root: &std::path::Path,
        secrets: Arc<dyn SecretStore>,
    ) -> Self {
        Self {
            profiles: root.join("profiles"),
            state_dir: root.join("state"),
            aws_dir: Some(root.join("aws")),
            secrets,
            ..Self::for_this_user(policy, open_browser)
        }
    }
}

/// Time limits and the monitor's pace; the tests shorten them.
#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    /// A posture evaluation that takes longer is Unknown (the probes have their own 5 s limits).
    pub posture_limit: Duration,
    /// Beyond the policy's echo timeout, for the egress task as a whole.
    pub egress_slack: Duration,
    /// How often the monitor looks at the clocks and the interfaces.
    pub monitor_poll: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            posture_limit: Duration::from_secs(60),
            egress_slack: Duration::from_secs(10),
            monitor_poll: posture::monitor::POLL,
        }
    }
}

/// What the orchestrator's own tasks report back, with the attempt that started them.
enum Incoming {
    Observed(Attempt, Event),
    /// Role credentials, served only if the session takes them (Ready).
    Vended(Attempt, VendedCredentials),
}

pub(crate) enum Command {
    Connect {
        profile: Option<String>,
        account: String,
        role: String,
        reply: oneshot::Sender<Result<(), AgentError>>,
    },
    Disconnect,
    Credentials {
        account: String,
        role: String,
        reply: oneshot::Sender<Result<VendedCredentials, AgentError>>,
    },
}

/// Transitions kept for diagnostics.
const HISTORY_TRANSITIONS: usize = 200;

/// The handle the socket server (and the in-process [`crate::Agent`]) uses.
#[derive(Clone)]
pub(crate) struct Handle {
    pub commands: mpsc::Sender<Command>,
    pub transitions: watch::Receiver<Transition>,
    history: Arc<Mutex<VecDeque<Transition>>>,
}

impl Handle {
    /// Asks the orchestrator to start Connect; its answer comes at once (accepted or refused).
    pub async fn connect(
        &self,
        profile: Option<String>,
        account: String,
        role: String,
    ) -> Result<(), AgentError> {
        let (reply, answer) = oneshot::channel();
        let _ = self
            .commands
            .send(Command::Connect {
                profile,
                account,
                role,
                reply,
            })
            .await;
        answer.await.unwrap_or(Err(AgentError::BadRequest {
            detail: "the Postern agent is stopping".into(),
        }))
    }

    pub async fn disconnect(&self) {
        let _ = self.commands.send(Command::Disconnect).await;
    }

    /// The role's credentials when the gate is open for it; `None` once the orchestrator has
    /// stopped.
    pub async fn credentials(
        &self,
        account: String,
        role: String,
    ) -> Option<Result<VendedCredentials, AgentError>> {
        let (reply, answer) = oneshot::channel();
        let _ = self
            .commands
            .send(Command::Credentials {
                account,
                role,
                reply,
            })
            .await;
        answer.await.ok()
    }

    pub fn history(&self) -> Vec<Transition> {
        self.history
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }
}

struct Orchestrator {
    config: Arc<AgentConfig>,
    parts: Parts,
    tuning: Tuning,
    session: Session,
    rule: Option<AccessRule>,
    credentials: Option<VendedCredentials>,
    events: mpsc::Sender<Incoming>,
    transitions: watch::Sender<Transition>,
    /// Every transition, not only the latest the watch keeps.
    history: Arc<Mutex<VecDeque<Transition>>>,
    /// The tasks of the current attempt, cancelled when a new one starts.
    tasks: Vec<AbortHandle>,
    /// The tunnel's own addresses: never a network change of their own.
    own_addresses: Vec<String>,
}

pub(crate) fn start(config: AgentConfig) -> Result<Handle, String> {
    let identity = Identity::new(
        &config.policy.identity_center,
        config.secrets.clone(),
        config.state_dir.clone(),
        config.aws_dir.clone(),
    )
    .map_err(|e| e.to_string())?;
    let parts = Parts::real(
        identity,
        config.policy.identity_center.region.clone(),
        config
            .policy
            .egress
            .as_ref()
            .map(|e| e.nat_addresses.clone())
            .unwrap_or_default(),
        config.helper_socket.clone(),
        VpnSignIn {
            open_browser: config.open_browser,
            plain_http: PlainHttp::from_policy(Some(&config.policy)),
        },
        config.profiles.clone(),
        config.secrets.clone(),
    );
    Ok(start_with(config, parts, Tuning::default()))
}

pub(crate) fn start_with(config: AgentConfig, parts: Parts, tuning: Tuning) -> Handle {
    let (commands, command_rx) = mpsc::channel(16);
    let (events, event_rx) = mpsc::channel(64);
    let initial = Transition {
        state: SessionState::Idle,
        cause: Cause::UserDisconnected,
        at: OffsetDateTime::now_utc(),
    };
    let history = Arc::new(Mutex::new(VecDeque::from([initial.clone()])));
    let (transitions, transition_rx) = watch::channel(initial);
    let orchestrator = Orchestrator {
        config: Arc::new(config),
        parts,
        tuning,
        session: Session::default(),
        rule: None,
        credentials: None,
        events,
        transitions,
        history: history.clone(),
        tasks: Vec::new(),
        own_addresses: Vec::new(),
    };
    tokio::spawn(orchestrator.run(command_rx, event_rx));
    Handle {
        commands,
        transitions: transition_rx,
        history,
    }
}

/// Waits for the monitor's next trigger; forever when there is no monitor (not serving).
async fn next_trigger(monitor: &mut Option<posture::monitor::Watch>) -> posture::monitor::Trigger {
    match monitor {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<OffsetDateTime>) {
    let left = at
        .map(|t| (t - OffsetDateTime::now_utc()).whole_milliseconds().max(0) as u64)
        .unwrap_or(u64::MAX / 4);
    tokio::time::sleep(Duration::from_millis(left)).await;
}

/// What a task ends with.
enum Outcome {
    Event(Event),
    Vended(VendedCredentials),
}

impl From<Event> for Outcome {
    fn from(e: Event) -> Self {
        Outcome::Event(e)
    }
}

/// A panic's message, for the cause it becomes.
fn panic_detail(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "the task was cancelled".into();
    }
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "it panicked".into())
}

impl Orchestrator {
    fn requires(&self, gate: Gate) -> bool {
        self.session.requires(gate)
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<Incoming>,
    ) {
        // Egress must be re-proved on network changes even when the policy has no [posture].
        let interval = self
            .config
            .policy
            .posture
            .as_ref()
            .map_or(Duration::from_secs(300), |p| p.interval);
        let mut monitor: Option<posture::monitor::Watch> = None;
        loop {
            // The monitor's baseline is the moment the session became Ready, not the agent's
            // start: the first look comes one interval (or one network change) after Ready.
            match self.session.state() {
                SessionState::Ready { .. } if monitor.is_none() => {
                    let own = self.own_addresses.clone();
                    let network = tokio::task::spawn_blocking(move || {
                        posture::monitor::without(posture::monitor::network_signature(), &own)
                    })
                    .await
                    .unwrap_or_default();
                    monitor = Some(
                        posture::monitor::Watch::new(
                            interval,
                            std::time::Instant::now(),
                            std::time::SystemTime::now(),
                            network,
                        )
                        .polling(self.tuning.monitor_poll),
                    );
                }
                SessionState::Ready { .. } | SessionState::Degraded { .. } => {}
                _ => monitor = None,
            }
            if let Some(m) = monitor.as_mut() {
                m.ignore(&self.own_addresses);
            }
            let expiry = self.credentials.as_ref().map(|c| c.expiration);
            tokio::select! {
                Some(command) = commands.recv() => self.command(command).await,
                Some(incoming) = events.recv() => match incoming {
                    Incoming::Observed(attempt, event) => self.observe(attempt, event),
                    Incoming::Vended(attempt, credentials) => {
                        let expires_at = credentials.expiration;
                        self.observe(attempt, Event::CredentialsIssued { expires_at });
                        // Kept only when the machine took them: this attempt, and asked for.
                        if self.session.attempt() == attempt
                            && self.session.state().serves_credentials()
                            && matches!(self.session.state(), SessionState::Ready { expires_at: e, .. } if *e == expires_at)
                        {
                            self.credentials = Some(credentials);
                        }
                    }
                },
                _ = sleep_until(expiry), if expiry.is_some() => {
                    let attempt = self.session.attempt();
                    self.observe(attempt, Event::CredentialsExpired);
                }
                trigger = next_trigger(&mut monitor) => {
                    // Look again at the device; and at the way out when the network changed or
                    // the machine woke (the interval alone cannot move the egress). While
                    // Degraded the tunnel is down: its return proves the egress anew.
                    if self.requires(Gate::Posture) {
                        self.spawn_posture();
                    }
                    if self.requires(Gate::Egress)
                        && trigger != posture::monitor::Trigger::Interval
                        && self.session.state().serves_credentials()
                    {
                        self.spawn_egress();
                    }
                }
                else => return,
            }
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Connect {
                profile,
                account,
                role,
                reply,
            } => {
                let Some(rule) = self.config.policy.access_rule(&account, &role).cloned() else {
                    let _ = reply.send(Err(AgentError::AccessNotAllowed { account, role }));
                    return;
                };
                let vpn = rule.require.contains(&Gate::Vpn);
                let profile = match profile {
                    Some(p) => p,
                    None => match self.parts.profiles.list() {
                        Ok(list) if list.len() == 1 => list[0].clone(),
                        Ok(list) if list.is_empty() && !vpn => String::new(),
                        Ok(list) if list.is_empty() => {
                            let _ = reply.send(Err(AgentError::BadRequest { detail: "No VPN profile is imported; import the one your IT department sent (`postern vpn import FILE`).".into() }));
                            return;
                        }
                        Ok(_) => {
                            let _ = reply.send(Err(AgentError::BadRequest { detail: "Name the VPN profile to use (postern connect PROFILE …); `postern vpn list` shows them.".into() }));
                            return;
                        }
                        // Only when the profile matters: a rule without the VPN never reads it.
                        Err(_) if !vpn => String::new(),
                        Err(cause) => {
                            let _ = reply.send(Err(AgentError::NotReady {
                                state: SessionState::Blocked {
                                    cause: cause.clone(),
                                },
                                cause: Some(cause),
                            }));
                            return;
                        }
                    },
                };
                let require = rule.require.clone();
                self.rule = Some(rule);
                let _ = reply.send(Ok(()));
                self.request(Request::Connect {
                    target: Target {
                        profile,
                        account,
                        role,
                    },
                    require,
                });
            }
            Command::Disconnect => self.request(Request::Disconnect),
            Command::Credentials {
                account,
                role,
                reply,
            } => {
                let answer = match (&self.credentials, self.session.state()) {
                    (Some(c), state)
                        if state.serves_credentials() && c.account == account && c.role == role =>
                    {
                        Ok(c.clone())
                    }
                    (_, state) => {
                        // Ready for another account or role is "not connected" for this one.
                        let cause = match state {
                            SessionState::Blocked { cause }
                            | SessionState::Degraded { cause, .. } => Some(cause.clone()),
                            _ => None,
                        };
                        Err(AgentError::NotReady {
                            state: state.clone(),
                            cause,
                        })
                    }
                };
                let _ = reply.send(answer);
            }
        }
    }

    fn request(&mut self, request: Request) {
        // Whatever the earlier attempt still runs is of no use now.
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.own_addresses.clear();
        let step = self.session.request(request);
        self.carry_out(step);
    }

    fn observe(&mut self, attempt: Attempt, event: Event) {
        if let Event::Tunnel(TunnelState::Connected { tunnel_ip, .. }) = &event
            && attempt == self.session.attempt()
            && !tunnel_ip.is_empty()
        {
            self.own_addresses = vec![tunnel_ip.clone()];
        }
        let step = self.session.observe(attempt, event);
        self.carry_out(step);
    }

    fn carry_out(&mut self, step: Step) {
        if let Some(t) = step.transition {
            tracing::info!(
                state = t.state.name(),
                cause = %t.cause.sentence(),
                "session transition"
            );
            if let Ok(mut h) = self.history.lock() {
                if h.len() == HISTORY_TRANSITIONS {
                    h.pop_front();
                }
                h.push_back(t.clone());
            }
            self.transitions.send_replace(t);
        }
        for action in step.actions {
            self.act(action);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::SignIn => self.spawn_sign_in(),
            Action::CheckPosture => self.spawn_posture(),
            Action::ConnectVpn(profile) => self.spawn_tunnel(profile),
            Action::CheckEgress => self.spawn_egress(),
            Action::IssueCredentials => self.spawn_vending(),
            Action::WithdrawCredentials => self.credentials = None,
            Action::DisconnectVpn => {
                self.credentials = None;
                let helper = self.parts.helper.clone();
                self.spawn(
                    async move {
                        helper.disconnect().await;
                        Event::Disconnected
                    },
                    // Even a disconnect that panicked ends; the tunnel state is the helper's.
                    |_| Event::Disconnected,
                );
            }
        }
    }

    /// Runs `work` for the current attempt and reports its event; a panic becomes `on_panic`'s
    /// event (never a pass).
    fn spawn<F, O>(&mut self, work: F, on_panic: impl FnOnce(String) -> Event + Send + 'static)
    where
        F: Future<Output = O> + Send + 'static,
        O: Into<Outcome> + Send + 'static,
    {
        let (events, attempt) = (self.events.clone(), self.session.attempt());
        let inner = tokio::spawn(work);
        let inner_abort = inner.abort_handle();
        let outer = tokio::spawn(async move {
            let incoming = match inner.await.map(Into::into) {
                Ok(Outcome::Event(event)) => Incoming::Observed(attempt, event),
                Ok(Outcome::Vended(c)) => Incoming::Vended(attempt, c),
                Err(e) if e.is_cancelled() => return,
                Err(e) => Incoming::Observed(attempt, on_panic(panic_detail(e))),
            };
            let _ = events.send(incoming).await;
        });
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(inner_abort);
        self.tasks.push(outer.abort_handle());
    }

    fn spawn_sign_in(&mut self) {
        let Some(rule) = self.rule.clone() else {
            return;
        };
        let (events, attempt) = (self.events.clone(), self.session.attempt());
        let prompt: Prompt = Arc::new(move |verification_uri, user_code| {
            let _ = events.try_send(Incoming::Observed(
                attempt,
                Event::SignInNeeded {
                    verification_uri,
                    user_code,
                },
            ));
        });
        let work =
            self.parts
                .identity
                .sign_in(rule.account, rule.role, self.config.open_browser, prompt);
        self.spawn(
            async move {
                match work.await {
                    Ok(()) => Event::SignedIn,
                    Err(cause) => Event::Failed(cause),
                }
            },
            |detail| {
                Event::Failed(Cause::Internal {
                    detail: format!("the sign-in check stopped: {detail}"),
                })
            },
        );
    }

    fn spawn_posture(&mut self) {
        let Some(requirements) = self
            .config
            .policy
            .posture
            .as_ref()
            .map(|p| p.for_this_os().clone())
        else {
            // Required by the rule but not described by the policy: nothing can pass.
            let attempt = self.session.attempt();
            self.observe(
                attempt,
                Event::Posture(PostureReport::could_not_check(
                    "the policy has no [posture] section".into(),
                )),
            );
            return;
        };
        let (check, limit) = (self.parts.posture.clone(), self.tuning.posture_limit);
        self.spawn(
            async move {
                let probes = tokio::task::spawn_blocking(move || check.check(&requirements));
                let report = match tokio::time::timeout(limit, probes).await {
                    Ok(Ok(report)) => report,
                    Ok(Err(e)) => PostureReport::could_not_check(format!(
                        "the posture check stopped: {}",
                        panic_detail(e)
                    )),
                    Err(_) => PostureReport::could_not_check(format!(
                        "the posture check did not finish within {} s",
                        limit.as_secs()
                    )),
                };
                Event::Posture(report)
            },
            |detail| {
                Event::Posture(PostureReport::could_not_check(format!(
                    "the posture check stopped: {detail}"
                )))
            },
        );
    }

    fn spawn_tunnel(&mut self, profile: String) {
        let profile = match self.parts.profiles.prepare(&profile) {
            Ok(prepared) => prepared,
            Err(cause) => {
                let attempt = self.session.attempt();
                self.observe(attempt, Event::Failed(cause));
                return;
            }
        };
        let (helper, events, attempt) = (
            self.parts.helper.clone(),
            self.events.clone(),
            self.session.attempt(),
        );
        self.spawn(
            async move {
                let (states, mut received) = mpsc::channel(16);
                let forward = async {
                    while let Some(state) = received.recv().await {
                        if events
                            .send(Incoming::Observed(attempt, Event::Tunnel(state)))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                };
                let (outcome, ()) = tokio::join!(helper.tunnel(profile, states), forward);
                match outcome {
                    Ok(()) => Event::Failed(Cause::HelperUnavailable {
                        trouble: Default::default(),
                        detail: "the VPN helper stopped reporting the tunnel".into(),
                    }),
                    Err(cause) => Event::Failed(cause),
                }
            },
            |detail| {
                Event::Failed(Cause::Internal {
                    detail: format!("the VPN task stopped: {detail}"),
                })
            },
        );
    }

    fn spawn_egress(&mut self) {
        let Some(settings) = self.config.policy.egress.clone() else {
            let attempt = self.session.attempt();
            self.observe(
                attempt,
                Event::Failed(Cause::EgressUndetermined {
                    detail: "the policy has no [egress] section".into(),
                }),
            );
            return;
        };
        let limit = settings.timeout * 2 + self.tuning.egress_slack;
        let work = self.parts.egress.check(settings);
        self.spawn(
            async move {
                match tokio::time::timeout(limit, work).await {
                    Ok(Ok(verdict)) => Event::Egress(verdict),
                    Ok(Err(cause)) => Event::Failed(cause),
                    Err(_) => Event::Failed(Cause::EgressUndetermined {
                        detail: format!("the check did not finish within {} s", limit.as_secs()),
                    }),
                }
            },
            |detail| {
                Event::Failed(Cause::EgressUndetermined {
                    detail: format!("the check stopped: {detail}"),
                })
            },
        );
    }

    fn spawn_vending(&mut self) {
        let Some(rule) = self.rule.clone() else {
            return;
        };
        let work = self.parts.identity.vend(rule.clone());
        self.spawn(
            async move {
                match work.await {
                    Ok(vended) => {
                        // Never longer than the policy allows for this role.
                        let cap = OffsetDateTime::now_utc() + rule.max_duration;
                        Outcome::Vended(VendedCredentials {
                            expiration: vended.expiration.min(cap),
                            ..vended
                        })
                    }
                    Err(cause) => Outcome::Event(Event::Failed(cause)),
                }
            },
            |detail| {
                Event::Failed(Cause::Internal {
                    detail: format!("fetching the credentials stopped: {detail}"),
                })
            },
        );
    }
}

#[cfg(test)]
mod tests;
