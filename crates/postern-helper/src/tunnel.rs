//! One OpenVPN tunnel at a time: started from a validated profile with the helper's fixed
//! options ([`crate::openvpn`]), driven over its management interface by the pure machine in
//! `postern_ovpn::machine`, its life published as [`TunnelState`]s. The tunnel belongs to the
//! user that asked for it (see [`crate::owner`]).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_ipc::HelperError;
use postern_ipc::peer::UserId;
use postern_ovpn::machine::{Input, Limits, Outcome, Output, TunnelMachine};
use postern_ovpn::management::parse_management_line;
use postern_ovpn::profile::{AuthMode, Profile};
use postern_types::tunnel::{TunnelFailure, TunnelState, TunnelStateRecord};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::{Mutex as AsyncMutex, mpsc, watch};

use crate::Args;
use crate::dns::Resolver;
use crate::openvpn::{self, AWS_CLIENT_OPENVPN, Management, ManagementWriter};
use crate::owner::{Caller, Published, TunnelOwner, may_use, shown_to};

const LOG_LINES: usize = 2000;
/// Tunnel states kept for diagnostics.
const HISTORY_STATES: usize = 200;

struct Running {
    profile: String,
    stop: mpsc::Sender<()>,
    saml: mpsc::Sender<String>,
    task: tokio::task::JoinHandle<()>,
}

/// OpenVPN 2.6's management interface refuses longer parameters.
const STOCK_PARAMETER_LIMIT: usize = 256;

/// How a SAML (auth-federate) tunnel is run.
#[derive(Clone)]
struct Federation {
    /// `None` with AWS's OpenVPN build; the stock parameter limit otherwise.
    limit: Option<usize>,
}

pub struct Supervisor {
    args: Args,
    state: watch::Sender<Published>,
    log: Arc<Mutex<VecDeque<String>>>,
    history: History,
    /// (received, sent) bytes from the last `>BYTECOUNT`.
    traffic: Arc<Mutex<(u64, u64)>>,
    running: AsyncMutex<Option<Running>>,
    resolver: Arc<Resolver>,
    /// The OpenVPN binaries (stock, the SAML build) that passed the version check, with their
    /// modification times: each checked once, not on every connect (running `openvpn
    /// --version` costs a process start), and again when it changes.
    checked_openvpn: Mutex<Vec<(PathBuf, std::time::SystemTime)>>,
}

/// Each state with the user whose tunnel it was, so nobody reads another's.
type History = Arc<Mutex<VecDeque<(Option<UserId>, TunnelStateRecord)>>>;

/// Keeps the last [`HISTORY_STATES`] states with their times, for as long as the helper runs.
async fn record_history(mut states: watch::Receiver<Published>, history: History) {
    loop {
        let published = states.borrow_and_update().clone();
        if let Ok(mut h) = history.lock() {
            if h.len() == HISTORY_STATES {
                h.pop_front();
            }
            let record = TunnelStateRecord {
                at: time::OffsetDateTime::now_utc(),
                state: published.state,
            };
            h.push_back((published.owner.map(|o| o.user), record));
        }
        if states.changed().await.is_err() {
            return;
        }
    }
}

impl Supervisor {
    pub async fn start(args: &Args) -> Result<Self, String> {
        openvpn::make_private_dir(&args.state_dir)?;
        openvpn::end_stale_tunnel(&args.state_dir).await;
        let state = watch::channel(Published {
            owner: None,
            state: TunnelState::Disconnected,
        })
        .0;
        let history = Arc::new(Mutex::new(VecDeque::new()));
        tokio::spawn(record_history(state.subscribe(), history.clone()));
        Ok(Self {
            args: args.clone(),
            state,
            log: Arc::new(Mutex::new(VecDeque::new())),
            history,
            traffic: Arc::new(Mutex::new((0, 0))),
            running: AsyncMutex::new(None),
            resolver: Arc::new(Resolver::new(args.resolver_tool.clone())),
            checked_openvpn: Mutex::new(Vec::new()),
        })
    }

