//! What the orchestrator does for each action, with recording parts in place of Identity
//! Center, the probes, the echoes, the helper and the profile store. The session machine and
//! the orchestrator's tasks, channels and cancellation are the real ones.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use postern_core::egress::{EgressSettings, Verdict};
use postern_core::identity::SecretText;
use postern_core::posture::{PostureReport, Requirements, Status};

use super::*;
use crate::parts::{
    EgressCheck, Helper, IdentityCenter, PostureCheck, PreparedProfile, Profiles, Task,
};

const ACCOUNT: &str = "111122223333";

fn policy(require: &str) -> OrgPolicy {
    let text = format!(
        r#"
[identity_center]
start_url = "https://my-org.awsapps.com/start"
region    = "eu-west-1"

[posture]
interval = "5m"
[posture.linux]
min_kernel = "3.0"

[egress]
nat_addresses = ["203.0.113.10/32"]

[[access]]
account = "{ACCOUNT}"
role = "Developer"
require = [{require}]
"#
    );
    postern_core::policy::parse(&text).expect("a valid policy")
}

fn config(policy: OrgPolicy) -> AgentConfig {
    AgentConfig {
        policy,
        helper_socket: "/nonexistent/helper.sock".into(),
        profiles: "/nonexistent/profiles".into(),
        state_dir: "/nonexistent/state".into(),
        aws_dir: None,
        open_browser: false,
        secrets: Arc::new(postern_core::identity::MemoryStore::default()),
    }
}

/// How a fake part answers.
#[derive(Clone)]
enum Answer<T> {
    Now(T),
    /// Only once the test says so.
    After(Arc<tokio::sync::Notify>, T),
    Panic,
}

impl<T: Clone + Send + 'static> Answer<T> {
    fn give(&self) -> Task<T> {
        let answer = self.clone();
        Box::pin(async move {
            match answer {
                Answer::Now(t) => t,
                Answer::After(gate, t) => {
                    gate.notified().await;
                    t
                }
                Answer::Panic => panic!("the part broke"),
            }
        })
    }
}

struct FakeIdentity {
    sign_in: Mutex<Answer<Result<(), Cause>>>,
    /// A sign-in prompt shown once the answer is due (late, when the test held it back).
    prompt: Mutex<Option<(String, Option<String>)>>,
    vend: Mutex<Answer<Result<(), Cause>>>,
    sign_ins: AtomicUsize,
    vends: AtomicUsize,
}

impl IdentityCenter for FakeIdentity {
    fn sign_in(&self, _: String, _: String, _: bool, prompt: Prompt) -> Task<Result<(), Cause>> {
        self.sign_ins.fetch_add(1, Ordering::SeqCst);
        let (answer, shown) = (
            self.sign_in.lock().unwrap().give(),
            self.prompt.lock().unwrap().clone(),
        );
        Box::pin(async move {
            let answer = answer.await;
            if let Some((url, code)) = shown {
                prompt(url, code);
            }
            answer
        })
    }

    fn vend(&self, rule: AccessRule) -> Task<Result<VendedCredentials, Cause>> {
        self.vends.fetch_add(1, Ordering::SeqCst);
        let answer = self.vend.lock().unwrap().give();
        Box::pin(async move {
            answer.await.map(|()| VendedCredentials {
                account: rule.account,
                role: rule.role,
                access_key_id: "ASIATESTKEY".into(),
                secret_access_key: SecretText::new("secret"),
                session_token: SecretText::new("token"),
                expiration: OffsetDateTime::now_utc() + time::Duration::hours(1),
            })
        })
    }
}

struct FakePosture {
    answer: Mutex<Answer<bool>>,
    checks: AtomicUsize,
}

fn report(compliant: bool) -> PostureReport {
    PostureReport {
        status: if compliant {
            Status::Compliant
        } else {
            Status::NonCompliant {
                failing: vec!["firewall".into()],
            }
        },
        checks: vec![],
        taken_at: OffsetDateTime::now_utc(),
        elapsed_ms: 0,
    }
}

impl PostureCheck for FakePosture {
    fn check(&self, _: &Requirements) -> PostureReport {
        self.checks.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().unwrap().clone();
        match answer {
            Answer::Now(ok) => report(ok),
            Answer::After(_, ok) => {
                std::thread::sleep(Duration::from_secs(2));
                report(ok)
            }
            Answer::Panic => panic!("the posture probe broke"),
        }
    }
}

