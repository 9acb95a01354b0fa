//! The trust boundaries around the root helper and the agent, with real processes under real
//! uids: a tunnel belongs to the uid that started it; clients check who listens before they
//! send a byte; slow peers cannot make the helper hold memory. Needs root (CI is root).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use postern_core::vpn::tunnel::TunnelState;
use postern_e2e::lab::{self, Helper, Spawned};
use postern_e2e::{Run, User};
use postern_ipc::client::HelperClient;
use postern_ipc::{HelperError, PROTOCOL_VERSION, Reply, Request};

const HELPER_UNAVAILABLE: i32 = 10;
const AGENT_UNAVAILABLE: i32 = 16;
const PYTHON: &str = "/usr/bin/python3";
/// Members of the helper's group in these tests: gid nogroup, two uids.
const GROUP: &str = "nogroup";
const GID: u32 = 65534;
const OWNER_UID: u32 = 65533;
const STRANGER_UID: u32 = 65534;
/// The helper's per-uid connection limit (`postern-helper`'s service).
const CONNECTIONS_PER_UID: usize = 16;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A helper client in a few lines of Python, so it can run as any uid: sends Hello, then each
/// request (JSON lines on stdin), and prints every reply as a JSON line. A peer the helper
/// refuses gets the refusal at once and the socket closed, which can be before its Hello is
/// written (on a loaded machine): the refusal is read all the same.
const CLIENT: &str = r#"
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
def send(doc):
    body = doc.encode()
    try:
        s.sendall(struct.pack(">I", len(body)) + body)
    except BrokenPipeError:
        pass
def exact(n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise SystemExit("the helper hung up")
        got += chunk
    return got
def reply():
    (n,) = struct.unpack(">I", exact(4))
    return exact(n).decode()
for line in sys.stdin:
    send(line.strip())
    print(reply(), flush=True)
"#;

/// Runs the Python client (`client`: python3, started as some user) with these requests
/// (Hello first), and returns every reply it printed.
fn exchange(mut client: std::process::Command, socket: &Path, requests: &[Request]) -> Vec<Reply> {
    let mut child = client
        .arg("-c")
        .arg(CLIENT)
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the python client");
    let hello = Request::Hello {
        protocol_version: PROTOCOL_VERSION,
        client: "test".into(),
    };
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for r in std::iter::once(&hello).chain(requests) {
            writeln!(stdin, "{}", serde_json::to_string(r).unwrap()).unwrap();
        }
    }
    let out = child.wait_with_output().expect("python client");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("reply {l:?}: {e}")))
        .collect()
}

/// Sends Hello and `requests` to the helper as `uid`; the replies, Welcome first.
fn ask_as(uid: u32, socket: &Path, requests: &[Request]) -> Vec<Reply> {
    let replies = exchange(lab::as_user(uid, GID, PYTHON), socket, requests);
    assert_eq!(replies.len(), requests.len() + 1, "{replies:?}");
    assert!(
        matches!(replies[0], Reply::Welcome { .. }),
        "uid {uid} was not welcome: {:?}",
        replies[0]
    );
    replies[1..].to_vec()
}

/// The helper's answer to a Hello from `client`.
fn hello_answer(client: std::process::Command, socket: &Path) -> Reply {
    let replies = exchange(client, socket, &[]);
    assert_eq!(replies.len(), 1, "{replies:?}");
    replies[0].clone()
}

/// Waits (bounded) until the helper's state satisfies `done`.
fn wait_for(socket: &Path, done: impl Fn(&TunnelState) -> bool) -> TunnelState {
    runtime().block_on(async {
        let mut states = HelperClient::connect(socket, "test")
            .await
            .expect("helper")
            .watch()
            .await
            .expect("watch");
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match states.next().await {
                    Some(s) if done(&s) => return s,
                    Some(_) => {}
                    None => panic!("the helper went away"),
                }
            }
        })
        .await
        .expect("no such state within 30 s")
    })
}

fn not_owner(reply: &Reply) {
    assert_eq!(
        reply,
        &Reply::Refused(HelperError::NotOwner {
            profile: "corp".into()
        })
    );
}

