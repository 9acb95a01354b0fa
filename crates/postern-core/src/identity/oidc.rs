//! The SSO-OIDC and portal wire calls, through the official AWS SDK crates. This file only
//! translates between the SDK and Postern's types; the flows live in the sibling modules.

use std::time::Duration as StdDuration;

use aws_sdk_ssooidc::error::{ProvideErrorMetadata, SdkError};
use time::{Duration, OffsetDateTime};
use url::Url;

use super::error::IdentityError;
use super::records::ClientRegistration;
use super::secret::SecretText;

pub(crate) const SCOPE: &str = "sso:account:access";
pub(crate) const GRANT_DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub(crate) const GRANT_CODE: &str = "authorization_code";
pub(crate) const GRANT_REFRESH: &str = "refresh_token";
/// Identity Center matches loopback redirect URIs without their port (RFC 8252 §7.3).
pub(crate) const REDIRECT_URI_REGISTERED: &str = "http://127.0.0.1/oauth/callback";

/// The two Identity Center endpoints, after overrides were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub oidc: Url,
    pub portal: Url,
}

impl Endpoints {
    /// Environment (`AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL_SSO`, as the AWS SDKs read
    /// them) first, then the policy's lab overrides, then the region's public endpoints.
    pub fn resolve(region: &str, oidc: Option<&Url>, portal: Option<&Url>) -> Result<Self, String> {
        let pick = |var: &str, policy: Option<&Url>, default: String| -> Result<Url, String> {
            if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
                return Url::parse(&v).map_err(|e| format!("{var}={v} is not a URL ({e})"));
            }
            if let Some(u) = policy {
                return Ok(u.clone());
            }
            Url::parse(&default).map_err(|e| e.to_string())
        };
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Ok(Self {
            oidc: pick(
                "AWS_ENDPOINT_URL_SSO_OIDC",
                oidc,
                format!("https://oidc.{region}.{suffix}"),
            )?,
            portal: pick(
                "AWS_ENDPOINT_URL_SSO",
                portal,
                format!("https://portal.sso.{region}.{suffix}"),
            )?,
        })
    }

    /// The browser-facing authorization endpoint for PKCE.
    pub fn authorize_url(&self) -> Url {
        let mut u = self.oidc.clone();
        let path = format!("{}/authorize", u.path().trim_end_matches('/'));
        u.set_path(&path);
        u
    }
}

pub(crate) struct DeviceAuthorization {
    pub device_code: SecretText,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: StdDuration,
    pub interval: StdDuration,
}

pub(crate) struct Grant {
    pub access_token: SecretText,
    pub expires_at: OffsetDateTime,
    pub refresh_token: Option<SecretText>,
}

/// How a CreateToken poll can end, short of success.
pub(crate) enum PollOutcome {
    Pending,
    SlowDown,
    Failed(IdentityError),
}

pub(crate) struct OidcClient {
    client: aws_sdk_ssooidc::Client,
    endpoint: String,
    region: String,
}

fn timeouts() -> aws_smithy_types::timeout::TimeoutConfig {
    aws_smithy_types::timeout::TimeoutConfig::builder()
        .connect_timeout(StdDuration::from_secs(5))
        .read_timeout(StdDuration::from_secs(20))
        .operation_timeout(StdDuration::from_secs(45))
        .build()
}

impl OidcClient {
    pub fn new(region: &str, endpoint: &Url) -> Self {
        let config = aws_sdk_ssooidc::Config::builder()
            .behavior_version(aws_sdk_ssooidc::config::BehaviorVersion::latest())
            .region(aws_sdk_ssooidc::config::Region::new(region.to_string()))
            .endpoint_url(endpoint.as_str().trim_end_matches('/'))
            .timeout_config(timeouts())
            .build();
        Self {
            client: aws_sdk_ssooidc::Client::from_conf(config),
            endpoint: endpoint.to_string(),
            region: region.to_string(),
        }
    }

    fn fail<
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    >(
        &self,
        err: SdkError<E, R>,
    ) -> IdentityError {
        classify(&self.endpoint, &self.region, err)
    }

