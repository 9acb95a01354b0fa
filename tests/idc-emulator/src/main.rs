//! An IAM Identity Center emulator for development and tests: the SSO-OIDC API (RegisterClient,
//! StartDeviceAuthorization, CreateToken for device code, authorization code with PKCE, and
//! refresh token), the browser pages a person uses (device verification, `/authorize`), and the
//! portal API (accounts, roles, role credentials, logout), STS, and the sign-in federation
//! endpoint that leads to the console.
//!
//! The wire format follows AWS's published service models (`sso-oidc` and `sso`, 2019-06-10):
//! camelCase JSON, epoch-second client-secret expiry, epoch-millisecond credential expiry, and
//! the `x-amzn-ErrorType` header the SDKs read error codes from. Knobs under `/_emulator/`
//! inject `slow_down`, denials, expiry, 5xx answers and delays; counters show what was called.
//!
//! It prints `listening http://ADDR` as its first line and exits by itself after `--lifetime`.

// Handlers short-circuit with the HTTP response to send; its size does not matter here.
#![allow(clippy::result_large_err)]

mod federation;
mod oidc;
mod pages;
mod portal;
mod state;
mod sts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use clap::Parser;

use state::{Emulator, Settings};

#[derive(Parser)]
#[command(about = "IAM Identity Center emulator (sso-oidc + portal) for Postern's tests and lab")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The access portal URL this instance answers for.
    #[arg(long, default_value = "https://lab.awsapps.com/start")]
    start_url: String,
    /// The base URL browsers use to reach this emulator (defaults to http://LISTEN-ADDRESS).
    #[arg(long)]
    public_url: Option<String>,
    /// The name of the (only) user who approves sign-ins.
    #[arg(long, default_value = "alice")]
    user: String,
    /// The NAT gateways' addresses (CIDRs): STS calls from any other source address are denied,
    /// as the organization's `aws:SourceIp` policy does. Repeat for several.
    #[arg(long = "nat-address")]
    nat_addresses: Vec<ipnet::IpNet>,
    /// Seconds after which the emulator exits by itself (tests never leave it behind).
    #[arg(long, default_value_t = 3600)]
    lifetime: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let emulator = Arc::new(Emulator::new(Settings {
        start_url: args.start_url,
        public_url,
        user: args.user,
        nat_addresses: args.nat_addresses,
    }));
    println!("listening http://{addr}");
    let app = router(emulator);
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    tokio::select! {
        r = serve => r,
        _ = tokio::time::sleep(Duration::from_secs(args.lifetime)) => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn router(emulator: Arc<Emulator>) -> Router {
    Router::new()
        // SSO-OIDC API
        .route("/client/register", post(oidc::register_client))
        .route(
            "/device_authorization",
            post(oidc::start_device_authorization),
        )
        .route("/token", post(oidc::create_token))
        // What a person sees in the browser
        .route(
            "/device",
            get(pages::device_page).post(pages::device_decision),
        )
        .route(
            "/authorize",
            get(pages::authorize_page).post(pages::authorize_decision),
        )
        // Portal API
        .route("/assignment/accounts", get(portal::list_accounts))
        .route("/assignment/roles", get(portal::list_account_roles))
        .route("/federation/credentials", get(portal::get_role_credentials))
        .route("/logout", post(portal::logout))
        // The sign-in federation endpoint and the console it leads to
        .route("/federation", get(federation::handle))
        // STS (query protocol: POST / with Action=…)
        .route("/", post(sts::handle))
        .layer(middleware::from_fn_with_state(emulator.clone(), faults))
        // Test controls, never subject to faults
        .route(
            "/_emulator/knobs",
            get(state::get_knobs).post(state::set_knobs),
        )
        .route("/_emulator/stats", get(state::stats))
        .route("/_emulator/expire-tokens", post(state::expire_tokens))
        .route("/_emulator/forget-clients", post(state::forget_clients))
        .route("/_emulator/credentials", get(state::issued_credentials))
        .with_state(emulator)
}

/// Delays and 5xx answers injected by knobs.
async fn faults(State(emulator): State<Arc<Emulator>>, request: Request, next: Next) -> Response {
    let (delay, fail) = emulator.take_fault();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if fail {
        return oidc::error(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "server_error",
            "Injected internal error",
        );
    }
    next.run(request).await
}