#[test]
fn a_group_member_who_did_not_start_the_tunnel_may_not_control_it_or_read_its_log() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&["--group", GROUP]);
    helper.open_to_others(0o660);
    let socket = helper.socket();
    let profile = lab::profile_text("alice.lab.test");

    // One member of the group starts the tunnel...
    let started = ask_as(
        OWNER_UID,
        &socket,
        &[Request::Connect {
            profile_name: "corp".into(),
            profile: profile.clone(),
        }],
    );
    assert!(
        matches!(started[0], Reply::State(TunnelState::Connecting { .. })),
        "{started:?}"
    );
    let up = wait_for(&socket, |s| s.is_connected() || s.is_final());
    assert!(up.is_connected(), "{up:?}");

    // ...another member may see that the helper is busy, and nothing more.
    let stranger = ask_as(
        STRANGER_UID,
        &socket,
        &[
            Request::Disconnect,
            Request::OpenVpnLog,
            Request::StateHistory,
            Request::SamlResponse {
                assertion: "PHNhbWw+".into(),
            },
            Request::Status,
            Request::Connect {
                profile_name: "mine".into(),
                profile: profile.clone(),
            },
        ],
    );
    for refused in &stranger[..4] {
        not_owner(refused);
    }
    assert!(
        matches!(&stranger[4], Reply::State(s) if s.is_connected()),
        "{:?}",
        stranger[4]
    );
    assert_eq!(
        stranger[5],
        Reply::Refused(HelperError::Busy {
            profile: "corp".into()
        })
    );
    // The CLI as that member says so in a sentence, with what to do.
    let cli = Run::from(
        lab::as_user(STRANGER_UID, GID, postern_e2e::bin("postern"))
            .args(["vpn", "disconnect"])
            .env("POSTERN_HELPER_SOCKET", &socket),
    );
    cli.assert_fails(HELPER_UNAVAILABLE, "was started by another user");
    cli.assert_fails(HELPER_UNAVAILABLE, "Ask the user who started it");
    let still = wait_for(&socket, |_| true);
    assert!(still.is_connected(), "the stranger took it down: {still:?}");

    // The owner may read and control it; a sign-in answer is refused only because none is
    // awaited (a certificate tunnel), not because of who asks.
    let owner = ask_as(
        OWNER_UID,
        &socket,
        &[
            Request::OpenVpnLog,
            Request::StateHistory,
            Request::SamlResponse {
                assertion: "PHNhbWw+".into(),
            },
        ],
    );
    assert!(
        matches!(&owner[0], Reply::Log { lines } if lines.iter().any(|l| l.contains("Initialization Sequence Completed"))),
        "{:?}",
        owner[0]
    );
    assert!(
        matches!(&owner[1], Reply::History { states } if states.iter().any(|r| r.state.is_connected())),
        "{:?}",
        owner[1]
    );
    assert_eq!(owner[2], Reply::Refused(HelperError::NotAwaitingBrowser));
    // Root may read it too.
    let root_log = runtime().block_on(async {
        let mut c = HelperClient::connect(&socket, "test")
            .await
            .expect("helper");
        c.openvpn_log().await.expect("root reads the log")
    });
    assert!(!root_log.is_empty());

    let down = ask_as(OWNER_UID, &socket, &[Request::Disconnect]);
    assert_eq!(down[0], Reply::State(TunnelState::Disconnected));
    // Down, its log is still the owner's alone.
    let after = ask_as(STRANGER_UID, &socket, &[Request::OpenVpnLog]);
    not_owner(&after[0]);
}

/// A stand-in server in Python, run as a non-root uid: binds `path`, answers the first bytes of
/// each connection like the real server would (Welcome, then a canary), and records every byte
/// it receives in `record` and every connection in `record.accepts`.
const FAKE: &str = r#"
import json, os, socket, struct, sys, time
path, record, kind = sys.argv[1], sys.argv[2], sys.argv[3]
def frame(doc):
    body = json.dumps(doc).encode()
    return struct.pack(">I", len(body)) + body
