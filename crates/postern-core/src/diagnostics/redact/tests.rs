use super::{RedactionKind as K, Redactor};

fn redactor() -> Redactor {
    Redactor::new(b"test-salt".to_vec(), ["alice.smith".to_string()])
}

/// Redacts and checks that exactly the expected kinds were counted.
fn check(text: &str, expected: &[(K, u64)]) -> String {
    let (out, counts) = redactor().redact_counted(text);
    let got: Vec<(K, u64)> = counts.into_iter().collect();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(got, want, "counts for {text:?} -> {out:?}");
    // Redacting again finds nothing more: placeholders never look like secrets.
    let (again, recount) = redactor().redact_counted(&out);
    assert_eq!(again, out);
    assert!(recount.is_empty(), "{recount:?} in {out:?}");
    out
}

#[test]
fn pem_private_keys_go_whole_and_truncated_ones_to_the_end() {
    let out = check(
        "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nafter",
        &[(K::PrivateKey, 1)],
    );
    assert_eq!(out, "before\n<redacted:private-key>\nafter");
    let out = check(
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq (cut off",
        &[(K::PrivateKey, 1)],
    );
    assert_eq!(out, "<redacted:private-key>");
}

#[test]
fn ovpn_secret_blocks_keep_their_tags_and_certificates_stay() {
    let profile = "<ca>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n</ca>\n<key>\nsecret-key-text\n</key>\n<tls-crypt>\nstatic-key-text\n</tls-crypt>\n";
    let out = check(profile, &[(K::PrivateKey, 2)]);
    assert!(out.contains("<ca>\n-----BEGIN CERTIFICATE-----\nMIIB"));
    assert!(out.contains("<key><redacted:private-key></key>"));
    assert!(out.contains("<tls-crypt><redacted:private-key></tls-crypt>"));
    assert!(!out.contains("secret-key-text") && !out.contains("static-key-text"));
}

#[test]
fn saml_responses_in_forms_json_and_crv1_answers() {
    let out = check(
        "POST /saml body SAMLResponse=PHNhbWxwOlJlc3BvbnNl%2Bx&RelayState=abc",
        &[(K::SamlResponse, 1)],
    );
    assert_eq!(
        out,
        "POST /saml body SAMLResponse=<redacted:saml-response>&RelayState=abc"
    );
    check(r#"{"SAMLResponse": "PHNhbWw="}"#, &[(K::SamlResponse, 1)]);
    // Inside a JSON string, quotes come escaped.
    check(
        r#""{\"SAMLResponse\": \"PHNhbWw=\"}""#,
        &[(K::SamlResponse, 1)],
    );
    let out = check(
        "password \"Auth\" CRV1::c3RhdGU=::PHNhbWxwOlJlc3BvbnNl",
        &[(K::SamlResponse, 1)],
    );
    assert!(out.ends_with("CRV1::c3RhdGU=::<redacted:saml-response>"));
}

#[test]
fn jwts_anywhere() {
    let out = check(
        "id token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl seen",
        &[(K::Jwt, 1)],
    );
    assert_eq!(out, "id token <redacted:jwt> seen");
    // A word that merely starts like one stays.
    check("eyJ is how JSON looks in base64", &[]);
}

#[test]
fn bearer_headers() {
    let out = check(
        "Authorization: Bearer aoaAAAAAGdlbW8tdG9rZW4",
        &[(K::BearerToken, 1)],
    );
    assert_eq!(out, "Authorization: Bearer <redacted:bearer-token>");
    check("the bearer of bad news", &[]);
}

#[test]
fn oauth_values_by_name_in_json_and_query_strings() {
    let out = check(
        r#"{"accessToken":"aoaTOKENVALUE1","refreshToken": "aorREFRESH2","deviceCode":"dc-123456","clientSecret":"cs.secret.value"}"#,
        &[(K::OauthToken, 4)],
    );
    assert!(out.contains(r#""accessToken":"<redacted:oauth-token>""#));
    assert!(!out.contains("aorREFRESH2"));
    check(
        "GET /oauth/callback?code=abcdef123&state=xyz",
        &[(K::OauthToken, 1)],
    );
    check(
        r#"\"refreshToken\": \"aorESCAPED3\""#,
        &[(K::OauthToken, 1)],
    );
    // The words alone, in a sentence, stay.
    check("refresh token expired; device code flow started", &[]);
}

#[test]
fn access_key_ids_but_not_role_or_user_ids() {
    let out = check(
        "key ASIAQWERTYUIOPASDFGH and AKIAIOSFODNN7EXAMPLE",
        &[(K::AwsAccessKeyId, 2)],
    );
    assert_eq!(
        out,
        "key <redacted:aws-access-key-id> and <redacted:aws-access-key-id>"
    );
    // Role ids (AROA) identify, they do not authenticate: kept.
    check("role id AROAQWERTYUIOPASDFGH", &[]);
}

#[test]
fn secret_keys_by_name_and_by_shape() {
    check(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &[(K::AwsSecretKey, 1)],
    );
    check(
        r#""SecretAccessKey": "abcDEF123/+xyz456789""#,
        &[(K::AwsSecretKey, 1)],
    );
    let out = check(
        "leaked wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here",
        &[(K::AwsSecretKey, 1)],
    );
    assert_eq!(out, "leaked <redacted:aws-secret-key> here");
    // A 40-digit hex commit id is not a key.
    check("commit 0123456789abcdef0123456789abcdef01234567", &[]);
}

#[test]
fn session_tokens_by_name_and_by_prefix() {
    check(
        "aws_session_token=FwoGZXIvYXdzEBYaDAbCdEf",
        &[(K::AwsSessionToken, 1)],
    );
    let token = format!("IQoJb3JpZ2luX2VjE{}", "Ab1".repeat(40));
    let out = check(&format!("token {token} end"), &[(K::AwsSessionToken, 1)]);
    assert_eq!(out, "token <redacted:aws-session-token> end");
}

#[test]
fn long_generated_strings_but_not_digests() {
    let opaque = "Zx9".repeat(25);
    check(&format!("blob {opaque}"), &[(K::OpaqueToken, 1)]);
    check(
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        &[],
    );
}

#[test]
fn emails_are_hashed_stably() {
    let out = check(
        "mail Alice.Smith@example.com then alice.smith@example.com",
        &[(K::Email, 2)],
    );
    let hashes: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with("<email:"))
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_eq!(hashes[0], hashes[1], "case does not change the hash");
    // Another salt gives another hash: the hash cannot be looked up in a table.
    let other = Redactor::new(b"other".to_vec(), []).redact_counted("alice.smith@example.com");
    assert_ne!(other.0, hashes[0]);
}

#[test]
fn home_paths_on_every_os() {
    let out = check(
        r"/home/bob/.config/postern and /Users/bob/Library and C:\Users\bob\AppData",
        &[(K::HomePath, 3)],
    );
    assert!(!out.contains("bob"));
    assert!(out.contains("/.config/postern"));
    check("/home/ alone, /usr/share/postern", &[]);
}

#[test]
fn user_names_as_whole_words_only() {
    let out = check(
        "session for alice.smith (Alice.Smith) but not malice.smithy",
        &[(K::UserName, 2)],
    );
    assert!(out.contains("malice.smithy"));
    // System account names are not personal and would garble ordinary words.
    let r = Redactor::new(b"s".to_vec(), ["root".to_string(), "al".to_string()]);
    assert_eq!(r.redact_counted("root al").0, "root al");
}

#[test]
fn account_ids_arns_and_addresses_stay() {
    check(
        "arn:aws:iam::123456789012:role/Developer from 203.0.113.10 account 123456789012",
        &[],
    );
}
