//! `postern console`: the AWS Management Console for the role, opened in the browser (or the
//! sign-in URL printed), made while the gate is open, from this machine.

use std::path::Path;

use clap::Args;
use postern_core::credentials::console::Federation;

use crate::output::Failure;
use crate::role::RoleArgs;

#[derive(Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    role: RoleArgs,
    /// Print the sign-in URL instead of opening it (it signs in whoever opens it within 15
    /// minutes: keep it to yourself).
    #[arg(long)]
    print: bool,
}

pub async fn console(policy_file: Option<&Path>, args: ConsoleArgs) -> Result<(), Failure> {
    let role = args.role.resolve(policy_file).await?;
    let credentials = role.credentials().await?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SIGNIN").ok();
    let federation = Federation::new(role.region.as_deref(), endpoint.as_deref())?;
    let url = federation.sign_in(&credentials).await?;
    if args.print {
        println!("{url}");
        return Ok(());
    }
    match webbrowser::open(url.as_str()) {
        Ok(()) => eprintln!(
            "Opened the AWS console for {} / {} in your browser.",
            role.account, role.role
        ),
        Err(e) => {
            eprintln!("No browser could be opened ({e}); open this address within 15 minutes:");
            println!("{url}");
        }
    }
    Ok(())
}