if kind == "helper":
    answers = [{"type": "welcome", "protocol_version": 1, "helper_version": "0.1.0"},
               {"type": "state", "state": "connecting", "profile": "corp", "phase": "START"}]
else:
    document = json.dumps({"Version": 1, "AccessKeyId": "ASIAFAKECANARY", "SecretAccessKey": "canary",
                           "SessionToken": "canary", "Expiration": "2099-01-01T00:00:00Z"})
    answers = [{"type": "welcome", "protocol_version": 1, "agent_version": "0.1.0"},
               {"type": "credentials", "document": document}]
os.makedirs(os.path.dirname(path), exist_ok=True)
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(16)
server.settimeout(0.2)
open(record + ".ready", "w").close()
end = time.time() + 120
while time.time() < end:
    try:
        conn, _ = server.accept()
    except socket.timeout:
        continue
    with open(record + ".accepts", "a") as f:
        f.write("accept\n")
    conn.settimeout(5)
    turn = 0
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            with open(record, "ab") as f:
                f.write(data)
            conn.sendall(frame(answers[min(turn, 1)]))
            turn += 1
    except OSError:
        pass
    conn.close()
"#;

struct Fake {
    _process: Spawned,
    socket: PathBuf,
    record: PathBuf,
}

impl Fake {
    /// Starts a stand-in `kind` ("helper" or "agent") as `uid`, listening at `socket` (in
    /// `dir`, which it owns).
    fn start(kind: &str, uid: u32, dir: &Path, socket: PathBuf) -> Self {
        let record = dir.join(format!("{kind}.record"));
        let child = lab::as_user(uid, uid, PYTHON)
            .arg("-c")
            .arg(FAKE)
            .arg(&socket)
            .arg(&record)
            .arg(kind)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the stand-in");
        let ready = record.with_extension("record.ready");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(ready.exists(), "the stand-in {kind} did not start");
        Self {
            _process: Spawned(child),
            socket,
            record,
        }
    }

    /// (connections it accepted, bytes it received).
    fn seen(&self) -> (usize, usize) {
        let accepts = std::fs::read_to_string(self.record.with_extension("record.accepts"))
            .map(|a| a.lines().count())
            .unwrap_or(0);
        let bytes = std::fs::read(&self.record).map(|b| b.len()).unwrap_or(0);
        (accepts, bytes)
    }

    /// Moves the socket into `dir`; the same process keeps listening behind it.
    fn move_into(&mut self, dir: &Path) {
        let moved = dir.join(self.socket.file_name().expect("socket name"));
        std::fs::rename(&self.socket, &moved).expect("move the socket");
        self.socket = moved;
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A directory `uid` owns (0700) inside `parent`.
fn dir_of(parent: &Path, name: &str, uid: u32) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).expect("mkdir");
    std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).expect("chown");
    chmod(&dir, 0o700);
    dir
}