    pub async fn register(&self, issuer_url: &str) -> Result<ClientRegistration, IdentityError> {
        let out = self
            .client
            .register_client()
            .client_name(format!("postern-{}", env!("CARGO_PKG_VERSION")))
            .client_type("public")
            .scopes(SCOPE)
            .grant_types(GRANT_DEVICE)
            .grant_types(GRANT_CODE)
            .grant_types(GRANT_REFRESH)
            .redirect_uris(REDIRECT_URI_REGISTERED)
            .issuer_url(issuer_url)
            .send()
            .await
            .map_err(|e| self.fail(e))?;
        let (Some(client_id), Some(client_secret)) = (out.client_id(), out.client_secret()) else {
            return Err(protocol("RegisterClient returned no client id or secret"));
        };
        let expires_at = OffsetDateTime::from_unix_timestamp(out.client_secret_expires_at())
            .map_err(|_| protocol("RegisterClient returned an impossible expiry"))?;
        Ok(ClientRegistration {
            client_id: client_id.to_string(),
            client_secret: SecretText::new(client_secret),
            expires_at,
        })
    }

    pub async fn start_device_authorization(
        &self,
        reg: &ClientRegistration,
        start_url: &str,
    ) -> Result<DeviceAuthorization, IdentityError> {
        let out = self
            .client
            .start_device_authorization()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .start_url(start_url)
            .send()
            .await
            .map_err(|e| self.fail(e))?;
        let (Some(device_code), Some(user_code), Some(uri)) =
            (out.device_code(), out.user_code(), out.verification_uri())
        else {
            return Err(protocol("StartDeviceAuthorization returned no code"));
        };
        Ok(DeviceAuthorization {
            device_code: SecretText::new(device_code),
            user_code: user_code.to_string(),
            verification_uri: uri.to_string(),
            verification_uri_complete: out.verification_uri_complete().map(str::to_string),
            expires_in: StdDuration::from_secs(out.expires_in().max(1) as u64),
            // The service model's default interval is 5 s; never poll faster than 1 s.
            interval: StdDuration::from_secs(if out.interval() > 0 {
                out.interval() as u64
            } else {
                5
            }),
        })
    }

    pub async fn poll_device_token(
        &self,
        reg: &ClientRegistration,
        device_code: &SecretText,
    ) -> Result<Grant, PollOutcome> {
        let sent = OffsetDateTime::now_utc();
        let result = self
            .client
            .create_token()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .grant_type(GRANT_DEVICE)
            .device_code(device_code.expose())
            .send()
            .await;
        match result {
            Ok(out) => grant(sent, out).map_err(PollOutcome::Failed),
            Err(e) => match e.code() {
                Some("AuthorizationPendingException") => Err(PollOutcome::Pending),
                Some("SlowDownException") => Err(PollOutcome::SlowDown),
                _ => Err(PollOutcome::Failed(self.fail(e))),
            },
        }
    }

