//! Runs the session: feeds observations to the state machine and carries out its actions.
//! Long work (sign-in, posture, egress, portal calls) runs in tasks that report back as events,
//! so a request for credentials is answered at once whatever is in progress.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_core::credentials::{VendedCredentials, scope_down};
use postern_core::egress::{self, CountryDatabase, Verdict};
use postern_core::identity::{
    DeviceCodePrompt, Identity, IdentityError, KeyringStore, SignInMethod, SignInOptions,
    SignInPresenter,
};
use postern_core::policy::OrgPolicy;
use postern_core::policy::access::{AccessRule, Gate};
use postern_core::posture::{self, PostureReport, Status};
use postern_core::session::{Action, Cause, Event, Session, SessionState, Target, Transition};
use postern_core::vpn::ProfileStore;
use postern_core::vpn::tunnel::{TunnelFailure, TunnelState};
use postern_ipc::agent::AgentError;
use postern_ipc::client::HelperClient;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};

pub struct AgentConfig {
    pub policy: OrgPolicy,
    pub helper_socket: PathBuf,
    pub profiles: PathBuf,
    pub state_dir: PathBuf,
    pub aws_dir: Option<PathBuf>,
    /// Open the browser for sign-in (false on a headless machine: the code is shown instead).
    pub open_browser: bool,
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
        }
    }
}

/// What the orchestrator's own tasks report back.
enum Incoming {
    Session(Event),
    /// Role credentials from the portal, to serve once the session says Ready.
    Vended(VendedCredentials, OffsetDateTime),
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
        reply: oneshot::Sender<Result<String, AgentError>>,
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

    pub fn history(&self) -> Vec<Transition> {
        self.history
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }
}

struct Orchestrator {
    config: Arc<AgentConfig>,
    identity: Arc<Identity>,
    session: Session,
    rule: Option<AccessRule>,
    credentials: Option<VendedCredentials>,
    events: mpsc::Sender<Incoming>,
    transitions: watch::Sender<Transition>,
    /// Every transition, not only the latest the watch keeps.
    history: Arc<Mutex<VecDeque<Transition>>>,
    /// Forwards the helper's tunnel states while a tunnel is ours.
    tunnel_watch: Option<tokio::task::JoinHandle<()>>,
}

pub(crate) fn start(config: AgentConfig) -> Result<Handle, String> {
    let identity = Identity::new(
        &config.policy.identity_center,
        Arc::new(KeyringStore),
        config.state_dir.clone(),
        config.aws_dir.clone(),
    )
    .map_err(|e| e.to_string())?;
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
        identity: Arc::new(identity),
        session: Session::default(),
        rule: None,
        credentials: None,
        events,
        transitions,
        history: history.clone(),
        tunnel_watch: None,
    };
    tokio::spawn(orchestrator.run(command_rx, event_rx));
    Ok(Handle {
        commands,
        transitions: transition_rx,
        history,
    })
}

struct ChannelPresenter(mpsc::Sender<Incoming>);

impl SignInPresenter for ChannelPresenter {
    fn device_code(&self, p: &DeviceCodePrompt) {
        let _ = self.0.try_send(Incoming::Session(Event::SignInNeeded {
            verification_uri: p
                .verification_uri_complete
                .clone()
                .unwrap_or_else(|| p.verification_uri.clone()),
            user_code: Some(p.user_code.clone()),
        }));
    }

    fn browser(&self, url: &url::Url, _opened: bool) {
        let _ = self.0.try_send(Incoming::Session(Event::SignInNeeded {
            verification_uri: url.to_string(),
            user_code: None,
        }));
    }
}

/// Sends an event to the session from a task.
async fn report(events: &mpsc::Sender<Incoming>, event: Event) {
    let _ = events.send(Incoming::Session(event)).await;
}

fn compliant() -> PostureReport {
    PostureReport {
        status: Status::Compliant,
        checks: vec![],
        taken_at: OffsetDateTime::now_utc(),
        elapsed_ms: 0,
    }
}