    pub fn state(&self) -> TunnelState {
        self.state.borrow().state.clone()
    }

    /// The state as `caller` may see it.
    pub fn status(&self, caller: &Caller) -> TunnelState {
        shown_to(&self.state.borrow(), caller)
    }

    pub fn subscribe(&self) -> watch::Receiver<Published> {
        self.state.subscribe()
    }

    /// The refusal for a caller that is not the tunnel's owner (nor an administrator); `None`
    /// if it may.
    fn refuse_stranger(&self, caller: &Caller) -> Option<HelperError> {
        let published = self.state.borrow();
        let owner = published.owner.as_ref();
        (!may_use(owner, caller)).then(|| HelperError::NotOwner {
            profile: owner.map(|o| o.profile.clone()).unwrap_or_default(),
        })
    }

    /// Replaces the state, keeping whose tunnel it is.
    fn publish(&self, state: TunnelState) {
        self.state.send_modify(|p| p.state = state);
    }

    pub fn traffic(&self) -> (u64, u64) {
        self.traffic.lock().map(|t| *t).unwrap_or_default()
    }

    /// The recent states of `caller`'s tunnels (an administrator: all), if the last tunnel is
    /// theirs.
    pub fn history(&self, caller: &Caller) -> Result<Vec<TunnelStateRecord>, HelperError> {
        if let Some(refusal) = self.refuse_stranger(caller) {
            return Err(refusal);
        }
        Ok(self
            .history
            .lock()
            .map(|h| {
                h.iter()
                    .filter(|(user, _)| {
                        caller.administrator || user.as_ref().is_none_or(|u| *u == caller.user)
                    })
                    .map(|(_, record)| record.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// OpenVPN's output for the last tunnel, to its owner (or an administrator).
    pub fn log(&self, caller: &Caller) -> Result<Vec<String>, HelperError> {
        if let Some(refusal) = self.refuse_stranger(caller) {
            return Err(refusal);
        }
        Ok(self
            .log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default())
    }

    /// Starts a tunnel for `caller`; returns once OpenVPN runs (the caller watches for
    /// CONNECTED).
    pub async fn connect(
        &self,
        name: &str,
        profile: &Profile,
        caller: &Caller,
    ) -> Result<TunnelState, HelperError> {
        let mut running = self.running.lock().await;
        tracing::info!(user = ?caller.user, profile = name, "connect requested");
        if let Some(r) = running.as_ref()
            && !r.task.is_finished()
        {
            return Err(HelperError::Busy {
                profile: r.profile.clone(),
            });
        }
        // From here the attempt is the caller's, failed or not: the last owner's log goes first.
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
        if let Ok(mut t) = self.traffic.lock() {
            *t = (0, 0);
        }
        #[allow(
            clippy::clone_on_copy,
            reason = "a uid on Unix, a SID string on Windows"
        )]
        let owner = TunnelOwner {
            user: caller.user.clone(),
            profile: name.to_string(),
        };
        // The owner changes with the first state of the attempt, so no earlier state is
        // ever recorded as this caller's.
        let publish = |state: TunnelState| {
            self.state.send_replace(Published {
                owner: Some(owner.clone()),
                state,
            });
        };
        let refuse = |cause: TunnelFailure| {
            publish(TunnelState::Failed {
                profile: name.to_string(),
                cause: cause.clone(),
            });
            Err(HelperError::Tunnel { failure: cause })
        };
        // Looked for on each connect: OpenVPN may be installed after the helper started.
        let stock = openvpn::stock_binary(
            self.args.openvpn.as_deref(),
            openvpn::STOCK_OPENVPN,
            Path::is_file,
        );
        let (openvpn, federation) = match profile.auth {
            AuthMode::Certificate => (stock, None),
            AuthMode::Federated => {
                let aws_build = self.args.saml_openvpn.clone().or_else(|| {
                    AWS_CLIENT_OPENVPN
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| p.is_file())
                });
                match aws_build {
                    Some(path) => (path, Some(Federation { limit: None })),
                    None => (
                        stock,
                        Some(Federation {
                            limit: Some(STOCK_PARAMETER_LIMIT),
                        }),
                    ),
                }
            }
            AuthMode::UserPassword => return refuse(TunnelFailure::PasswordUnsupported),
        };
        // Keyed on the binary this tunnel runs (stock or the SAML build), path and mtime.
        let fingerprint = std::fs::metadata(&openvpn)
            .and_then(|m| m.modified())
            .ok()
            .map(|modified| (openvpn.clone(), modified));
        let known_good = fingerprint.as_ref().is_some_and(|f| {
            self.checked_openvpn
                .lock()
                .map(|checked| checked.contains(f))
                .unwrap_or(false)
        });
        if !known_good {
            if let Err(cause) = openvpn::check_version(&openvpn).await {
                return refuse(cause);
            }
            if let (Ok(mut checked), Some(fingerprint)) = (self.checked_openvpn.lock(), fingerprint)
            {
                checked.push(fingerprint);
            }
        }
        let config = openvpn::profile_file(&self.args.state_dir);
        let management = match Management::prepare(&self.args.state_dir).await {
            Ok(m) => m,
            Err(e) => {
                return Err(HelperError::Internal {
                    detail: format!("cannot open OpenVPN's management interface: {e}"),
                });
            }
        };
        let configuration = management.configuration(&profile.render_for_openvpn());
        if let Err(e) = openvpn::write_private(&config, configuration.as_bytes()) {
            return Err(HelperError::Internal {
                detail: format!("cannot write the profile: {e}"),
            });
        }
        let windows_driver = self
            .args
            .windows_driver
            .as_deref()
            .filter(|_| cfg!(windows));
        let child = match openvpn::spawn(
            &openvpn,
            &config,
            &management,
            federation.is_some(),
            windows_driver,
        ) {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&config);
                return refuse(TunnelFailure::Fatal {
                    message: format!("cannot start OpenVPN: {e}"),
                });
            }
        };
        if let Some(pid) = child.id() {
            let _ = std::fs::write(openvpn::pid_file(&self.args.state_dir), pid.to_string());
        }
        let state = TunnelState::Connecting {
            profile: name.to_string(),
            phase: "START".into(),
        };
        publish(state.clone());
        let (stop, stop_rx) = mpsc::channel(1);
        let (saml, saml_rx) = mpsc::channel(1);
        let connect_timeout = if federation.is_some() {
            // A person signs in in the browser first.
            Duration::from_secs(self.args.connect_timeout.max(300))
        } else {
            Duration::from_secs(self.args.connect_timeout)
        };
        let tunnel = Tunnel {
            profile: name.to_string(),
            owner,
            config,
            management,
            state: self.state.clone(),
            log: self.log.clone(),
            traffic: self.traffic.clone(),
            max_reconnects: self.args.max_reconnects,
            reconnect_timeout: Duration::from_secs(self.args.reconnect_timeout),
            connect_timeout,
            pid_file: openvpn::pid_file(&self.args.state_dir),
            federation,
            resolver: self.resolver.clone(),
        };
        let task = tokio::spawn(tunnel.run(child, stop_rx, saml_rx));
        *running = Some(Running {
            profile: name.to_string(),
            stop,
            saml,
            task,
        });
        Ok(state)
    }