struct FakeEgress {
    answer: Mutex<Answer<Result<Verdict, Cause>>>,
    checks: AtomicUsize,
}

impl EgressCheck for FakeEgress {
    fn check(&self, _: EgressSettings) -> Task<Result<Verdict, Cause>> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.answer.lock().unwrap().give()
    }
}

struct FakeHelper {
    /// What the tunnel does once asked: the states it reports, in order.
    states: Mutex<Vec<TunnelState>>,
    refuse: Mutex<Option<Cause>>,
    tunnels: AtomicUsize,
    disconnects: AtomicUsize,
}

impl Helper for FakeHelper {
    fn tunnel(
        &self,
        _profile: PreparedProfile,
        states: mpsc::Sender<TunnelState>,
    ) -> Task<Result<(), Cause>> {
        self.tunnels.fetch_add(1, Ordering::SeqCst);
        let (script, refuse) = (
            self.states.lock().unwrap().clone(),
            self.refuse.lock().unwrap().clone(),
        );
        Box::pin(async move {
            if let Some(cause) = refuse {
                return Err(cause);
            }
            for s in script {
                let _ = states.send(s).await;
            }
            // The tunnel stays up as long as the task runs.
            std::future::pending::<()>().await;
            Ok(())
        })
    }

    fn disconnect(&self) -> Task<()> {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

struct FakeProfiles {
    list: Result<Vec<String>, Cause>,
}

impl Profiles for FakeProfiles {
    fn list(&self) -> Result<Vec<String>, Cause> {
        self.list.clone()
    }
    fn prepare(&self, name: &str) -> Result<PreparedProfile, Cause> {
        Ok(PreparedProfile {
            name: name.into(),
            text: "client\nremote vpn.example 443\n".into(),
            federated: false,
        })
    }
}

fn connected() -> TunnelState {
    TunnelState::Connected {
        profile: "corp".into(),
        tunnel_ip: "10.200.0.2".into(),
        endpoint_ip: "203.0.113.20".into(),
        dns: Default::default(),
    }
}

fn nat_match() -> Verdict {
    Verdict::Match {
        address: "203.0.113.10".parse().unwrap(),
        nat: "203.0.113.10/32".parse().unwrap(),
        country: None,
    }
}

struct World {
    identity: Arc<FakeIdentity>,
    posture: Arc<FakePosture>,
    egress: Arc<FakeEgress>,
    helper: Arc<FakeHelper>,
    handle: Handle,
}

struct Setup {
    require: &'static str,
    profiles: Result<Vec<String>, Cause>,
    tuning: Tuning,
    interval: Option<Duration>,
    echo_timeout: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            require: r#""posture", "vpn", "egress""#,
            profiles: Ok(vec!["corp".into()]),
            tuning: Tuning::default(),
            interval: None,
            echo_timeout: None,
        }
    }
}

fn world(setup: Setup) -> World {
    let identity = Arc::new(FakeIdentity {
        sign_in: Mutex::new(Answer::Now(Ok(()))),
        prompt: Mutex::new(None),
        vend: Mutex::new(Answer::Now(Ok(()))),
        sign_ins: AtomicUsize::new(0),
        vends: AtomicUsize::new(0),
    });
    let posture = Arc::new(FakePosture {
        answer: Mutex::new(Answer::Now(true)),
        checks: AtomicUsize::new(0),
    });
    let egress = Arc::new(FakeEgress {
        answer: Mutex::new(Answer::Now(Ok(nat_match()))),
        checks: AtomicUsize::new(0),
    });
    let helper = Arc::new(FakeHelper {
        states: Mutex::new(vec![
            TunnelState::Connecting {
                profile: "corp".into(),
                phase: "WAIT".into(),
            },
            connected(),
        ]),
        refuse: Mutex::new(None),
        tunnels: AtomicUsize::new(0),
        disconnects: AtomicUsize::new(0),
    });
    let parts = Parts {
        identity: identity.clone(),
        posture: posture.clone(),
        egress: egress.clone(),
        helper: helper.clone(),
        profiles: Arc::new(FakeProfiles {
            list: setup.profiles,
        }),
    };
    let mut policy = policy(setup.require);
    if let (Some(p), Some(interval)) = (policy.posture.as_mut(), setup.interval) {
        p.interval = interval;
    }
    if let (Some(e), Some(timeout)) = (policy.egress.as_mut(), setup.echo_timeout) {
        e.timeout = timeout;
    }
    let handle = start_with(config(policy), parts, setup.tuning);
    World {
        identity,
        posture,
        egress,
        helper,
        handle,
    }
}

