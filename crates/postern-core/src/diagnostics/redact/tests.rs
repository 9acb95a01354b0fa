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

/// AWS's documented example secret key, 40 characters.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn secret_keys_glued_to_a_name() {
    for (text, kept) in [
        (format!("AWS_SECRET={SECRET}"), "AWS_SECRET="),
        (
            format!("GET /sync?secret={SECRET}&x=1"),
            "GET /sync?secret=",
        ),
        (format!("KEY={SECRET} end"), "KEY="),
        (format!("x_{SECRET}"), "x_"),
        (format!("profile corp-{SECRET}"), "profile corp-"),
    ] {
        let out = check(&text, &[(K::AwsSecretKey, 1)]);
        assert!(!out.contains("bPxRfiCY"), "{out}");
        assert!(out.starts_with(kept), "{out}");
        assert!(out.contains("<redacted:aws-secret-key>"), "{out}");
    }
    // Names and values that only look alike stay: a 40-digit hex id after `=`, a short value.
    check(
        "commit=0123456789abcdef0123456789abcdef01234567 build_id=Ab1",
        &[],
    );
    check("RUST_LOG=postern_core=debug,postern_agent=info", &[]);
}

#[test]
fn json_escaped_secret_keys_are_decoded_before_matching() {
    let escaped = SECRET.replace('/', r"\/");
    let out = check(
        &format!(r#"{{"SecretAccessKey":"{escaped}"}}"#),
        &[(K::AwsSecretKey, 1)],
    );
    assert_eq!(out, r#"{"SecretAccessKey":"<redacted:aws-secret-key>"}"#);
    let out = check(&format!("leaked {escaped} here"), &[(K::AwsSecretKey, 1)]);
    assert_eq!(out, "leaked <redacted:aws-secret-key> here");
    // Doubly escaped (JSON inside a JSON string) and the \u forms.
    check(
        &format!("{} end", SECRET.replace('/', r"\\/")),
        &[(K::AwsSecretKey, 1)],
    );
    let out = check(
        &format!("k {} end", SECRET.replace('/', r"\u002F")),
        &[(K::AwsSecretKey, 1)],
    );
    assert_eq!(out, "k <redacted:aws-secret-key> end");
    // An escaped URL is not a secret: its slashes stay as they were.
    let url = r"https:\/\/vpn.example.com\/a\/b";
    assert_eq!(check(url, &[]), url);
}

#[test]
fn credentials_in_urls_even_with_an_address_as_host() {
    let out = check(
        "proxy http://bob:hunter2@10.0.0.5:3128/ and postgres://app:p@ss:w0rd@192.0.2.7/db",
        &[(K::UrlCredentials, 2)],
    );
    assert_eq!(
        out,
        "proxy http://<redacted:url-credentials>@10.0.0.5:3128/ and postgres://<redacted:url-credentials>@192.0.2.7/db"
    );
    let out = check(
        r#"{"url":"https:\/\/svc:TopSecret1@203.0.113.9\/x"}"#,
        &[(K::UrlCredentials, 1)],
    );
    assert!(!out.contains("TopSecret1"), "{out}");
    // A port is not a password; addresses stay.
    check(
        "https://10.0.0.5:8443/path?x=a@b and http://192.0.2.80/idp?state=x",
        &[],
    );
}

#[test]
fn named_secrets_quoted_bare_and_in_headers() {
    let out = check(
        "password=hunter2 pwd=letmein&user=x api_key=k-123",
        &[(K::NamedSecret, 3)],
    );
    assert_eq!(
        out,
        "password=<redacted:named-secret> pwd=<redacted:named-secret>&user=x api_key=<redacted:named-secret>"
    );
    let out = check(
        r#"{"db_password": "p@ss, word\"1", "apiKey":"abc"} X-Api-Key: zzz1 Passphrase: open sesame"#,
        &[(K::NamedSecret, 4)],
    );
    assert!(!out.contains("p@ss") && !out.contains(r#"word\"1"#) && !out.contains("zzz1"));
    assert!(
        out.contains(r#""db_password": "<redacted:named-secret>""#),
        "{out}"
    );
    check(r#"\"password\": \"esc4ped\""#, &[(K::NamedSecret, 1)]);
    // OpenVPN's management command carries the password as its second argument.
    let out = check(r#"password "Auth" "s3cr3t pass""#, &[(K::NamedSecret, 1)]);
    assert_eq!(out, r#"password "Auth" "<redacted:named-secret>""#);
    // The words in sentences and OpenVPN's prompts stay.
    check(
        ">PASSWORD:Need 'Auth' username/password\n>PASSWORD:Verification Failed: 'Auth'\nthe password was rejected; password-less sign-in; auth-user-pass",
        &[],
    );
}

#[test]
fn basic_authorization_headers() {
    let out = check(
        "> Authorization: Basic dXNlcjpodW50ZXIy\r\n",
        &[(K::BasicAuth, 1)],
    );
    assert_eq!(out, "> Authorization: Basic <redacted:basic-auth>\r\n");
    check(
        r#"{"proxy-authorization": "basic YWxpY2U6cHc="}"#,
        &[(K::BasicAuth, 1)],
    );
    check("basic checks passed; Authorization: none", &[]);
}

#[test]
fn other_services_tokens_by_prefix() {
    let tokens = [
        format!("ghp_{}", "aB3".repeat(12)),
        format!("github_pat_11AB{}", "cD4_".repeat(10)),
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".to_string(),
        "xoxp-1234567890-abcdefghij".to_string(),
        format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc"),
        format!("AIzaSyD{}", "x9Y8".repeat(8)),
    ];
    for token in &tokens {
        let out = check(
            &format!("GITHUB_TOKEN {token} used"),
            &[(K::ServiceToken, 1)],
        );
        assert_eq!(out, "GITHUB_TOKEN <redacted:service-token> used");
    }
    // Glued to a name by `=` or `_`, the name stays.
    let out = check(
        &format!("SLACK={} x_{}", tokens[2], tokens[0]),
        &[(K::ServiceToken, 2)],
    );
    assert_eq!(
        out,
        "SLACK=<redacted:service-token> x_<redacted:service-token>"
    );
    // The prefixes alone, and words that merely start alike, stay.
    check("ghp_ xoxb- sk_live_ AIza, ghp_short, sk_test_mode", &[]);
}

#[test]
fn redacting_twice_finds_nothing_new_for_every_new_rule() {
    let text = format!(
        "AWS_SECRET={SECRET} x_{SECRET} {} http://u:p4ss@10.1.1.1/ password=\"a b\" Authorization: Basic dXNlcjpw ghp_{}",
        SECRET.replace('/', r"\/"),
        "Zz9".repeat(12)
    );
    let out = check(
        &text,
        &[
            (K::AwsSecretKey, 3),
            (K::UrlCredentials, 1),
            (K::NamedSecret, 1),
            (K::BasicAuth, 1),
            (K::ServiceToken, 1),
        ],
    );
    assert!(!out.contains("bPxRfiCY") && !out.contains("p4ss") && !out.contains("Zz9Zz9"));
}