/// Waits (bounded) until the stand-in has counted `n` connections.
fn accepted(fake: &Fake, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.seen().0 < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(fake.seen().0 >= n, "the client never reached the stand-in");
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
// Valid base64, so that the profile is accepted and re-encoded as it is.
const KEY_CANARY: &str = "MIIEkeycanaryABC";

#[test]
fn a_fake_helper_and_a_fake_agent_on_a_redirected_path_get_not_one_byte() {
    lab::require_root("the stand-ins run as another uid");
    let user = User::with_policy("");
    let profile = user.home.path().join("corp.ovpn");
    std::fs::write(
        &profile,
        format!(
            "client\ndev tun\nremote vpn.example.com 443\n<ca>\n{PEM}\n</ca>\n<cert>\n{PEM}\n</cert>\n<key>\n-----BEGIN PRIVATE KEY-----\n{KEY_CANARY}\n-----END PRIVATE KEY-----\n</key>\n"
        ),
    )
    .unwrap();
    Run::from(user.postern().args(["vpn", "import"]).arg(&profile)).assert_ok();

    let outer = tempfile::tempdir().unwrap();
    chmod(outer.path(), 0o711);
    let theirs = dir_of(outer.path(), "theirs", STRANGER_UID);
    let roots = outer.path().join("roots");
    std::fs::create_dir(&roots).unwrap();
    chmod(&roots, 0o700);

    // A stand-in helper where POSTERN_HELPER_SOCKET points: its directory is not root's.
    let mut helper = Fake::start("helper", STRANGER_UID, &theirs, theirs.join("helper.sock"));
    let connect = |socket: &Path| {
        Run::from(user.postern().env("POSTERN_HELPER_SOCKET", socket).args([
            "vpn",
            "connect",
            "corp",
            "--no-browser",
        ]))
    };
    let run = connect(&helper.socket);
    run.assert_fails(HELPER_UNAVAILABLE, "which belongs to uid 65534, not root");
    run.assert_fails(HELPER_UNAVAILABLE, "Unset POSTERN_HELPER_SOCKET");
    accepted(&helper, 1);
    // Moved into a directory of root's, the same stand-in is refused by the kernel's word.
    helper.move_into(&roots);
    let run = connect(&helper.socket);
    run.assert_fails(HELPER_UNAVAILABLE, "runs as uid 65534, not root");
    accepted(&helper, 2);
    assert_eq!(helper.seen().1, 0, "the stand-in helper received bytes");

    // A stand-in agent where XDG_RUNTIME_DIR points.
    let mut agent = Fake::start(
        "agent",
        STRANGER_UID,
        &theirs,
        theirs.join("postern/agent.sock"),
    );
    let credentials = |env: (&str, &Path)| {
        Run::from(
            user.postern()
                .env_remove("POSTERN_AGENT_SOCKET")
                .env(env.0, env.1)
                .args([
                    "credentials",
                    "--account",
                    "111122223333",
                    "--role",
                    "Developer",
                ]),
        )
    };
    let run = credentials(("XDG_RUNTIME_DIR", &theirs));
    run.assert_fails(AGENT_UNAVAILABLE, "which belongs to uid 65534, not root");
    run.assert_fails(AGENT_UNAVAILABLE, "Unset POSTERN_AGENT_SOCKET");
    assert!(!run.stdout().contains("CANARY"), "{}", run.stdout());
    accepted(&agent, 1);
    agent.move_into(&roots);
    let run = credentials(("POSTERN_AGENT_SOCKET", &agent.socket));
    run.assert_fails(AGENT_UNAVAILABLE, "runs as uid 65534, not root");
    assert!(!run.stdout().contains("CANARY"), "{}", run.stdout());
    accepted(&agent, 2);
    assert_eq!(agent.seen().1, 0, "the stand-in agent received bytes");
}

/// Opens `n` connections as one uid, each declaring a 1 MiB frame; even ones then trickle a
/// byte a second, odd ones stop. Prints "ready", then a JSON summary once every connection
/// was closed by the helper (or after `seconds`).
const SLOW: &str = r#"
import json, select, socket, struct, sys, time
path, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    try:
        s.sendall(struct.pack(">I", 1 << 20))
    except OSError:
        pass  # refused past the cap and closed at once: its reply is still to be read
    s.setblocking(False)
    conns.append(s)
print("ready", flush=True)
got = [b""] * n
closed = set()
end = time.time() + seconds
drip = time.time() + 1
while time.time() < end and len(closed) < n:
    live = [c for i, c in enumerate(conns) if i not in closed]
    readable, _, _ = select.select(live, [], [], 0.2)
    for c in readable:
        i = conns.index(c)
        try:
            data = c.recv(4096)
        except OSError:
            data = b""
        if data:
            got[i] += data
        else:
            closed.add(i)
    if time.time() >= drip:
        drip += 1
        for i, c in enumerate(conns):
            if i % 2 == 0 and i not in closed:
                try:
                    c.send(b" ")
                except OSError:
                    pass  # closed by the helper: its reply is still to be read
refused = sum(1 for g in got if b"too-many-connections" in g)
print(json.dumps({"refused_too_many": refused, "closed_by_helper": len(closed)}), flush=True)
"#;

/// How long a Status takes from a fresh connection.
fn timed_status(socket: &Path) -> Duration {
    let started = Instant::now();
    let state = runtime().block_on(async {
        let mut c = HelperClient::connect(socket, "test").await.expect("helper");
        c.status().await.expect("status")
    });
    assert_eq!(state, TunnelState::Disconnected);
    started.elapsed()
}

#[test]
fn three_hundred_slow_connections_leave_the_helper_small_and_serving() {
    const SLOW_CONNECTIONS: usize = 300;
    let _turn = lab::take_turn();
    let helper = Helper::start(&["--allow-uid", &STRANGER_UID.to_string()]);
    helper.open_to_others(0o666);
    let socket = helper.socket();
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", helper.pid())).unwrap();
    assert_eq!(comm.trim(), "postern-helper", "measuring the wrong process");
    let normal = timed_status(&socket);
    let before = lab::rss_kib(helper.pid());

    let mut slow = lab::as_user(STRANGER_UID, STRANGER_UID, PYTHON)
        .arg("-c")
        .arg(SLOW)
        .arg(&socket)
        .arg(SLOW_CONNECTIONS.to_string())
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the slow clients");
    let mut lines = BufReader::new(slow.stdout.take().expect("stdout")).lines();
    let slow = Spawned(slow);
    let ready = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(ready, "ready", "the slow clients did not connect");
    std::thread::sleep(Duration::from_secs(1));
    let during = timed_status(&socket);
    let under_attack = lab::rss_kib(helper.pid());
    println!(
        "helper VmRSS: {before} KiB before, {under_attack} KiB with {SLOW_CONNECTIONS} slow connections \
         ({} KiB more); Status took {normal:?} before, {during:?} during",
        under_attack.saturating_sub(before)
    );
    assert!(
        under_attack.saturating_sub(before) < 64 * 1024,
        "the helper grew by {} KiB",
        under_attack.saturating_sub(before)
    );
    assert!(
        during < Duration::from_secs(5),
        "Status took {during:?} under slow connections"
    );

    let summary: serde_json::Value = lines
        .next()
        .and_then(Result::ok)
        .map(|l| serde_json::from_str(&l).expect("summary"))
        .expect("the slow clients' summary");
    drop(slow);
    println!("slow clients: {summary}");
    let refused = summary["refused_too_many"].as_u64().unwrap() as usize;
    let closed = summary["closed_by_helper"].as_u64().unwrap() as usize;
    assert!(
        refused >= SLOW_CONNECTIONS - CONNECTIONS_PER_UID,
        "only {refused} connections were refused for the per-uid limit"
    );
    assert_eq!(
        closed, SLOW_CONNECTIONS,
        "the helper still held connections past the Hello deadline"
    );
    // And it still serves as it did.
    assert!(timed_status(&socket) < Duration::from_secs(5));
}

#[test]
fn a_supplementary_group_admits_and_no_group_refuses_as_the_kernel_recorded_them() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&["--group", GROUP]);
    // Anyone may reach the socket: the helper's own check decides, not the socket's mode.
    helper.open_to_others(0o666);
    let socket = helper.socket();
    // uid 65530 has no account, so the group database knows nothing of it: only the groups the
    // kernel recorded for the connection (SO_PEERGROUPS) can speak for it.
    const NO_ACCOUNT: u32 = 65530;
    let mut member = std::process::Command::new("setpriv");
    member
        .arg(format!("--reuid={NO_ACCOUNT}"))
        .arg(format!("--regid={NO_ACCOUNT}"))
        .arg(format!("--groups={GID}"))
        .arg(PYTHON);
    let welcome = hello_answer(member, &socket);
    assert!(matches!(welcome, Reply::Welcome { .. }), "{welcome:?}");
    let refused = hello_answer(lab::as_user(NO_ACCOUNT, NO_ACCOUNT, PYTHON), &socket);
    assert_eq!(
        refused,
        Reply::Refused(HelperError::NotAllowed {
            group: GROUP.into()
        })
    );
}