impl World {
    async fn connect(&self) -> Result<(), AgentError> {
        self.handle
            .connect(None, ACCOUNT.into(), "Developer".into())
            .await
    }

    async fn disconnect(&self) {
        self.handle
            .commands
            .send(Command::Disconnect)
            .await
            .unwrap();
    }

    /// Waits (bounded) for a state; fails with the history when it does not come.
    async fn until(&self, what: &str, pred: impl Fn(&SessionState) -> bool) -> SessionState {
        let mut rx = self.handle.transitions.clone();
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let state = rx.borrow_and_update().state.clone();
                if pred(&state) {
                    return state;
                }
                if rx.changed().await.is_err() {
                    panic!("the orchestrator stopped");
                }
            }
        })
        .await;
        match waited {
            Ok(state) => state,
            Err(_) => panic!(
                "no {what} within 10 s: {:?}",
                self.handle
                    .history()
                    .iter()
                    .map(|t| (t.state.name(), t.cause.clone()))
                    .collect::<Vec<_>>()
            ),
        }
    }

    async fn blocked(&self) -> Cause {
        match self
            .until("Blocked", |s| matches!(s, SessionState::Blocked { .. }))
            .await
        {
            SessionState::Blocked { cause } => cause,
            _ => unreachable!(),
        }
    }

    async fn credentials(&self) -> Result<String, AgentError> {
        let (reply, answer) = oneshot::channel();
        self.handle
            .commands
            .send(Command::Credentials {
                account: ACCOUNT.into(),
                role: "Developer".into(),
                reply,
            })
            .await
            .unwrap();
        answer.await.unwrap().map(|c| c.credential_process_json())
    }

    fn names(&self) -> Vec<&'static str> {
        self.handle
            .history()
            .iter()
            .map(|t| t.state.name())
            .collect()
    }
}

fn is_ready(s: &SessionState) -> bool {
    matches!(s, SessionState::Ready { .. })
}

