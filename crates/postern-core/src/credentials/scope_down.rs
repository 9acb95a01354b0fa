//! Scope-down: assume the rule's role with a session policy that denies every call unless it
//! comes from the NAT's addresses (with the `aws:ViaAWSService` exception, so AWS services
//! acting on the caller's behalf keep working). Even credentials copied off the device are then
//! useless elsewhere, whatever the account's own policies say.

use std::time::Duration;

use ipnet::IpNet;
use time::OffsetDateTime;

use super::VendedCredentials;
use crate::identity::{RoleCredentials, SecretText};
use crate::problem::{ExitCode, Problem};

#[derive(Debug, thiserror::Error)]
#[error("AWS STS refused to scope the credentials down to the company network ({detail}).")]
pub struct ScopeDownError {
    pub detail: String,
}

impl Problem for ScopeDownError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::IdentityProvider
    }
    fn next_step(&self) -> String {
        "Tell your IT department: Postern could not assume the scope-down role named in the policy."
            .into()
    }
}

/// The session policy: allow what the role allows, deny it all from outside the NAT.
pub fn session_policy(nat_addresses: &[IpNet]) -> String {
    let addresses: Vec<String> = nat_addresses.iter().map(IpNet::to_string).collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowWhatTheRoleAllows", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Sid": "DenyOutsideTheCompanyNetwork",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "NotIpAddress": {"aws:SourceIp": addresses},
                    "Bool": {"aws:ViaAWSService": "false"}
                }
            }
        ]
    })
    .to_string()
}

/// Assumes `role_arn` with the portal's credentials and the session policy.
pub async fn assume(
    base: &RoleCredentials,
    account: &str,
    role: &str,
    role_arn: &str,
    region: &str,
    nat_addresses: &[IpNet],
    duration: Duration,
) -> Result<VendedCredentials, ScopeDownError> {
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            base.access_key_id.clone(),
            base.secret_access_key.expose().to_string(),
            Some(base.session_token.expose().to_string()),
            None,
            "postern-portal",
        ));
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_STS") {
        config = config.endpoint_url(endpoint);
    }
    let client = aws_sdk_sts::Client::from_conf(config.build());
    // STS allows 900 s to 12 h; the portal credentials' own life is the ceiling for a chain.
    let seconds = duration.as_secs().clamp(900, 43_200) as i32;
    let out = client
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(format!("postern-{role}"))
        .policy(session_policy(nat_addresses))
        .duration_seconds(seconds)
        .send()
        .await
        .map_err(|e| ScopeDownError {
            detail: aws_sdk_sts::error::DisplayErrorContext(&e).to_string(),
        })?;
    let c = out.credentials().ok_or_else(|| ScopeDownError {
        detail: "no credentials in the answer".into(),
    })?;
    let expiration =
        OffsetDateTime::from_unix_timestamp(c.expiration().secs()).map_err(|_| ScopeDownError {
            detail: "an impossible expiry".into(),
        })?;
    Ok(VendedCredentials {
        account: account.to_string(),
        role: role.to_string(),
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: SecretText::new(c.secret_access_key()),
        session_token: SecretText::new(c.session_token()),
        expiration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_policy_denies_outside_the_nat_except_via_aws_services() {
        let p: serde_json::Value =
            serde_json::from_str(&session_policy(&["203.0.113.10/32".parse().unwrap()])).unwrap();
        let deny = &p["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(
            deny["Condition"]["NotIpAddress"]["aws:SourceIp"][0],
            "203.0.113.10/32"
        );
        assert_eq!(deny["Condition"]["Bool"]["aws:ViaAWSService"], "false");
        assert_eq!(p["Statement"][0]["Effect"], "Allow");
    }
}
