//! Which role `exec`, `env` and `console` use: the one named (`--account`/`--role`, or a
//! `--profile` Postern wrote), else the one the session is connected to; and its credentials,
//! only while the gate is open for it.

use std::path::{Path, PathBuf};

use clap::Args;
use postern_core::credentials::VendedCredentials;
use postern_core::credentials::aws_config;
use postern_core::session::SessionState;
use postern_core::{ExitCode, Problem, paths, policy};
use postern_ipc::agent::AgentError;
use postern_ipc::agent_client::{AgentClient, AgentClientError};

use crate::output::Failure;

#[derive(Args, Clone)]
pub struct RoleArgs {
    /// The account (default: the one the session is connected to).
    #[arg(long, requires = "role", conflicts_with = "profile")]
    pub account: Option<String>,
    /// The role in that account.
    #[arg(long, requires = "account", conflicts_with = "profile")]
    pub role: Option<String>,
    /// A profile `postern aws-config install` wrote, instead of --account and --role.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// A role to use, and the region the policy (or its profile) gives it.
pub struct Role {
    pub account: String,
    pub role: String,
    pub region: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path} has no profile {name} that Postern wrote.")]
struct NotPosternProfile {
    path: String,
    name: String,
}

impl Problem for NotPosternProfile {
    fn exit_code(&self) -> ExitCode {
        ExitCode::BadInput
    }
    fn next_step(&self) -> String {
        "Run `postern aws-config install` (or name the role with --account and --role).".into()
    }
}

/// The AWS CLI's config file: `$AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn aws_config_file() -> PathBuf {
    std::env::var_os("AWS_CONFIG_FILE")
        .map(Into::into)
        .or_else(|| paths::aws_dir().map(|d| d.join("config")))
        .unwrap_or_else(|| "config".into())
}

pub async fn agent() -> Result<AgentClient, Failure> {
    Ok(AgentClient::connect(&paths::agent_socket()).await?)
}

impl RoleArgs {
    pub async fn resolve(&self, policy_file: Option<&Path>) -> Result<Role, Failure> {
        let (account, role, profile_region) = match (&self.account, &self.role, &self.profile) {
            (Some(account), Some(role), _) => (account.clone(), role.clone(), None),
            (_, _, Some(name)) => {
                let path = aws_config_file();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let found =
                    aws_config::find_managed(&text, name).ok_or_else(|| NotPosternProfile {
                        path: path.display().to_string(),
                        name: name.clone(),
                    })?;
                (found.account, found.role, found.region)
            }
            _ => match agent().await?.status().await?.state {
                SessionState::Ready { target, .. } => (target.account, target.role, None),
                state => {
                    let cause = match &state {
                        SessionState::Blocked { cause } | SessionState::Degraded { cause, .. } => {
                            Some(cause.clone())
                        }
                        _ => None,
                    };
                    return Err(
                        AgentClientError::Refused(AgentError::NotReady { state, cause }).into(),
                    );
                }
            },
        };
        // The region is a convenience: an unreadable policy leaves it out, the agent still
        // decides what is served.
        let region = profile_region.or_else(|| {
            let (org, _) = policy::load(policy_file).ok()?;
            org.access_rule(&account, &role)?.region.clone()
        });
        Ok(Role {
            account,
            role,
            region,
        })
    }
}

impl Role {
    /// The role's credentials, or why the gate is closed for it.
    pub async fn credentials(&self) -> Result<VendedCredentials, Failure> {
        let document = agent()
            .await?
            .credentials(&self.account, &self.role)
            .await?;
        VendedCredentials::from_credential_process_json(&self.account, &self.role, &document)
            .ok_or_else(|| {
                Failure::from(AgentClientError::Broken(
                    "the agent's credentials could not be read".into(),
                ))
            })
    }
}