/// Gives the orchestrator's tasks time to report anything late.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn every_gate_in_order_then_credentials_are_served() {
    let w = world(Setup::default());
    w.connect().await.unwrap();
    match w.until("Ready", is_ready).await {
        SessionState::Ready { egress, .. } => {
            assert_eq!(egress, Some("203.0.113.10".parse().unwrap()))
        }
        _ => unreachable!(),
    }
    // OpenVPN's phases are transitions of their own; the gates' order is what counts.
    let mut names = w.names();
    names.dedup();
    assert_eq!(
        names,
        [
            "idle",
            "signing-in",
            "checking-posture",
            "connecting-vpn",
            "verifying-egress",
            "issuing-credentials",
            "ready"
        ]
    );
    let doc: serde_json::Value = serde_json::from_str(&w.credentials().await.unwrap()).unwrap();
    assert_eq!(doc["AccessKeyId"], "ASIATESTKEY");
    assert_eq!(w.identity.sign_ins.load(Ordering::SeqCst), 1);
    assert_eq!(w.posture.checks.load(Ordering::SeqCst), 1);
    assert_eq!(w.helper.tunnels.load(Ordering::SeqCst), 1);
    assert_eq!(w.egress.checks.load(Ordering::SeqCst), 1);
    assert_eq!(w.identity.vends.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn gates_not_required_are_never_run_nor_faked() {
    let w = world(Setup {
        require: "",
        profiles: Ok(vec![]),
        ..Setup::default()
    });
    w.connect().await.unwrap();
    match w.until("Ready", is_ready).await {
        SessionState::Ready { egress, .. } => assert_eq!(egress, None),
        _ => unreachable!(),
    }
    assert_eq!(w.posture.checks.load(Ordering::SeqCst), 0);
    assert_eq!(w.helper.tunnels.load(Ordering::SeqCst), 0);
    assert_eq!(w.egress.checks.load(Ordering::SeqCst), 0);
    assert!(!w.names().contains(&"connecting-vpn"), "{:?}", w.names());
    // Disconnect without a tunnel asks nothing of the helper.
    w.disconnect().await;
    w.until("Idle", |s| *s == SessionState::Idle).await;
    assert_eq!(w.helper.disconnects.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_posture_probe_that_panics_blocks_as_unknown() {
    let w = world(Setup::default());
    *w.posture.answer.lock().unwrap() = Answer::Panic;
    w.connect().await.unwrap();
    match w.blocked().await {
        Cause::PostureUnknown { unknown } => {
            assert!(unknown[0].contains("stopped"), "{unknown:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.helper.tunnels.load(Ordering::SeqCst),
        0,
        "no VPN after a panic"
    );
}

#[tokio::test]
async fn a_posture_check_that_takes_too_long_blocks_as_unknown() {
    let w = world(Setup {
        tuning: Tuning {
            posture_limit: Duration::from_millis(200),
            ..Tuning::default()
        },
        ..Setup::default()
    });
    *w.posture.answer.lock().unwrap() = Answer::After(Arc::new(tokio::sync::Notify::new()), true);
    w.connect().await.unwrap();
    match w.blocked().await {
        Cause::PostureUnknown { unknown } => {
            assert!(unknown[0].contains("did not finish"), "{unknown:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_egress_check_that_panics_or_hangs_blocks() {
    let w = world(Setup::default());
    *w.egress.answer.lock().unwrap() = Answer::Panic;
    w.connect().await.unwrap();
    assert!(matches!(
        w.blocked().await,
        Cause::EgressUndetermined { .. }
    ));
    assert!(w.credentials().await.is_err());
    assert_eq!(w.identity.vends.load(Ordering::SeqCst), 0);

    let w = world(Setup {
        tuning: Tuning {
            egress_slack: Duration::from_millis(100),
            ..Tuning::default()
        },
        echo_timeout: Some(Duration::from_millis(200)),
        ..Setup::default()
    });
    *w.egress.answer.lock().unwrap() =
        Answer::After(Arc::new(tokio::sync::Notify::new()), Ok(nat_match()));
    w.connect().await.unwrap();
    let cause = tokio::time::timeout(Duration::from_secs(30), w.blocked()).await;
    assert!(
        matches!(cause, Ok(Cause::EgressUndetermined { .. })),
        "{cause:?}"
    );
}

#[tokio::test]
async fn typed_causes_reach_the_session_unflattened() {
    let cases = [
        Cause::KeychainLocked {
            detail: "locked".into(),
        },
        Cause::IdentityCenterFault {
            detail: "HTTP 503".into(),
        },
        Cause::RoleNotGranted {
            account: ACCOUNT.into(),
            role: "Developer".into(),
        },
    ];
    for cause in cases {
        let w = world(Setup::default());
        *w.identity.sign_in.lock().unwrap() = Answer::Now(Err(cause.clone()));
        w.connect().await.unwrap();
        assert_eq!(w.blocked().await, cause);
    }
    // A refused scope-down at vending is its own cause, not "sign in again".
    let w = world(Setup::default());
    *w.identity.vend.lock().unwrap() = Answer::Now(Err(Cause::ScopeDownRefused {
        detail: "AccessDenied".into(),
    }));
    w.connect().await.unwrap();
    let cause = w.blocked().await;
    assert!(matches!(cause, Cause::ScopeDownRefused { .. }), "{cause:?}");
    assert_ne!(cause.exit_code(), postern_core::ExitCode::SignInFailed);
    // A helper of another version.
    let w = world(Setup::default());
    *w.helper.refuse.lock().unwrap() = Some(Cause::HelperVersion {
        helper: 2,
        agent: 1,
    });
    w.connect().await.unwrap();
    assert_eq!(
        w.blocked().await,
        Cause::HelperVersion {
            helper: 2,
            agent: 1
        }
    );
    // A country database that cannot be opened.
    let w = world(Setup::default());
    *w.egress.answer.lock().unwrap() = Answer::Now(Err(Cause::CountryDatabaseUnreadable {
        path: "/etc/postern/country.mmdb".into(),
        detail: "no such file".into(),
    }));
    w.connect().await.unwrap();
    assert!(matches!(
        w.blocked().await,
        Cause::CountryDatabaseUnreadable { .. }
    ));
}

#[tokio::test]
async fn an_unreadable_profile_store_is_said_as_such() {
    let w = world(Setup {
        profiles: Err(Cause::ProfileStoreUnreadable {
            detail: "permission denied".into(),
        }),
        ..Setup::default()
    });
    match w.connect().await {
        Err(AgentError::NotReady {
            cause: Some(Cause::ProfileStoreUnreadable { .. }),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_late_sign_in_after_disconnect_changes_nothing() {
    let w = world(Setup::default());
    let gate = Arc::new(tokio::sync::Notify::new());
    *w.identity.sign_in.lock().unwrap() = Answer::After(gate.clone(), Ok(()));
    w.connect().await.unwrap();
    w.until("signing in", |s| {
        matches!(s, SessionState::SigningIn { .. })
    })
    .await;
    w.disconnect().await;
    w.until("Idle", |s| *s == SessionState::Idle).await;
    gate.notify_waiters();
    settle().await;
    assert_eq!(w.handle.transitions.borrow().state, SessionState::Idle);
    assert_eq!(w.posture.checks.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_late_sign_in_prompt_after_disconnect_changes_nothing() {
    let w = world(Setup::default());
    let gate = Arc::new(tokio::sync::Notify::new());
    *w.identity.sign_in.lock().unwrap() = Answer::After(gate.clone(), Err(Cause::SignInNeeded));
    *w.identity.prompt.lock().unwrap() = Some(("https://device.sso/".into(), Some("ABCD".into())));
    w.connect().await.unwrap();
    w.until("signing in", |s| {
        matches!(s, SessionState::SigningIn { .. })
    })
    .await;
    w.disconnect().await;
    w.until("Idle", |s| *s == SessionState::Idle).await;
    // The earlier attempt's prompt (and its failure) would come now.
    gate.notify_waiters();
    settle().await;
    assert_eq!(w.handle.transitions.borrow().state, SessionState::Idle);
    let names = w.names();
    assert_eq!(
        names.iter().filter(|n| **n == "signing-in").count(),
        1,
        "{names:?}"
    );
    assert!(!names.contains(&"blocked"), "{names:?}");
}

#[tokio::test]
async fn a_new_connect_cancels_the_tasks_of_the_one_before() {
    let w = world(Setup::default());
    let gate = Arc::new(tokio::sync::Notify::new());
    *w.egress.answer.lock().unwrap() = Answer::After(gate.clone(), Ok(nat_match()));
    w.connect().await.unwrap();
    w.until("verifying egress", |s| *s == SessionState::VerifyingEgress)
        .await;
    // The second attempt's egress answers at once; the first one's never does (cancelled).
    *w.egress.answer.lock().unwrap() = Answer::Now(Ok(nat_match()));
    w.connect().await.unwrap();
    w.until("Ready", is_ready).await;
    gate.notify_waiters();
    settle().await;
    assert!(is_ready(&w.handle.transitions.borrow().state));
    assert_eq!(
        w.identity.vends.load(Ordering::SeqCst),
        1,
        "one vending only"
    );
    assert_eq!(w.identity.sign_ins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn disconnect_takes_the_tunnel_down_and_withdraws() {
    let w = world(Setup::default());
    w.connect().await.unwrap();
    w.until("Ready", is_ready).await;
    assert!(w.credentials().await.is_ok());
    w.disconnect().await;
    w.until("Idle", |s| *s == SessionState::Idle).await;
    assert_eq!(w.helper.disconnects.load(Ordering::SeqCst), 1);
    assert!(matches!(
        w.credentials().await,
        Err(AgentError::NotReady { .. })
    ));
}

#[tokio::test]
async fn the_monitor_s_first_look_is_one_interval_after_ready_not_after_the_start() {
    let w = world(Setup {
        interval: Some(Duration::from_millis(1500)),
        tuning: Tuning {
            monitor_poll: Duration::from_millis(100),
            ..Tuning::default()
        },
        ..Setup::default()
    });
    // The agent has been running for longer than the interval before Connect.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    w.connect().await.unwrap();
    w.until("Ready", is_ready).await;
    let at_ready = w.posture.checks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        w.posture.checks.load(Ordering::SeqCst),
        at_ready,
        "a posture check came right after Ready"
    );
    // One interval after Ready, it does come.
    let looked = tokio::time::timeout(Duration::from_secs(5), async {
        while w.posture.checks.load(Ordering::SeqCst) == at_ready {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(looked.is_ok(), "no posture check one interval after Ready");
}

#[tokio::test]
async fn a_vpn_drop_withdraws_and_its_return_reproves_egress() {
    let w = world(Setup::default());
    w.helper
        .states
        .lock()
        .unwrap()
        .extend([TunnelState::Reconnecting {
            profile: "corp".into(),
            attempt: 1,
            max: 3,
            reason: "ping-restart".into(),
        }]);
    w.connect().await.unwrap();
    // Connected then at once Reconnecting: the attempt goes back to the VPN gate.
    let state = w
        .until("back at the VPN", |s| {
            matches!(s, SessionState::ConnectingVpn { phase, .. } if phase.starts_with("RECONNECTING"))
                || matches!(s, SessionState::Degraded { .. })
        })
        .await;
    assert!(!state.serves_credentials());
    assert!(w.credentials().await.is_err());
}

/// One HTTP/1.1 request to the local endpoint, as raw bytes: the status and the body.
async fn http(address: &str, request: String) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the endpoint answers and closes within 5 s")
        .unwrap();
    let text = String::from_utf8(answer).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

fn get(address: &str, token: Option<&str>) -> String {
    let auth = token
        .map(|t| format!("Authorization: {t}\r\n"))
        .unwrap_or_default();
    format!("GET /credentials HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n")
}

#[tokio::test]
async fn the_local_endpoint_serves_a_granted_token_only_while_the_gate_is_open() {
    let w = world(Setup::default());
    w.connect().await.unwrap();
    w.until("Ready", is_ready).await;
    let endpoint = crate::endpoint::Endpoint::start(w.handle.clone())
        .await
        .unwrap();
    let url = url::Url::parse(&endpoint.url()).unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"), "loopback only");
    let address = format!("127.0.0.1:{}", url.port().unwrap());
    let lease = endpoint.grant(ACCOUNT.into(), "Developer".into());
    let other = endpoint.grant(ACCOUNT.into(), "Developer".into());
    assert_ne!(lease.token(), other.token(), "a token per process");
    assert_eq!(lease.token().len(), 64);

    let (status, doc) = http(&address, get(&address, Some(lease.token()))).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["AccessKeyId"], "ASIATESTKEY");
    assert!(doc["Token"].is_string() && doc["SecretAccessKey"].is_string());
    let expires = time::OffsetDateTime::parse(
        doc["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        expires <= time::OffsetDateTime::now_utc() + crate::endpoint::SERVED_LIFETIME,
        "{doc}"
    );

    // No token, a wrong one, another host name, another method or path: refused, nothing served.
    for (request, code) in [
        (get(&address, None), 403),
        (get(&address, Some("0".repeat(64).as_str())), 403),
        (
            get(&address, Some(lease.token()))
                .replace(&format!("Host: {address}"), "Host: evil.example:80"),
            403,
        ),
        (
            get(&address, Some(lease.token())).replacen("GET", "POST", 1),
            405,
        ),
        (
            get(&address, Some(lease.token())).replacen("/credentials", "/", 1),
            404,
        ),
    ] {
        let (status, doc) = http(&address, request.clone()).await;
        assert_eq!(status, code, "{request}: {doc}");
        assert!(doc.get("AccessKeyId").is_none());
        assert!(doc["message"].is_string());
    }

    // A token ends with its lease; the others go on.
    drop(other);
    let dropped = http(&address, get(&address, None)).await;
    assert_eq!(dropped.0, 403);

    // The gate closes: 503 with the session's reason.
    w.disconnect().await;
    w.until("Idle", |s| *s == SessionState::Idle).await;
    let (status, doc) = http(&address, get(&address, Some(lease.token()))).await;
    assert_eq!(status, 503, "{doc}");
    assert!(
        doc["message"].as_str().unwrap().contains("Not connected"),
        "{doc}"
    );
    let token = lease.token().to_string();
    drop(lease);
    let (status, _) = http(&address, get(&address, Some(&token))).await;
    assert_eq!(status, 403, "a revoked token is unknown");
}
