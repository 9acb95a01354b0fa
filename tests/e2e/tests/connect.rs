//! Connect, the product, end to end in the network lab: the real agent (in the laptop's
//! namespace), the real helper and OpenVPN, the Identity Center emulator acting as AWS in the
//! "internet" (with STS enforcing the deny-unless-NAT policy on the source address), the
//! session's gnome-keyring, and the real AWS CLI using `credential_process`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postern_e2e::lab::{self, ACCOUNT, AWS, Helper, ROLE, Spawned};
use postern_e2e::{Run, User, bin, copy_env};

/// What the profiles `postern aws-config install` writes run, in the environment of `postern`.
fn credential_process(postern: &Command) -> Run {
    let mut c = Command::new(bin("postern-credentials"));
    copy_env(postern, &mut c);
    Run::from(c.args(["--account", ACCOUNT, "--role", ROLE]))
}

struct Setup {
    user: User,
    helper: Helper,
    _aws: Spawned,
    _agent: Spawned,
}

impl Setup {
    fn new() -> Self {
        let aws = lab::aws();
        let user = lab::connect_user();
        let helper = Helper::start(&[]);
        let mut agent = Command::new("ip");
        agent
            .args(["netns", "exec", "pl-laptop"])
            .arg(bin("postern"))
            .args(["agent", "--no-browser"]);
        copy_env(&user.postern(), &mut agent);
        let agent = agent
            .env("POSTERN_HELPER_SOCKET", helper.socket())
            .env(
                "POSTERN_AGENT_SOCKET",
                user.home.path().join("agent/agent.sock"),
            )
            .env("AWS_ENDPOINT_URL_SSO_OIDC", AWS)
            .env("AWS_ENDPOINT_URL_SSO", AWS)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let socket = user.home.path().join("agent/agent.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(socket.exists(), "the agent did not start");
        Self {
            user,
            helper,
            _aws: aws,
            _agent: Spawned(agent),
        }
    }

    fn postern(&self) -> Command {
        let mut c = self.user.postern();
        c.env(
            "POSTERN_AGENT_SOCKET",
            self.user.home.path().join("agent/agent.sock"),
        )
        .env("POSTERN_HELPER_SOCKET", self.helper.socket());
        c
    }

    /// `postern connect`, approving the device code at the lab's Identity Center.
    fn connect(&self) -> (i32, String) {
        self.connect_with("corp")
    }

    /// `postern connect PROFILE`, approving the device code and, for a SAML profile, signing in
    /// to the VPN as the person would: the link the CLI shows, opened in the laptop's browser.
    fn connect_with(&self, profile: &str) -> (i32, String) {
        let mut child = self
            .postern()
            .args(["connect", profile, "--account", ACCOUNT, "--role", ROLE])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = Vec::new();
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(code) = line.strip_prefix("Code: ") {
                lab::approve_device_code(code);
            }
            if let Some(url) = line.strip_prefix("Open: ")
                && url.contains("/idp?state=")
            {
                lab::open_in_laptop_browser(url);
            }
            seen.push(line);
        }
        let status = child.wait().unwrap();
        (status.code().unwrap_or(-1), seen.join("\n"))
    }

    fn credentials(&self) -> Run {
        Run::from(
            self.postern()
                .args(["credentials", "--account", ACCOUNT, "--role", ROLE]),
        )
    }

    fn credential_process(&self) -> Run {
        credential_process(&self.postern())
    }

    /// A command in the laptop's namespace (where the agent's 127.0.0.1 is), with the user's
    /// environment and the lab's STS.
    fn in_laptop(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", "pl-laptop", program]);
        copy_env(&self.postern(), &mut c);
        c.env("AWS_ENDPOINT_URL_STS", AWS)
            .env("AWS_DEFAULT_REGION", "eu-west-1");
        c
    }

    /// The AWS CLI in the laptop namespace, with the profile `postern aws-config install` wrote.
    fn aws_cli(&self, extra_env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut c = self.in_laptop("aws");
        c.args(["sts", "get-caller-identity", "--output", "json"])
            .args(args);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        Run::from(&mut c)
    }
}

