//! `login`, `logout`, `whoami`, `accounts`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use postern_core::identity::{
    DeviceCodePrompt, Identity, KeyringStore, SignInMethod, SignInOptions, SignInPresenter,
};
use postern_core::{paths, policy};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::{Failure, print_json};

#[derive(Args)]
pub struct JsonArg {
    /// Print a versioned JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct LoginArgs {
    /// Sign in with a code to confirm in any browser (works over SSH and in containers).
    #[arg(long, conflicts_with = "pkce")]
    device_code: bool,
    /// Sign in through this machine's browser (the default).
    #[arg(long)]
    pkce: bool,
    /// Print the address instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// Also keep the AWS CLI's SSO cache (~/.aws/sso/cache) in step, for `[sso-session postern]`.
    /// That file is plain text: only use this where the AWS CLI must reuse the session.
    #[arg(long)]
    export_aws_cli_cache: bool,
    /// How long to wait for the browser to come back (PKCE), in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    browser_timeout: u64,
}

pub(crate) fn identity(explicit_policy: Option<&Path>) -> Result<Identity, Failure> {
    let (policy, _) = policy::load(explicit_policy)?;
    Ok(Identity::new(
        &policy.identity_center,
        Arc::new(KeyringStore),
        paths::user_state_dir(),
        paths::aws_dir(),
    )?)
}

struct TerminalPresenter;

impl SignInPresenter for TerminalPresenter {
    fn device_code(&self, p: &DeviceCodePrompt) {
        let url = p
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&p.verification_uri);
        let minutes = ((p.expires_at - OffsetDateTime::now_utc())
            .whole_seconds()
            .max(0)
            + 59)
            / 60;
        if !p.browser_opened {
            eprintln!("Open this address in a browser to sign in:");
        }
        eprintln!("Open: {url}");
        eprintln!(
            "Code: {} (check that the browser shows the same code; valid for {minutes} min)",
            p.user_code
        );
        eprintln!("Waiting for approval...");
    }

    fn browser(&self, url: &url::Url, opened: bool) {
        if opened {
            eprintln!("Your browser was opened to sign in. If it did not open, use this address:");
        } else {
            eprintln!("Open this address in a browser on this machine to sign in:");
        }
        eprintln!("Open: {url}");
        eprintln!("Waiting for the browser...");
    }
}

/// Whole seconds are enough for people.
fn stamp(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub async fn login(policy: Option<&Path>, args: LoginArgs) -> Result<(), Failure> {
    let identity = identity(policy)?;
    let options = SignInOptions {
        method: if args.device_code {
            SignInMethod::DeviceCode
        } else {
            SignInMethod::Pkce
        },
        open_browser: !args.no_browser,
        export_cli_cache: args.export_aws_cli_cache,
        browser_timeout: Duration::from_secs(args.browser_timeout),
    };
    let session = identity.sign_in(&options, &TerminalPresenter).await?;
    eprintln!(
        "Signed in to {} until {}.",
        session.start_url,
        stamp(session.expires_at)
    );
    if session.aws_cli_cache_exported {
        eprintln!(
            "The AWS CLI can reuse this session with `sso_session = {}` (cache file in ~/.aws/sso/cache, plain text).",
            postern_core::identity::SSO_SESSION_NAME
        );
    }
    Ok(())
}

pub async fn logout(policy: Option<&Path>, json: bool) -> Result<(), Failure> {
    let report = identity(policy)?.sign_out().await?;
    if json {
        print_json("logout", &report);
        return Ok(());
    }
    match (&report.was_signed_in, &report.portal_logout_error) {
        (false, _) => println!("You were not signed in; nothing was stored."),
        (true, None) => println!("Signed out. Every stored secret was deleted."),
        (true, Some(e)) => println!(
            "Signed out here and every stored secret was deleted, but Identity Center could not be told ({e}); the session there ends at its expiry."
        ),
    }
    if report.removed_aws_cli_cache {
        println!("The exported AWS CLI cache file was removed.");
    }
    Ok(())
}

pub async fn whoami(policy: Option<&Path>, json: bool) -> Result<(), Failure> {
    let session = identity(policy)?.session().await?;
    if json {
        print_json("whoami", &session);
        return Ok(());
    }
    println!("start URL:  {}", session.start_url);
    println!("region:     {}", session.region);
    println!(
        "signed in:  {} ({:?})",
        stamp(session.signed_in_at),
        session.method
    );
    println!("expires:    {}", stamp(session.expires_at));
    println!(
        "renewal:    {}",
        if session.refreshable {
            "automatic (refresh token)"
        } else {
            "sign in again at expiry"
        }
    );
    Ok(())
}

pub async fn accounts(policy: Option<&Path>, json: bool) -> Result<(), Failure> {
    let accounts = identity(policy)?.accounts().await?;
    if json {
        print_json("accounts", &serde_json::json!({ "accounts": accounts }));
        return Ok(());
    }
    if accounts.is_empty() {
        println!("No AWS accounts are assigned to you. Ask your IT department for access.");
    }
    for a in accounts {
        println!(
            "{}  {}  roles: {}",
            a.account_id,
            a.account_name.as_deref().unwrap_or("-"),
            a.roles.join(", ")
        );
    }
    Ok(())
}
