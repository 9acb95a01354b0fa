//! `postern autostart enable|disable|status`: start the desktop app at login, as the person
//! chooses unless the organization decides (then it is shown as locked and a change is refused).

use std::path::Path;

use clap::Subcommand;
use postern_core::settings::{self, LoginItem, Setting, Settings, ThisUser, login_item};

use crate::output::{Failure, print_json};

#[derive(Subcommand)]
pub enum AutostartCommand {
    /// Start Postern in the tray when you log in.
    Enable {
        #[arg(long)]
        json: bool,
    },
    /// Stop starting Postern when you log in.
    Disable {
        #[arg(long)]
        json: bool,
    },
    /// Whether Postern starts at login, and who decided it.
    Status {
        #[arg(long)]
        json: bool,
    },
}

impl AutostartCommand {
    pub fn wants_json(&self) -> bool {
        match self {
            AutostartCommand::Enable { json }
            | AutostartCommand::Disable { json }
            | AutostartCommand::Status { json } => *json,
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    #[serde(flatten)]
    settings: Settings,
    /// The login item as it is now (`null`: none, or turned off).
    login_item: Option<LoginItem>,
}

pub fn run(policy_file: Option<&Path>, command: AutostartCommand) -> Result<(), Failure> {
    let json = command.wants_json();
    let (current, _) = settings::load(policy_file, &ThisUser)?;
    if let AutostartCommand::Enable { .. } | AutostartCommand::Disable { .. } = &command {
        let on = matches!(command, AutostartCommand::Enable { .. });
        settings::set_start_at_login(&current, on, login_item::app_program, &ThisUser)?;
    }
    let (settings, login_item) = settings::load(policy_file, &ThisUser)?;
    if json {
        print_json(
            "autostart",
            &Report {
                settings,
                login_item,
            },
        );
    } else {
        println!("{}", line("Start at login", &settings.start_at_login));
        println!("{}", line("Connect on start", &settings.connect_on_start));
        if let Some(item) = login_item {
            let program = item
                .program
                .map(|p| format!(", starting {}", p.display()))
                .unwrap_or_default();
            println!("Login item:       {}{program}", item.location);
        }
    }
    Ok(())
}

/// `Start at login:   on (set by your organization (Group Policy): HKLM\…)`.
pub fn line(name: &str, setting: &Setting<bool>) -> String {
    let value = if setting.value { "on" } else { "off" };
    let source = setting
        .source
        .as_deref()
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!(
        "{:<17} {value} ({}{source})",
        format!("{name}:"),
        setting.origin.describe()
    )
}
