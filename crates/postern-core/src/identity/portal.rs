//! The AWS access portal API: accounts, roles, role credentials, logout.

use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

use super::error::IdentityError;
use super::oidc::{classify, protocol};
use super::secret::SecretText;

/// Largest page the portal allows.
const PAGE: i32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: String,
    pub account_name: Option<String>,
    pub email_address: Option<String>,
    pub roles: Vec<String>,
}

/// Role credentials as the portal issues them; held in memory only.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretText,
    pub session_token: SecretText,
    pub expiration: OffsetDateTime,
}

pub(crate) struct PortalClient {
    client: aws_sdk_sso::Client,
    endpoint: String,
    region: String,
}

impl PortalClient {
    pub fn new(region: &str, endpoint: &Url) -> Self {
        let config = aws_sdk_sso::Config::builder()
            .behavior_version(aws_sdk_sso::config::BehaviorVersion::latest())
            .region(aws_sdk_sso::config::Region::new(region.to_string()))
            .endpoint_url(endpoint.as_str().trim_end_matches('/'))
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .operation_timeout(std::time::Duration::from_secs(45))
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_sso::Client::from_conf(config),
            endpoint: endpoint.to_string(),
            region: region.to_string(),
        }
    }

    fn fail<E, R>(&self, e: aws_sdk_sso::error::SdkError<E, R>) -> IdentityError
    where
        E: aws_sdk_sso::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        classify(&self.endpoint, &self.region, e)
    }

    /// Every account with every role, following all pages of both listings.
    pub async fn accounts(&self, token: &SecretText) -> Result<Vec<Account>, IdentityError> {
        let mut accounts = Vec::new();
        let mut pages = self
            .client
            .list_accounts()
            .access_token(token.expose())
            .max_results(PAGE)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let info = item.map_err(|e| self.fail(e))?;
            let Some(account_id) = info.account_id() else {
                return Err(protocol("ListAccounts returned an account without an id"));
            };
            accounts.push(Account {
                account_id: account_id.to_string(),
                account_name: info.account_name().map(str::to_string),
                email_address: info.email_address().map(str::to_string),
                roles: Vec::new(),
            });
        }
        for account in &mut accounts {
            let mut roles = self
                .client
                .list_account_roles()
                .access_token(token.expose())
                .account_id(&account.account_id)
                .max_results(PAGE)
                .into_paginator()
                .items()
                .send();
            while let Some(role) = roles.next().await {
                if let Some(name) = role.map_err(|e| self.fail(e))?.role_name() {
                    account.roles.push(name.to_string());
                }
            }
            account.roles.sort();
        }
        accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok(accounts)
    }

    /// Whether Identity Center gives this user the role in the account (one listing, all pages).
    pub async fn has_role(
        &self,
        token: &SecretText,
        account_id: &str,
        role_name: &str,
    ) -> Result<bool, IdentityError> {
        let mut roles = self
            .client
            .list_account_roles()
            .access_token(token.expose())
            .account_id(account_id)
            .max_results(PAGE)
            .into_paginator()
            .items()
            .send();
        while let Some(role) = roles.next().await {
            if role.map_err(|e| self.fail(e))?.role_name() == Some(role_name) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn role_credentials(
        &self,
        token: &SecretText,
        account_id: &str,
        role_name: &str,
    ) -> Result<RoleCredentials, IdentityError> {
        let out = self
            .client
            .get_role_credentials()
            .access_token(token.expose())
            .account_id(account_id)
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| self.fail(e))?;
        let c = out
            .role_credentials()
            .ok_or_else(|| protocol("GetRoleCredentials returned no credentials"))?;
        let (Some(id), Some(secret), Some(session)) =
            (c.access_key_id(), c.secret_access_key(), c.session_token())
        else {
            return Err(protocol("GetRoleCredentials returned partial credentials"));
        };
        let expiration =
            OffsetDateTime::from_unix_timestamp_nanos(c.expiration() as i128 * 1_000_000)
                .map_err(|_| protocol("GetRoleCredentials returned an impossible expiry"))?;
        Ok(RoleCredentials {
            access_key_id: id.to_string(),
            secret_access_key: SecretText::new(secret),
            session_token: SecretText::new(session),
            expiration,
        })
    }

    pub async fn logout(&self, token: &SecretText) -> Result<(), IdentityError> {
        self.client
            .logout()
            .access_token(token.expose())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }
}