impl Orchestrator {
    fn requires(&self, gate: Gate) -> bool {
        self.rule
            .as_ref()
            .is_some_and(|r| r.require.contains(&gate))
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
        let mut monitor = posture::monitor::Watch::new(
            interval,
            std::time::Instant::now(),
            std::time::SystemTime::now(),
            posture::monitor::network_signature(),
        );
        loop {
            let expiry = self.credentials.as_ref().map(|c| c.expiration);
            tokio::select! {
                Some(command) = commands.recv() => self.command(command).await,
                Some(incoming) = events.recv() => match incoming {
                    Incoming::Session(event) => self.apply(event).await,
                    Incoming::Vended(credentials, expires_at) => {
                        self.credentials = Some(credentials);
                        // The machine discards them (WithdrawCredentials) unless it asked for them.
                        self.apply(Event::CredentialsIssued { expires_at }).await;
                    }
                },
                _ = sleep_until(expiry), if expiry.is_some() => {
                    self.apply(Event::CredentialsExpired).await;
                }
                trigger = monitor.next(), if self.session.state().serves_credentials() || matches!(self.session.state(), SessionState::Degraded { .. }) => {
                    // Look again at the device; and at the way out when the network changed or
                    // the machine woke (the interval alone cannot move the egress).
                    self.spawn_posture();
                    if self.requires(Gate::Egress) && trigger != posture::monitor::Trigger::Interval {
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
                let profile = match profile {
                    Some(p) => p,
                    None => match ProfileStore::new(
                        self.config.profiles.clone(),
                        Arc::new(KeyringStore),
                    )
                    .list()
                    {
                        Ok(list) if list.len() == 1 => list[0].name.clone(),
                        Ok(list) if list.is_empty() && !rule.require.contains(&Gate::Vpn) => {
                            String::new()
                        }
                        _ => {
                            let _ = reply.send(Err(AgentError::BadRequest { detail: "Name the VPN profile to use (postern connect PROFILE …); `postern vpn list` shows them.".into() }));
                            return;
                        }
                    },
                };
                self.rule = Some(rule);
                let _ = reply.send(Ok(()));
                self.apply(Event::ConnectRequested(Target {
                    profile,
                    account,
                    role,
                }))
                .await;
            }
            Command::Disconnect => self.apply(Event::DisconnectRequested).await,
            Command::Credentials {
                account,
                role,
                reply,
            } => {
                let answer = match (&self.credentials, self.session.state()) {
                    (Some(c), state)
                        if state.serves_credentials() && c.account == account && c.role == role =>
                    {
                        Ok(c.credential_process_json())
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

    async fn apply(&mut self, event: Event) {
        let (transition, action) = self.session.apply(event);
        if let Some(t) = transition {
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
        self.act(action).await;
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Nothing => {}
            Action::SignIn => self.spawn_sign_in(),
            Action::CheckPosture => self.spawn_posture(),
            Action::ConnectVpn(profile) => self.connect_vpn(profile).await,
            Action::CheckEgress => self.spawn_egress(),
            Action::IssueCredentials => self.spawn_vending(),
            Action::WithdrawCredentials => self.credentials = None,
            Action::DisconnectVpn => {
                self.credentials = None;
                if let Some(w) = self.tunnel_watch.take() {
                    w.abort();
                }
                let (socket, events, vpn) = (
                    self.config.helper_socket.clone(),
                    self.events.clone(),
                    self.requires(Gate::Vpn),
                );
                tokio::spawn(async move {
                    if vpn
                        && let Ok(mut helper) =
                            HelperClient::connect(&socket, "postern-agent").await
                    {
                        let _ = helper.disconnect().await;
                    }
                    report(&events, Event::Disconnected).await;
                });
            }
        }
    }

    fn spawn_sign_in(&self) {
        let (identity, events, open_browser) = (
            self.identity.clone(),
            self.events.clone(),
            self.config.open_browser,
        );
        let target = self
            .rule
            .as_ref()
            .map(|r| (r.account.clone(), r.role.clone()));
        tokio::spawn(async move {
            // The stored session is checked with Identity Center itself, on the role this
            // Connect needs: a dead session is found before the VPN comes up, not at vending.
            let check = || async {
                match &target {
                    Some((account, role)) => match identity.has_role(account, role).await {
                        Ok(true) => Ok(None),
                        Ok(false) => Ok(Some(format!(
                            "IAM Identity Center does not give you the role {role} in account {account}"
                        ))),
                        Err(e) => Err(e),
                    },
                    None => identity.access_token().await.map(|_| None),
                }
            };
            let checked = match check().await {
                Err(
                    IdentityError::NotSignedIn { .. }
                    | IdentityError::SessionEnded { .. }
                    | IdentityError::ClientRejected { .. },
                ) => {
                    let options = SignInOptions {
                        method: SignInMethod::DeviceCode,
                        open_browser,
                        ..SignInOptions::default()
                    };
                    match identity
                        .sign_in(&options, &ChannelPresenter(events.clone()))
                        .await
                    {
                        Ok(_) => check().await,
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            let event = match checked {
                Ok(None) => Event::SignedIn,
                Ok(Some(refusal)) => Event::SignInFailed(refusal),
                Err(e) => Event::SignInFailed(e.to_string()),
            };
            report(&events, event).await;
        });
    }

    fn spawn_posture(&self) {
        let events = self.events.clone();
        let requirements = self
            .config
            .policy
            .posture
            .as_ref()
            .filter(|_| self.requires(Gate::Posture))
            .map(|p| p.for_this_os().clone());
        tokio::spawn(async move {
            let report = match requirements {
                Some(req) => tokio::task::spawn_blocking(move || posture::check(&req))
                    .await
                    .unwrap_or_else(|_| compliant()),
                None => compliant(),
            };
            let _ = events.send(Incoming::Session(Event::Posture(report))).await;
        });
    }

    async fn connect_vpn(&mut self, profile: String) {
        if !self.requires(Gate::Vpn) {
            report(
                &self.events,
                Event::Tunnel(TunnelState::Connected {
                    profile,
                    tunnel_ip: String::new(),
                    endpoint_ip: String::new(),
                }),
            )
            .await;
            return;
        }
        let store = ProfileStore::new(self.config.profiles.clone(), Arc::new(KeyringStore));
        let events = self.events.clone();
        let failed = |message: String| {
            Event::Tunnel(TunnelState::Failed {
                profile: profile.clone(),
                cause: TunnelFailure::Fatal { message },
            })
        };
        let text = match store.load(&profile) {
            Ok(p) => p.render(true),
            Err(e) => {
                report(&events, failed(e.to_string())).await;
                return;
            }
        };
        let socket = self.config.helper_socket.clone();
        if let Some(w) = self.tunnel_watch.take() {
            w.abort();
        }
        self.tunnel_watch = Some(tokio::spawn(async move {
            let mut control = match HelperClient::connect(&socket, "postern-agent").await {
                Ok(c) => c,
                Err(e) => {
                    report(
                        &events,
                        Event::Tunnel(TunnelState::Failed {
                            profile: profile.clone(),
                            cause: TunnelFailure::Fatal {
                                message: e.to_string(),
                            },
                        }),
                    )
                    .await;
                    return;
                }
            };
            // A fresh Connect starts over: a tunnel of this profile still up or reconnecting
            // from the previous attempt is ours, and is taken down first.
            if let Ok(current) = control.status().await
                && !current.is_final()
                && current.profile() == Some(profile.as_str())
            {
                tracing::info!(profile, "taking down the previous attempt's tunnel");
                let _ = control.disconnect().await;
            }
            if let Err(e) = control.connect_tunnel(&profile, &text).await {
                let cause = match e {
                    postern_ipc::client::HelperClientError::Refused(
                        postern_ipc::HelperError::Tunnel { failure },
                    ) => failure,
                    other => TunnelFailure::Fatal {
                        message: other.to_string(),
                    },
                };
                report(
                    &events,
                    Event::Tunnel(TunnelState::Failed {
                        profile: profile.clone(),
                        cause,
                    }),
                )
                .await;
                return;
            }
            let Ok(watch) = HelperClient::connect(&socket, "postern-agent").await else {
                return;
            };
            let Ok(mut states) = watch.watch().await else {
                return;
            };
            while let Some(state) = states.next().await {
                if events
                    .send(Incoming::Session(Event::Tunnel(state)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // The helper went away: the tunnel cannot be trusted.
            report(
                &events,
                Event::Tunnel(TunnelState::Failed {
                    profile,
                    cause: TunnelFailure::Fatal {
                        message: "the VPN helper stopped".into(),
                    },
                }),
            )
            .await;
        }));
    }

    fn spawn_egress(&self) {
        let events = self.events.clone();
        let settings = self
            .config
            .policy
            .egress
            .clone()
            .filter(|_| self.requires(Gate::Egress));
        tokio::spawn(async move {
            let verdict = match settings {
                Some(settings) => {
                    let countries = settings
                        .geoip_database
                        .as_ref()
                        .and_then(|p| CountryDatabase::open(p).ok());
                    egress::check(&settings, countries.as_ref()).await.verdict
                }
                // The rule does not require egress: nothing to prove.
                None => Verdict::Match {
                    address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    nat: "0.0.0.0/0".parse().expect("literal"),
                    country: None,
                },
            };
            report(&events, Event::Egress(verdict)).await;
        });
    }

    fn spawn_vending(&self) {
        let Some(rule) = self.rule.clone() else {
            return;
        };
        let (identity, events) = (self.identity.clone(), self.events.clone());
        let region = self.config.policy.identity_center.region.clone();
        let nat = self
            .config
            .policy
            .egress
            .as_ref()
            .map(|e| e.nat_addresses.clone())
            .unwrap_or_default();
        tokio::spawn(async move {
            let portal = match identity.role_credentials(&rule.account, &rule.role).await {
                Ok(c) => c,
                Err(e) => return report(&events, Event::SignInFailed(e.to_string())).await,
            };
            // Never longer than the policy allows for this role.
            let cap = OffsetDateTime::now_utc() + rule.max_duration;
            let vended = match &rule.scope_down {
                Some(arn) => {
                    match scope_down::assume(
                        &portal,
                        &rule.account,
                        &rule.role,
                        arn,
                        &region,
                        &nat,
                        rule.max_duration,
                    )
                    .await
                    {
                        Ok(v) => v,
                        Err(e) => return report(&events, Event::SignInFailed(e.to_string())).await,
                    }
                }
                None => VendedCredentials {
                    account: rule.account.clone(),
                    role: rule.role.clone(),
                    access_key_id: portal.access_key_id,
                    secret_access_key: portal.secret_access_key,
                    session_token: portal.session_token,
                    expiration: portal.expiration,
                },
            };
            let expires_at = vended.expiration.min(cap);
            let vended = VendedCredentials {
                expiration: expires_at,
                ..vended
            };
            let _ = events.send(Incoming::Vended(vended, expires_at)).await;
        });
    }
}

async fn sleep_until(at: Option<OffsetDateTime>) {
    let left = at
        .map(|t| (t - OffsetDateTime::now_utc()).whole_milliseconds().max(0) as u64)
        .unwrap_or(u64::MAX / 4);
    tokio::time::sleep(Duration::from_millis(left)).await;
}