    pub async fn exchange_code(
        &self,
        reg: &ClientRegistration,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Grant, IdentityError> {
        let sent = OffsetDateTime::now_utc();
        let out = self
            .client
            .create_token()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .grant_type(GRANT_CODE)
            .code(code)
            .redirect_uri(redirect_uri)
            .code_verifier(verifier)
            .send()
            .await
            .map_err(|e| self.fail(e))?;
        grant(sent, out)
    }

    pub async fn refresh(
        &self,
        reg: &ClientRegistration,
        refresh_token: &SecretText,
    ) -> Result<Grant, IdentityError> {
        let sent = OffsetDateTime::now_utc();
        let out = self
            .client
            .create_token()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .grant_type(GRANT_REFRESH)
            .refresh_token(refresh_token.expose())
            .send()
            .await
            .map_err(|e| self.fail(e))?;
        grant(sent, out)
    }
}

fn grant(
    sent: OffsetDateTime,
    out: aws_sdk_ssooidc::operation::create_token::CreateTokenOutput,
) -> Result<Grant, IdentityError> {
    let Some(access_token) = out.access_token() else {
        return Err(protocol("CreateToken returned no access token"));
    };
    if out.expires_in() <= 0 {
        return Err(protocol(
            "CreateToken returned a token that is already expired",
        ));
    }
    Ok(Grant {
        access_token: SecretText::new(access_token),
        // Counted from when the request left, so clock skew in transit only shortens it.
        expires_at: sent + Duration::seconds(out.expires_in() as i64),
        refresh_token: out.refresh_token().map(SecretText::new),
    })
}

pub(crate) fn protocol(detail: &str) -> IdentityError {
    IdentityError::Protocol {
        detail: detail.into(),
    }
}

/// Maps any SSO-OIDC or portal SDK error to a user-facing cause. The SDK reads the error code
/// from the `x-amzn-ErrorType` header, exactly as the service model says.
pub(crate) fn classify<E, R>(endpoint: &str, region: &str, err: SdkError<E, R>) -> IdentityError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = |e: &SdkError<E, R>| {
        e.message()
            .map(str::to_string)
            .or_else(|| e.code().map(str::to_string))
            .unwrap_or_else(|| "no detail given".into())
    };
    match &err {
        SdkError::DispatchFailure(d) => IdentityError::Unreachable {
            endpoint: endpoint.into(),
            detail: if d.is_timeout() {
                "connection timed out".into()
            } else {
                // The innermost cause is the one a person can act on ("connection refused").
                let mut source = std::error::Error::source(&err);
                let mut last = String::from("connection failed");
                while let Some(s) = source {
                    last = s.to_string();
                    source = s.source();
                }
                last
            },
        },
        SdkError::TimeoutError(_) => IdentityError::TimedOut {
            endpoint: endpoint.into(),
        },
        SdkError::ResponseError(_) => IdentityError::Protocol {
            detail: format!("unreadable response from {endpoint}"),
        },
        SdkError::ConstructionFailure(_) => IdentityError::Protocol {
            detail: "the request could not be built".into(),
        },
        _ => match err.code() {
            Some("InvalidRequestRegionException") => IdentityError::WrongRegion {
                region: region.into(),
            },
            Some("ExpiredTokenException") => IdentityError::CodeExpired,
            Some("AccessDeniedException") => IdentityError::Denied,
            Some("InvalidClientException") | Some("UnauthorizedClientException") => {
                IdentityError::ClientRejected {
                    detail: detail(&err),
                }
            }
            Some("InvalidGrantException") | Some("UnauthorizedException") => {
                IdentityError::SessionEnded {
                    reason: detail(&err),
                }
            }
            Some("SlowDownException") | Some("TooManyRequestsException") => {
                IdentityError::Throttled
            }
            Some("InternalServerException") => IdentityError::ServiceFault {
                detail: detail(&err),
            },
            Some(_) => IdentityError::Rejected {
                detail: detail(&err),
            },
            None => IdentityError::ServiceFault {
                detail: format!("{endpoint} answered with an error and no error code"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_endpoints_follow_the_region() {
        // The environment may carry overrides in CI; this test only checks the defaults.
        if std::env::var_os("AWS_ENDPOINT_URL_SSO_OIDC").is_some() {
            return;
        }
        let e = Endpoints::resolve("eu-west-1", None, None).unwrap();
        assert_eq!(e.oidc.as_str(), "https://oidc.eu-west-1.amazonaws.com/");
        assert_eq!(
            e.portal.as_str(),
            "https://portal.sso.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            e.authorize_url().as_str(),
            "https://oidc.eu-west-1.amazonaws.com/authorize"
        );
        let cn = Endpoints::resolve("cn-north-1", None, None).unwrap();
        assert_eq!(cn.oidc.host_str(), Some("oidc.cn-north-1.amazonaws.com.cn"));
    }

    #[test]
    fn policy_overrides_apply_and_keep_a_path_prefix() {
        if std::env::var_os("AWS_ENDPOINT_URL_SSO_OIDC").is_some() {
            return;
        }
        let o = Url::parse("http://127.0.0.1:9000/idc").unwrap();
        let e = Endpoints::resolve("eu-west-1", Some(&o), Some(&o)).unwrap();
        assert_eq!(
            e.authorize_url().as_str(),
            "http://127.0.0.1:9000/idc/authorize"
        );
    }
}
