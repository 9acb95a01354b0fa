//! `cargo bench -p postern-core --bench checks`: posture and egress timings, each against a
//! reference measured in the same run.
//!
//! - Posture: a realistic Linux requirement set (kernel, LUKS via lsblk, firewall via systemctl,
//!   two required agents, one forbidden process) against the same tools run one after another
//!   by /bin/sh (what a shell-script posture check does). Target ≤ 100 ms.
//! - Egress: three echo endpoints on loopback that each answer after 20 ms (a simulated RTT),
//!   against one plain HTTP request to one of them. Target ≤ 1 RTT + 50 ms.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use postern_core::egress::{self, EgressSettings};
use postern_core::posture::{self, Requirements, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RUNS: usize = 25;
const RTT: Duration = Duration::from_millis(20);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                tokio::time::sleep(RTT).await;
                let body = "203.0.113.10\n";
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            });
        }
    });
    port
}

fn bench_posture() {
    let req = Requirements {
        min_os_version: Version::parse("5.15"),
        require_disk_encryption: true,
        require_firewall: true,
        required_processes: vec!["falcon-sensor".into(), "systemd".into()],
        forbidden_processes: vec!["nc".into()],
        ..Requirements::default()
    };
    let _ = posture::check(&req);
    let ours: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let _ = posture::check(&req);
            t.elapsed()
        })
        .collect();
    let script = "uname -r >/dev/null; lsblk -J -o NAME,TYPE,FSTYPE,MOUNTPOINTS >/dev/null; \
                  systemctl is-active ufw firewalld nftables >/dev/null; ps -eo comm >/dev/null";
    let shell: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let _ = std::process::Command::new("/bin/sh")
                .args(["-c", script])
                .output();
            t.elapsed()
        })
        .collect();
    let (ours, shell) = (median(ours), median(shell));
    println!(
        "posture: full evaluation median {:.1} ms (target <= 100 ms); the same tools run by /bin/sh median {:.1} ms; ratio {:.2}x",
        ms(ours),
        ms(shell),
        ms(ours) / ms(shell)
    );
}

async fn bench_egress() {
    let ports = [
        echo_server().await,
        echo_server().await,
        echo_server().await,
    ];
    let settings = EgressSettings {
        echo_urls: ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}/").parse().unwrap())
            .collect(),
        quorum: 3,
        nat_addresses: vec!["203.0.113.10/32".parse().unwrap()],
        allowed_countries: vec![],
        geoip_database: None,
        allow_plain_http: true,
        timeout: Duration::from_secs(3),
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = settings.echo_urls[0].clone();
    let mut single = Vec::new();
    let mut full = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let _ = client.get(url.clone()).send().await.unwrap().text().await;
        single.push(t.elapsed());
        let t = Instant::now();
        let report = egress::check(&settings, None).await;
        full.push(t.elapsed());
        assert!(report.verdict.is_match(), "{:?}", report.verdict);
    }
    let (single, full) = (median(single), median(full));
    println!(
        "egress: 3 endpoints, each answering after {} ms: median {:.1} ms; one plain request (1 RTT) median {:.1} ms; overhead {:+.1} ms (target <= +50 ms), ratio {:.2}x",
        RTT.as_millis(),
        ms(full),
        ms(single),
        ms(full) - ms(single),
        ms(full) / ms(single)
    );
}

fn main() {
    bench_posture();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench_egress());
}
