//! What sign-in keeps in the keychain: the OIDC client registration and the token set.
//! Both are serialized as JSON into one (possibly chunked) keychain item each.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::secret::SecretText;

/// Re-register this long before the client secret expires, so a sign-in never starts with a
/// registration that dies halfway.
pub const REGISTRATION_RENEW_BEFORE: Duration = Duration::hours(1);

/// Refresh the access token when less than this is left (as the AWS SDKs do).
pub const REFRESH_BEFORE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignInMethod {
    DeviceCode,
    Pkce,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: SecretText,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl ClientRegistration {
    pub fn usable_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at - now > REGISTRATION_RENEW_BEFORE
    }

    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSet {
    pub start_url: String,
    pub region: String,
    pub access_token: SecretText,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub refresh_token: Option<SecretText>,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_in_at: OffsetDateTime,
    pub method: SignInMethod,
    /// The user asked for the AWS CLI cache file to be kept in step (plain text, opt-in).
    #[serde(default)]
    pub export_cli_cache: bool,
}

/// How fresh a token is, decided in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Use it as is.
    Fresh,
    /// Still valid, but refresh now if possible.
    RefreshDue,
    /// No longer valid.
    Expired,
}

impl TokenSet {
    pub fn freshness(&self, now: OffsetDateTime) -> Freshness {
        let left = self.expires_at - now;
        if left <= Duration::seconds(5) {
            Freshness::Expired
        } else if left < REFRESH_BEFORE {
            Freshness::RefreshDue
        } else {
            Freshness::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn token(expires_at: OffsetDateTime) -> TokenSet {
        TokenSet {
            start_url: "https://x.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            access_token: SecretText::new("a"),
            expires_at,
            refresh_token: None,
            signed_in_at: expires_at - Duration::hours(1),
            method: SignInMethod::DeviceCode,
            export_cli_cache: false,
        }
    }

    #[test]
    fn freshness_boundaries() {
        let now = datetime!(2026-11-22 10:00 UTC);
        assert_eq!(
            token(now + Duration::hours(1)).freshness(now),
            Freshness::Fresh
        );
        assert_eq!(
            token(now + Duration::minutes(4)).freshness(now),
            Freshness::RefreshDue
        );
        assert_eq!(
            token(now + Duration::seconds(3)).freshness(now),
            Freshness::Expired
        );
        assert_eq!(
            token(now - Duration::hours(1)).freshness(now),
            Freshness::Expired
        );
    }

    #[test]
    fn registrations_are_renewed_an_hour_before_they_expire() {
        let now = datetime!(2026-11-22 10:00 UTC);
        let reg = |at| ClientRegistration {
            client_id: "c".into(),
            client_secret: SecretText::new("s"),
            expires_at: at,
        };
        assert!(reg(now + Duration::days(80)).usable_at(now));
        assert!(!reg(now + Duration::minutes(30)).usable_at(now));
        assert!(!reg(now + Duration::minutes(30)).expired_at(now));
        assert!(reg(now - Duration::minutes(1)).expired_at(now));
    }

    #[test]
    fn the_record_round_trips_and_hides_secrets_in_debug() {
        let t = token(datetime!(2026-11-22 10:00 UTC));
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"accessToken\":\"a\""));
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expires_at, t.expires_at);
        assert!(!format!("{back:?}").contains("\"a\""));
    }
}