#[test]
fn connect_vends_credentials_that_work_only_through_the_nat_and_are_withdrawn_when_the_vpn_drops() {
    let _turn = lab::take_turn();
    let setup = Setup::new();
    let (code, out) = setup.connect();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Verifying that traffic leaves through the company network"),
        "{out}"
    );
    assert!(out.contains("Protected: 111122223333 / Developer"), "{out}");

    // credential_process JSON from the agent.
    let creds = setup.credentials();
    creds.assert_ok();
    let doc = creds.json();
    assert_eq!(doc["Version"], 1);
    assert!(doc["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(doc["Expiration"].as_str().unwrap().ends_with('Z'));

    // The AWS CLI through the installed profile: through the VPN, from the NAT's address. The
    // profile runs the small credential_process program, which answers as the CLI does.
    Run::from(setup.postern().args(["aws-config", "install"])).assert_ok();
    let profile = format!("postern-{ACCOUNT}-{ROLE}");
    let config = std::fs::read_to_string(setup.user.home.path().join(".aws/config")).unwrap();
    assert!(
        config.contains(&format!(
            "credential_process = {} --account {ACCOUNT} --role {ROLE}\n",
            bin("postern-credentials").display()
        )),
        "{config}"
    );
    let served = setup.credential_process();
    served.assert_ok();
    assert_eq!(served.json()["Version"], 1);
    let identity = setup.aws_cli(&[], &["--profile", &profile]);
    identity.assert_ok();
    assert!(
        identity
            .stdout()
            .contains("assumed-role/AWSReservedSSO_Developer"),
        "{}",
        identity.stdout()
    );

    // Kill the VPN server: the gate closes within 5 seconds.
    lab::lab(&["server", "stop"]);
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(20);
    while setup.credentials().code() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed_after = killed.elapsed();
    assert!(
        closed_after <= Duration::from_secs(5),
        "the gate took {closed_after:?} to close"
    );
    let refused = setup.credentials();
    assert_eq!(refused.code(), 9, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("The VPN dropped"),
        "{}",
        refused.stderr()
    );
    setup
        .credential_process()
        .assert_fails(9, "The VPN dropped");
    // The AWS CLI shows Postern's reason.
    let cli = setup.aws_cli(&[], &["--profile", &profile]);
    assert_ne!(cli.code(), 0);
    assert!(
        cli.stderr().contains("The VPN dropped")
            || cli.stderr().contains("VPN connection was lost"),
        "{}",
        cli.stderr()
    );

    // The same credentials used directly from the laptop's own address are denied by AWS.
    let direct = setup.aws_cli(
        &[
            ("AWS_ACCESS_KEY_ID", doc["AccessKeyId"].as_str().unwrap()),
            (
                "AWS_SECRET_ACCESS_KEY",
                doc["SecretAccessKey"].as_str().unwrap(),
            ),
            ("AWS_SESSION_TOKEN", doc["SessionToken"].as_str().unwrap()),
            ("AWS_CONFIG_FILE", "/dev/null"),
        ],
        &[],
    );
    assert_ne!(direct.code(), 0);
    assert!(
        direct.stderr().contains("explicit deny"),
        "{}",
        direct.stderr()
    );
}

#[test]
fn a_saml_profile_reaches_ready_through_the_agent() {
    let _turn = lab::take_turn();
    let setup = Setup::new();
    lab::import_saml_profile(&setup.user, "corp-saml");
    let (code, out) = setup.connect_with("corp-saml");
    assert_eq!(code, 0, "{out}");
    // The agent listened on 127.0.0.1:35001, showed the endpoint's checked sign-in page, sent
    // the browser's answer to the helper, and the session went on to the NAT and credentials.
    assert!(out.contains("Sign in to the VPN in your browser"), "{out}");
    assert!(out.contains("Open: http://192.0.2.80/idp?state="), "{out}");
    assert!(out.contains("Protected: 111122223333 / Developer"), "{out}");
    let status = Run::from(setup.postern().args(["vpn", "status", "--json"])).json();
    assert_eq!(status["state"], "connected", "{status}");
    assert_eq!(status["profile"], "corp-saml", "{status}");
    setup.credentials().assert_ok();
    Run::from(setup.postern().arg("disconnect")).assert_ok();
}

#[test]
fn without_the_nat_credentials_are_never_vended() {
    let _turn = lab::take_turn();
    lab::lab(&["nat", "off"]);
    let setup = Setup::new();
    let (code, out) = setup.connect();
    assert!(matches!(code, 13 | 14), "exit {code}: {out}");
    assert!(out.contains("AWS credentials are withheld"), "{out}");
    let refused = setup.credentials();
    assert!(matches!(refused.code(), 13 | 14), "{}", refused.stderr());
    let stats = Command::new("ip")
        .args([
            "netns",
            "exec",
            "pl-inet",
            "curl",
            "-sS",
            &format!("{AWS}/_emulator/stats"),
        ])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(
        stats["get_role_credentials"], 0,
        "no credentials were ever fetched"
    );
}

#[test]
fn no_agent_a_stale_socket_a_second_agent_and_a_forbidden_role_are_explained() {
    let user = User::with_policy(&format!(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n[[access]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\nrequire = [\"vpn\"]\n"
    ));
    let socket = user.home.path().join("agent/agent.sock");
    let postern = || {
        let mut c = user.postern();
        c.env("POSTERN_AGENT_SOCKET", &socket);
        c
    };
    // No agent: credential_process fails at once with the reason, never waits or prompts.
    for run in [
        Run::from(postern().args(["credentials", "--account", ACCOUNT, "--role", ROLE])),
        credential_process(&postern()),
    ] {
        run.assert_fails(16, "The Postern agent is not running");
        run.assert_fails(16, "Start the Postern app");
    }

    // A stale socket from a dead agent is replaced; a live agent refuses a second one.
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists(), "stale socket in place");
    let agent = postern()
        .args(["agent", "--no-browser"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = Spawned(agent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Run::from(postern().arg("status")).code() != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Run::from(postern().arg("status")).assert_ok();
    // The JSON document also says the app's settings and where each came from.
    let status = Run::from(postern().args(["status", "--json"])).json();
    assert_eq!(status["state"]["state"], "idle", "{status}");
    assert_eq!(
        status["settings"]["startAtLogin"]["value"], false,
        "{status}"
    );
    assert_eq!(
        status["settings"]["startAtLogin"]["origin"], "default",
        "{status}"
    );
    assert_eq!(
        status["settings"]["connectOnStart"]["locked"], false,
        "{status}"
    );
    let second = Run::from(postern().args(["agent", "--no-browser"]));
    second.assert_fails(16, "another Postern agent is already running");

    // Idle: credentials are refused with "not connected".
    Run::from(postern().args(["credentials", "--account", ACCOUNT, "--role", ROLE]))
        .assert_fails(15, "Not connected");
    credential_process(&postern()).assert_fails(15, "Not connected");
    // A role the policy does not list is refused before anything starts.
    Run::from(postern().args(["connect", "--account", ACCOUNT, "--role", "Admin"])).assert_fails(
        17,
        "does not allow credentials for account 111122223333 role Admin",
    );
    Run::from(postern().args(["connect", "--account", "999999999999", "--role", ROLE]))
        .assert_fails(17, "does not allow");
}

#[test]
fn a_bundle_from_a_lab_run_holds_every_part_and_no_credential() {
    let _turn = lab::take_turn();
    let setup = Setup::new();
    let (code, out) = setup.connect();
    assert_eq!(code, 0, "{out}");
    let vended = setup.credentials().json();
    // Fail: the server goes away; then reconnect once it is back.
    lab::lab(&["server", "stop"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while setup.credentials().code() != 9 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    lab::lab(&["server", "start"]);
    let (code, out) = setup.connect();
    assert_eq!(code, 0, "reconnect: {out}");

    // Exported from the laptop, where the egress check and the network summary mean something.
    let bundle = setup.user.home.path().join("bundle.zip");
    let mut export = Command::new("ip");
    export
        .args(["netns", "exec", "pl-laptop"])
        .arg(bin("postern"))
        .args(["diagnostics", "export", "-o"])
        .arg(&bundle);
    copy_env(&setup.postern(), &mut export);
    Run::from(&mut export).assert_ok();
    let into = setup.user.home.path().join("unzipped");
    let files = postern_core::diagnostics::unpack_with_unzip(&bundle, &into);
    let read = |name: &str| {
        files
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the bundle"))
            .clone()
    };
    let session: serde_json::Value = serde_json::from_str(&read("session.json")).unwrap();
    let states: Vec<&str> = session["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"]["state"].as_str().unwrap())
        .collect();
    let ready = states.iter().filter(|s| **s == "ready").count();
    assert!(
        ready >= 2,
        "connected, failed and connected again: {states:?}"
    );
    assert!(
        states.contains(&"blocked") || states.contains(&"degraded"),
        "{states:?}"
    );
    assert_eq!(session["current"]["state"]["state"], "ready");
    let vpn: serde_json::Value = serde_json::from_str(&read("vpn/state.json")).unwrap();
    let tunnel: Vec<&str> = vpn["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"]["state"].as_str().unwrap())
        .collect();
    assert!(
        tunnel.iter().filter(|s| **s == "connected").count() >= 2,
        "{tunnel:?}"
    );
    assert!(read("vpn/openvpn.log").contains("Initialization Sequence Completed"));
    assert!(read("logs/agent.log").contains("session transition"));
    let egress: serde_json::Value = serde_json::from_str(&read("egress.json")).unwrap();
    assert_eq!(egress["verdict"]["verdict"], "match", "{egress}");
    assert!(read("posture.json").contains("kernel"));
    assert!(
        read("network.txt").contains("tun"),
        "the tunnel's interface is listed"
    );
    // The vended credentials appear nowhere, in no form.
    for (name, secret) in [
        ("AccessKeyId", vended["AccessKeyId"].as_str().unwrap()),
        (
            "SecretAccessKey",
            vended["SecretAccessKey"].as_str().unwrap(),
        ),
        ("SessionToken", vended["SessionToken"].as_str().unwrap()),
    ] {
        let found = Command::new("grep")
            .args(["-rlF", secret])
            .arg(&into)
            .output()
            .unwrap();
        assert!(
            found.stdout.is_empty(),
            "{name} found in {}",
            String::from_utf8_lossy(&found.stdout)
        );
    }
}

/// A command in the laptop's namespace that reads no AWS config file.
fn in_laptop(setup: &Setup, program: &str) -> Command {
    let mut c = setup.in_laptop(program);
    c.env("AWS_CONFIG_FILE", "/dev/null");
    c
}

fn postern_in_laptop(setup: &Setup) -> Command {
    let mut c = in_laptop(setup, bin("postern").to_str().unwrap());
    // What exec clears: a profile and another source of credentials.
    c.env("AWS_PROFILE", "someone-elses")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x");
    c
}

/// `curl` against the local endpoint, from the laptop: the HTTP status and the body.
fn endpoint_get(setup: &Setup, url: &str, token: &str) -> (String, String) {
    let out = Run::from(in_laptop(setup, "curl").args([
        "-sS",
        "-m",
        "5",
        "-H",
        &format!("Authorization: {token}"),
        "-w",
        "\n%{http_code}",
        url,
    ]));
    let text = out.stdout();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_string(), body.to_string())
}

#[test]
fn exec_env_the_endpoint_and_the_console_serve_the_role_only_while_the_gate_is_open() {
    use std::os::unix::process::ExitStatusExt;
    let _turn = lab::take_turn();
    let setup = Setup::new();
    let (code, out) = setup.connect();
    assert_eq!(code, 0, "{out}");
    let assumed = "assumed-role/AWSReservedSSO_Developer";

    // exec: the AWS CLI with the role's keys (the profile and the container URI in the
    // environment are cleared), the command's own exit code and signal passed on.
    let identity = Run::from(postern_in_laptop(&setup).args([
        "exec",
        "--",
        "aws",
        "sts",
        "get-caller-identity",
        "--output",
        "json",
    ]));
    identity.assert_ok();
    assert!(identity.stdout().contains(assumed), "{}", identity.stdout());
    let env = Run::from(postern_in_laptop(&setup).args(["exec", "--", "env"]));
    assert!(
        env.stdout().contains("AWS_CREDENTIAL_EXPIRATION="),
        "{}",
        env.stdout()
    );
    assert!(!env.stdout().contains("AWS_PROFILE="), "{}", env.stdout());
    assert_eq!(
        Run::from(postern_in_laptop(&setup).args(["exec", "--", "sh", "-c", "exit 7"])).code(),
        7
    );
    let killed = postern_in_laptop(&setup)
        .args(["exec", "--", "sh", "-c", "kill -TERM $$"])
        .status()
        .unwrap();
    assert_eq!(killed.signal(), Some(15), "{killed:?}");
    Run::from(postern_in_laptop(&setup).args(["exec", "--", "no-such-command-here"]))
        .assert_fails(127, "was not found");

    // env: the lines a shell evaluates, then the AWS CLI with them.
    let lines = Run::from(postern_in_laptop(&setup).args(["env", "--shell", "bash"]));
    lines.assert_ok();
    assert!(
        lines.stdout().contains("export AWS_ACCESS_KEY_ID='ASIA"),
        "{}",
        lines.stdout()
    );
    assert!(
        lines.stdout().contains("unset AWS_PROFILE"),
        "{}",
        lines.stdout()
    );
    let evaluated = Run::from(in_laptop(&setup, "bash").args([
        "-c",
        &format!(
            "eval \"$({} env --shell bash)\" && aws sts get-caller-identity --output json",
            bin("postern").display()
        ),
    ]));
    evaluated.assert_ok();
    assert!(evaluated.stdout().contains(assumed));

    // The console: the sign-in URL, refused from outside the NAT, followed by Chromium on the
    // laptop (through the VPN and the NAT) to the console page.
    let console = Run::from(
        postern_in_laptop(&setup)
            .env("AWS_ENDPOINT_URL_SIGNIN", AWS)
            .args(["console", "--print"]),
    );
    console.assert_ok();
    let url = console.stdout().trim().to_string();
    assert!(
        url.starts_with(&format!("{AWS}/federation?Action=login")),
        "{url}"
    );
    let outside = Command::new("ip")
        .args([
            "netns",
            "exec",
            "pl-inet",
            "curl",
            "-sS",
            "-w",
            "\n%{http_code}",
            &url,
        ])
        .output()
        .unwrap();
    let outside = String::from_utf8_lossy(&outside.stdout).into_owned();
    assert!(
        outside.ends_with("403") && outside.contains("explicit deny"),
        "{outside}"
    );
    let profile_dir = setup.user.home.path().join("chromium");
    let page = Command::new("ip")
        .args([
            "netns",
            "exec",
            "pl-laptop",
            "chromium",
            "--headless",
            "--no-sandbox",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&page.stdout).into_owned();
    assert!(page.contains("AWS Management Console"), "{page}");
    assert!(
        page.contains(assumed) && page.contains("from 203.0.113.10"),
        "{page}"
    );

    // The local endpoint, for a long-running command: botocore's container provider (the AWS
    // CLI) is served, a wrong token is not, and the VPN's drop closes it within 5 seconds.
    let served = Run::from(postern_in_laptop(&setup).args([
        "exec",
        "--endpoint",
        "--",
        "sh",
        "-c",
        "test -z \"$AWS_ACCESS_KEY_ID\" && aws sts get-caller-identity --output json",
    ]));
    served.assert_ok();
    assert!(served.stdout().contains(assumed), "{}", served.stdout());
    let mut long = postern_in_laptop(&setup)
        .args([
            "exec", "--endpoint", "--", "sh", "-c",
            "echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI $AWS_CONTAINER_AUTHORIZATION_TOKEN\"; exec sleep 30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(long.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let long = Spawned(long);
    let (url, token) = first
        .trim()
        .split_once(' ')
        .expect("the endpoint and its token");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (status, body) = endpoint_get(&setup, url, token);
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("\"AccessKeyId\":\"ASIA"), "{body}");
    let (status, _) = endpoint_get(&setup, url, &"0".repeat(64));
    assert_eq!(status, "403");

    lab::lab(&["server", "stop"]);
    let stopped = Instant::now();
    let deadline = stopped + Duration::from_secs(20);
    while endpoint_get(&setup, url, token).0 == "200" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed_after = stopped.elapsed();
    assert!(
        closed_after <= Duration::from_secs(5),
        "the endpoint closed after {closed_after:?}"
    );
    let (status, body) = endpoint_get(&setup, url, token);
    assert_eq!(status, "503", "{body}");
    assert!(body.contains("The VPN dropped"), "{body}");
    let cli = Run::from(
        in_laptop(&setup, "aws")
            .args(["sts", "get-caller-identity"])
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token),
    );
    assert_ne!(cli.code(), 0);
    assert!(cli.stderr().contains("The VPN dropped"), "{}", cli.stderr());
    drop(long);
    // The holder is gone: its token is no longer known.
    let deadline = Instant::now() + Duration::from_secs(5);
    while endpoint_get(&setup, url, token).0 != "403" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(endpoint_get(&setup, url, token).0, "403");

    // With the gate closed nothing is started, and nothing printed for a shell.
    let marker = setup.user.home.path().join("ran");
    let refused = Run::from(
        postern_in_laptop(&setup)
            .args(["exec", "--", "touch"])
            .arg(&marker),
    );
    refused.assert_fails(9, "The VPN dropped");
    assert!(!marker.exists(), "the command was started");
    let refused = Run::from(
        postern_in_laptop(&setup)
            .args(["exec", "--endpoint", "--", "touch"])
            .arg(&marker),
    );
    refused.assert_fails(9, "The VPN dropped");
    assert!(!marker.exists(), "the command was started with an endpoint");
    let refused = Run::from(postern_in_laptop(&setup).args(["env"]));
    assert_eq!(refused.code(), 9);
    assert!(refused.stdout().is_empty(), "{}", refused.stdout());
    lab::lab(&["server", "start"]);
}