    /// Hands the browser's SAML assertion to the tunnel that waits for it, if it is the
    /// caller's.
    pub async fn saml_response(
        &self,
        assertion: String,
        caller: &Caller,
    ) -> Result<TunnelState, HelperError> {
        let running = self.running.lock().await;
        if running.as_ref().is_some_and(|r| !r.task.is_finished())
            && let Some(refusal) = self.refuse_stranger(caller)
        {
            return Err(refusal);
        }
        match (running.as_ref(), self.state()) {
            (Some(r), TunnelState::AwaitingBrowser { .. }) => {
                r.saml
                    .send(assertion)
                    .await
                    .map_err(|_| HelperError::NotAwaitingBrowser)?;
                Ok(self.state())
            }
            _ => Err(HelperError::NotAwaitingBrowser),
        }
    }

    /// Stops the tunnel (if any, and if it is the caller's) and waits for OpenVPN to be gone.
    pub async fn disconnect(&self, caller: &Caller) -> Result<TunnelState, HelperError> {
        let mut running = self.running.lock().await;
        tracing::info!(user = ?caller.user, "disconnect requested");
        if running.as_ref().is_some_and(|r| !r.task.is_finished())
            && let Some(refusal) = self.refuse_stranger(caller)
        {
            return Err(refusal);
        }
        if let Some(r) = running.take() {
            let _ = r.stop.send(()).await;
            let _ = tokio::time::timeout(Duration::from_secs(15), r.task).await;
        }
        let state = self.state();
        if state.is_final() {
            Ok(self.status(caller))
        } else {
            self.publish(TunnelState::Disconnected);
            Ok(TunnelState::Disconnected)
        }
    }
}

