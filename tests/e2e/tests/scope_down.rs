//! Scope-down through a real STS implementation (moto's server, from PyPI): the portal's role
//! credentials assume the rule's role with the deny-outside-the-NAT session policy. moto does
//! not evaluate `aws:SourceIp`; the lab's STS endpoint does that part (see connect.rs).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postern_core::credentials::scope_down;
use postern_core::identity::{RoleCredentials, SecretText};
use time::OffsetDateTime;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> (Moto, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (pip install 'moto[server]')");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Moto(child), port)
}

#[test]
fn the_scoped_role_is_assumed_with_the_session_policy_and_the_rules_lifetime() {
    let (_moto, port) = moto();
    let endpoint = format!("http://127.0.0.1:{port}");
    // SAFETY: this test binary has one test; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_STS", &endpoint) };
    let portal = RoleCredentials {
        access_key_id: "ASIAPORTALEXAMPLE000".into(),
        secret_access_key: SecretText::new("portal-secret"),
        session_token: SecretText::new("portal-token"),
        expiration: OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scoped = rt
        .block_on(scope_down::assume(
            &portal,
            "111122223333",
            "Developer",
            "arn:aws:iam::111122223333:role/PosternScoped",
            "eu-west-1",
            &["203.0.113.10/32".parse().unwrap()],
            Duration::from_secs(1800),
        ))
        .expect("AssumeRole through moto");
    assert_ne!(scoped.access_key_id, portal.access_key_id);
    let life = scoped.expiration - OffsetDateTime::now_utc();
    assert!(
        life <= time::Duration::seconds(1800) && life > time::Duration::seconds(1700),
        "{life}"
    );

    // Who moto says the new credentials are: the scoped role, with Postern's session name.
    let who = Command::new("aws")
        .args(["sts", "get-caller-identity", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", &scoped.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", scoped.secret_access_key.expose())
        .env("AWS_SESSION_TOKEN", scoped.session_token.expose())
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL_STS", &endpoint)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&who.stdout);
    assert!(
        out.contains("assumed-role/PosternScoped/postern-Developer"),
        "{out}{}",
        String::from_utf8_lossy(&who.stderr)
    );
}
