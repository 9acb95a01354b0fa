//! Egress: does this device's traffic leave through the organization's NAT gateway, the one
//! address the IAM policy accepts? Several echo endpoints are asked for the public address;
//! those that answer must agree (and be at least the quorum); the address must fall in the
//! policy's NAT CIDRs; the country (an estimate from a GeoLite2-class database: AWS WAF decides)
//! must be allowed. "Could not tell" is never turned into a pass or a fail.

mod decide;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

pub use decide::{Undetermined, Verdict, decide};
#[cfg(any(test, feature = "test-support"))]
pub use postern_policy::country::write_test_database;
pub use postern_policy::country::{CountryDatabase, CountryError};
pub use postern_policy::egress::is_public;

use crate::problem::{ExitCode, Problem};

pub use postern_policy::egress::EgressSettings;

/// One echo endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "outcome",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum EchoAnswer {
    Address {
        address: IpAddr,
    },
    TimedOut,
    Unreachable {
        detail: String,
    },
    HttpStatus {
        status: u16,
    },
    /// The body was not an address (an HTML page from a captive portal, garbage…).
    NotAnAddress {
        snippet: String,
    },
    /// A private, loopback or link-local address: a proxy or broken echo, not the egress.
    NotPublic {
        address: IpAddr,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EchoResult {
    pub url: String,
    pub answer: EchoAnswer,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountryEstimate {
    pub country: Option<String>,
    /// When the database was built (RFC 3339).
    pub database_built: String,
    pub note: &'static str,
}

/// Everything `postern egress` shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EgressReport {
    pub verdict: Verdict,
    pub answers: Vec<EchoResult>,
    pub country: Option<CountryEstimate>,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

impl EgressReport {
    pub fn exit_code(&self) -> ExitCode {
        Problem::exit_code(&self.verdict)
    }
}

/// The verdict as a problem, for the doors that stop on anything but a match.
impl Problem for Verdict {
    fn exit_code(&self) -> ExitCode {
        match self {
            Verdict::Match { .. } => ExitCode::Ok,
            Verdict::Mismatch { .. } | Verdict::CountryNotAllowed { .. } => {
                ExitCode::EgressMismatch
            }
            Verdict::Undetermined { .. } => ExitCode::EgressUndetermined,
        }
    }

    fn next_step(&self) -> String {
        match self {
            Verdict::Match { .. } => String::new(),
            Verdict::Mismatch { .. } => {
                "Connect the company VPN (`postern connect`); if it is connected, tell your IT department: traffic does not leave through the company NAT.".into()
            }
            Verdict::CountryNotAllowed { .. } => {
                "Your traffic appears to leave from a country the policy does not allow; contact your IT department.".into()
            }
            Verdict::Undetermined { .. } => {
                "Check your connection (a captive portal or proxy can hide the address) and try again.".into()
            }
        }
    }
}

const MAX_BODY: usize = 256;

/// Asks one echo endpoint.
pub async fn ask(client: &reqwest::Client, url: &Url, timeout: Duration) -> EchoResult {
    let started = Instant::now();
    let answer = match tokio::time::timeout(timeout, fetch(client, url)).await {
        Ok(answer) => answer,
        Err(_) => EchoAnswer::TimedOut,
    };
    EchoResult {
        url: url.to_string(),
        answer,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

async fn fetch(client: &reqwest::Client, url: &Url) -> EchoAnswer {
    let mut response = match client.get(url.clone()).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return EchoAnswer::TimedOut,
        Err(e) => {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail = s.to_string();
                source = s.source();
            }
            return EchoAnswer::Unreachable { detail };
        }
    };
    if !response.status().is_success() {
        return EchoAnswer::HttpStatus {
            status: response.status().as_u16(),
        };
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            break;
        }
    }
    parse_echo_body(&body)
}

/// An echo answers with an address and maybe a newline; anything else is not an answer.
pub fn parse_echo_body(body: &[u8]) -> EchoAnswer {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]);
    let trimmed = text.trim();
    match trimmed.parse::<IpAddr>() {
        Ok(address) if is_public(address) => EchoAnswer::Address { address },
        Ok(address) => EchoAnswer::NotPublic { address },
        Err(_) => EchoAnswer::NotAnAddress {
            snippet: trimmed
                .chars()
                .take(60)
                .filter(|c| !c.is_control())
                .collect(),
        },
    }
}

/// Asks every echo at once and decides.
pub async fn check(settings: &EgressSettings, countries: Option<&CountryDatabase>) -> EgressReport {
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap_or_default();
    let answers = futures_util::future::join_all(
        settings
            .echo_urls
            .iter()
            .map(|u| ask(&client, u, settings.timeout)),
    )
    .await;
    let verdict = decide(settings, &answers, countries);
    let country = countries.map(|db| CountryEstimate {
        country: verdict.address().and_then(|a| db.country(a)),
        database_built: db.built(),
        note: "an estimate from the GeoIP database; AWS decides with its own",
    });
    EgressReport {
        verdict,
        answers,
        country,
        checked_at: OffsetDateTime::now_utc(),
    }
}