struct Tunnel {
    profile: String,
    owner: TunnelOwner,
    config: PathBuf,
    management: Management,
    state: watch::Sender<Published>,
    log: Arc<Mutex<VecDeque<String>>>,
    traffic: Arc<Mutex<(u64, u64)>>,
    max_reconnects: u32,
    reconnect_timeout: Duration,
    connect_timeout: Duration,
    pid_file: PathBuf,
    federation: Option<Federation>,
    resolver: Arc<Resolver>,
}

impl Tunnel {
    fn publish(&self, state: TunnelState) {
        tracing::info!(
            user = ?self.owner.user,
            profile = %self.owner.profile,
            "tunnel: {state:?}"
        );
        self.state.send_replace(Published {
            owner: Some(self.owner.clone()),
            state,
        });
    }

    async fn run(
        self,
        mut child: Child,
        mut stop: mpsc::Receiver<()>,
        mut saml: mpsc::Receiver<String>,
    ) {
        for output in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = self.log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(output).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut l) = log.lock() {
                        if l.len() == LOG_LINES {
                            l.pop_front();
                        }
                        l.push_back(line);
                    }
                }
            });
        }
        let outcome = self.drive(&mut child, &mut stop, &mut saml).await;
        // OpenVPN got SIGTERM (or died); give it time to remove its routes and tun device.
        let status = match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(Ok(s)) => s.code().unwrap_or(-1),
            _ => {
                let _ = child.kill().await;
                -1
            }
        };
        let _ = std::fs::remove_file(&self.config);
        self.management.remove();
        let _ = std::fs::remove_file(&self.pid_file);
        self.publish(match outcome {
            Outcome::Stopped => TunnelState::Disconnected,
            Outcome::Failed(cause) => TunnelState::Failed {
                profile: self.profile.clone(),
                cause,
            },
            Outcome::Exited => TunnelState::Failed {
                profile: self.profile.clone(),
                cause: self.exit_cause(status),
            },
        });
    }

    /// OpenVPN ended on its own: the last fatal line it printed says why, if any.
    fn exit_cause(&self, status: i32) -> TunnelFailure {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        match log
            .iter()
            .rev()
            .find(|l| l.contains("Options error") || l.contains("ERROR"))
        {
            Some(line) => TunnelFailure::Fatal {
                message: line.splitn(3, ' ').nth(2).unwrap_or(line).to_string(),
            },
            None => TunnelFailure::Exited { status },
        }
    }

    async fn drive(
        &self,
        child: &mut Child,
        stop: &mut mpsc::Receiver<()>,
        saml: &mut mpsc::Receiver<String>,
    ) -> Outcome {
        let Some((reader, mut writer)) = self.management.attach(child).await else {
            return Outcome::Exited;
        };
        // OpenVPN has read its configuration: the key-bearing file is no longer needed.
        let _ = std::fs::remove_file(&self.config);
        let mut lines = reader.lines();
        let limits = Limits {
            max_reconnects: self.max_reconnects,
            connect_timeout: self.connect_timeout,
            reconnect_timeout: self.reconnect_timeout,
            federation: self.federation.as_ref().map(|f| f.limit),
        };
        let (mut machine, first) = TunnelMachine::new(&self.profile, limits);
        let mut deadline = tokio::time::Instant::now() + self.connect_timeout;
        let mut pending: VecDeque<Output> = first.into();
        loop {
            // Carry out what the machine asked for; the DNS result goes back in.
            while let Some(output) = pending.pop_front() {
                match output {
                    Output::Send(command) => {
                        if send(&mut writer, &command).await.is_err() {
                            // OpenVPN is gone; its management socket says the rest.
                            break;
                        }
                    }
                    Output::Publish(state) => self.publish(state),
                    Output::ApplyDns { device, dns } => {
                        let state = self.resolver.apply(device.as_deref(), &dns).await;
                        pending.extend(machine.handle(Input::DnsApplied(state)));
                    }
                    Output::RevertDns { device } => self.resolver.revert(device.as_deref()).await,
                    Output::ArmDeadline(within) => {
                        deadline = tokio::time::Instant::now() + within;
                    }
                    Output::Traffic { received, sent } => {
                        if let Ok(mut t) = self.traffic.lock() {
                            *t = (received, sent);
                        }
                    }
                }
            }
            let input = tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => Input::Line(parse_management_line(&line)),
                    _ => break,
                },
                Some(assertion) = saml.recv(), if machine.wants_assertion() => Input::Assertion(assertion),
                _ = stop.recv(), if machine.stoppable() => Input::Stop,
                _ = tokio::time::sleep_until(deadline), if machine.deadline_counts() => Input::DeadlinePassed,
            };
            pending.extend(machine.handle(input));
        }
        let (undo, outcome) = machine.finish();
        for output in undo {
            if let Output::RevertDns { device } = output {
                self.resolver.revert(device.as_deref()).await;
            }
        }
        outcome
    }
}

async fn send(w: &mut ManagementWriter, command: &str) -> std::io::Result<()> {
    w.write_all(command.as_bytes()).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::owner::tests::{administrator, caller, user};

    const ALICE: u32 = 1000;
    const BOB: u32 = 1001;
    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----";

    fn profile(extra: &str) -> Profile {
        let text = format!(
            "client\ndev tun\nremote vpn.example.com 443\n{extra}<ca>\n{PEM}\n</ca>\n<cert>\n{PEM}\n</cert>\n<key>\n{KEY}\n</key>\n"
        );
        Profile::parse(text.as_bytes()).expect("a valid profile")
    }

    async fn supervisor(dir: &Path) -> Supervisor {
        let state_dir = dir.join("state");
        let args = Args::parse_from([
            "postern-helper",
            "--state-dir",
            state_dir.to_str().expect("utf-8"),
            "--openvpn",
            "/nonexistent/openvpn",
        ]);
        Supervisor::start(&args).await.expect("supervisor")
    }

    /// Puts a running tunnel of ALICE's in place, waiting for her browser; the task ends on stop.
    async fn alices_tunnel(s: &Supervisor) -> mpsc::Receiver<String> {
        let (stop, mut stop_rx) = mpsc::channel(1);
        let (saml, saml_rx) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            let _ = stop_rx.recv().await;
        });
        *s.running.lock().await = Some(Running {
            profile: "corp".into(),
            stop,
            saml,
            task,
        });
        s.state.send_replace(Published {
            owner: Some(TunnelOwner {
                user: user(ALICE),
                profile: "corp".into(),
            }),
            state: TunnelState::AwaitingBrowser {
                profile: "corp".into(),
                url: "https://idp.example/saml?SAMLRequest=alice".into(),
            },
        });
        if let Ok(mut l) = s.log.lock() {
            l.push_back("alice's OpenVPN line".into());
        }
        // Let the history recorder see the state.
        tokio::time::sleep(Duration::from_millis(50)).await;
        saml_rx
    }

    fn not_owner<T: std::fmt::Debug>(r: Result<T, HelperError>) {
        match r {
            Err(HelperError::NotOwner { profile }) => assert_eq!(profile, "corp"),
            other => panic!("expected the not-owner refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn another_user_can_neither_control_a_tunnel_nor_read_its_log_or_history() {
        let dir = tempfile::tempdir().unwrap();
        let s = supervisor(dir.path()).await;
        let mut saml_rx = alices_tunnel(&s).await;

        not_owner(s.disconnect(&caller(BOB)).await);
        not_owner(
            s.saml_response("bob's assertion".into(), &caller(BOB))
                .await,
        );
        not_owner(s.log(&caller(BOB)));
        not_owner(s.history(&caller(BOB)));
        assert!(
            saml_rx.try_recv().is_err(),
            "bob's assertion reached the tunnel"
        );
        assert!(
            !s.running.lock().await.as_ref().unwrap().task.is_finished(),
            "bob stopped alice's tunnel"
        );
        // Bob sees that the helper is busy, not where alice signs in.
        assert_eq!(
            s.status(&caller(BOB)),
            TunnelState::Connecting {
                profile: "corp".into(),
                phase: "AUTH".into()
            }
        );
        match s.connect("mine", &profile(""), &caller(BOB)).await {
            Err(HelperError::Busy { profile }) => assert_eq!(profile, "corp"),
            other => panic!("expected Busy, got {other:?}"),
        }
        assert_eq!(s.log(&caller(ALICE)).unwrap(), vec!["alice's OpenVPN line"]);

        // Alice and root may do all of it.
        assert!(matches!(
            s.status(&caller(ALICE)),
            TunnelState::AwaitingBrowser { .. }
        ));
        assert_eq!(
            s.log(&administrator()).unwrap(),
            vec!["alice's OpenVPN line"]
        );
        let history = s.history(&caller(ALICE)).unwrap();
        assert!(
            history
                .iter()
                .any(|r| matches!(r.state, TunnelState::AwaitingBrowser { .. })),
            "{history:?}"
        );
        s.saml_response("alice's assertion".into(), &caller(ALICE))
            .await
            .unwrap();
        assert_eq!(saml_rx.try_recv().unwrap(), "alice's assertion");
        assert_eq!(
            s.disconnect(&caller(ALICE)).await.unwrap(),
            TunnelState::Disconnected
        );

        // Down, the last tunnel's log and history are still alice's; a disconnect harms nothing.
        not_owner(s.log(&caller(BOB)));
        not_owner(s.history(&caller(BOB)));
        assert_eq!(
            s.disconnect(&caller(BOB)).await.unwrap(),
            TunnelState::Disconnected
        );
    }

    #[tokio::test]
    async fn a_new_attempt_belongs_to_its_user_and_shows_them_nothing_of_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = supervisor(dir.path()).await;
        let _saml = alices_tunnel(&s).await;
        s.disconnect(&caller(ALICE)).await.unwrap();
        // Bob's attempt fails at once (password profiles are not supported), but it is his.
        match s
            .connect("bobs", &profile("auth-user-pass\n"), &caller(BOB))
            .await
        {
            Err(HelperError::Tunnel {
                failure: TunnelFailure::PasswordUnsupported,
            }) => {}
            other => panic!("expected the password refusal, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            s.log(&caller(BOB)).unwrap().is_empty(),
            "bob read alice's log"
        );
        let history = s.history(&caller(BOB)).unwrap();
        assert!(
            history.iter().all(|r| r.state.profile() != Some("corp")),
            "bob saw alice's states: {history:?}"
        );
        assert!(
            history.iter().any(
                |r| matches!(&r.state, TunnelState::Failed { profile, .. } if profile == "bobs")
            ),
            "{history:?}"
        );
        match s.log(&caller(ALICE)) {
            Err(HelperError::NotOwner { profile }) => assert_eq!(profile, "bobs"),
            other => panic!("alice read bob's log: {other:?}"),
        }
        // Root reads every state.
        let all = s.history(&administrator()).unwrap();
        assert!(all.iter().any(|r| r.state.profile() == Some("corp")));
        assert!(all.iter().any(|r| r.state.profile() == Some("bobs")));
    }
}
