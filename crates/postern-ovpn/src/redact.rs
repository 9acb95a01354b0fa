//! The secrets a VPN helper can hold, removed from a log line: private keys and inline key
//! blocks of a profile, the SAML assertion (as `SAMLResponse=` or the answer half of a CRV1
//! password), and the password of a management `password` command. The desktop core's
//! redactor covers far more (tokens, e-mail addresses, user names); this one is what the root
//! helper links, without a regex engine.

/// Inline blocks whose content is a key.
const KEY_BLOCKS: [&str; 5] = ["key", "tls-crypt", "tls-crypt-v2", "tls-auth", "secret"];

/// `line` with every secret the helper handles replaced by `<redacted:KIND>`.
pub fn secrets(line: &str) -> String {
    let mut out = pem_keys(line);
    for block in KEY_BLOCKS {
        out = between(&out, &format!("<{block}>"), &format!("</{block}>"), "key");
    }
    out = saml_response(&out);
    out = crv1_answer(&out);
    management_password(&out)
}

/// Replaces what lies between `open` and `close` (or to the end, when a log cut the block).
fn between(text: &str, open: &str, close: &str, kind: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        let body = start + open.len();
        out.push_str(&rest[..body]);
        out.push_str(&format!("<redacted:{kind}>"));
        match rest[body..].find(close) {
            Some(end) => rest = &rest[body + end..],
            None => return out,
        }
        out.push_str(close);
        rest = &rest[close.len()..];
    }
    out.push_str(rest);
    out
}

fn pem_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let Some(label_end) = rest[start + 11..].find("-----") else {
            break;
        };
        let label = &rest[start + 11..start + 11 + label_end];
        let header_end = start + 11 + label_end + 5;
        out.push_str(&rest[..header_end]);
        rest = &rest[header_end..];
        if !label.contains("PRIVATE KEY") {
            continue;
        }
        out.push_str("<redacted:private-key>");
        match rest.find("-----END ") {
            Some(end) => rest = &rest[end..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// `SAMLResponse=…` up to the next `&`, quote or white space.
fn saml_response(text: &str) -> String {
    const NAME: &str = "SAMLResponse=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(NAME) {
        out.push_str(&rest[..start + NAME.len()]);
        out.push_str("<redacted:saml-response>");
        rest = &rest[start + NAME.len()..];
        let end = rest
            .find(|c: char| c == '&' || c == '"' || c.is_whitespace())
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A CRV1 answer is `CRV1::state::response`: the state is the server's and harmless, the
/// response is the assertion.
fn crv1_answer(text: &str) -> String {
    const PREFIX: &str = "CRV1::";
    let Some(start) = text.find(PREFIX) else {
        return text.to_string();
    };
    let after = start + PREFIX.len();
    let Some(sep) = text[after..].find("::") else {
        return text.to_string();
    };
    let response = after + sep + 2;
    let end = text[response..]
        .find(|c: char| c == '"' || c.is_whitespace())
        .map_or(text.len(), |e| response + e);
    format!(
        "{}<redacted:saml-response>{}",
        &text[..response],
        &text[end..]
    )
}

/// `password "Auth" "secret"`: the second quoted value.
fn management_password(text: &str) -> String {
    let Some(start) = text.find("password \"") else {
        return text.to_string();
    };
    let name = start + "password \"".len();
    let Some(name_end) = text[name..].find('"').map(|e| name + e) else {
        return text.to_string();
    };
    let Some(value) = text[name_end + 1..].find('"').map(|v| name_end + 1 + v + 1) else {
        return text.to_string();
    };
    if text[value..].starts_with("CRV1::") {
        return text.to_string(); // its answer half is already gone, its state is harmless
    }
    let end = text[value..].find('"').map_or(text.len(), |e| value + e);
    format!("{}<redacted:password>{}", &text[..value], &text[end..])
}

#[cfg(test)]
mod tests {
    use super::secrets;

    #[test]
    fn keys_in_pem_and_inline_blocks_are_removed_and_certificates_kept() {
        let profile = "<cert>\n-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n</cert>\n\
                       <key>\n-----BEGIN PRIVATE KEY-----\nMIIEsecret\n-----END PRIVATE KEY-----\n</key>\n\
                       <tls-crypt>\nabcdef0123\n</tls-crypt>";
        let out = secrets(profile);
        assert!(out.contains("MIIBcert"), "{out}");
        assert!(!out.contains("MIIEsecret"), "{out}");
        assert!(!out.contains("abcdef0123"), "{out}");
        assert!(
            out.contains("<tls-crypt><redacted:key></tls-crypt>"),
            "{out}"
        );
        // A block cut off by the end of a log line loses everything after its start.
        let cut = secrets("read: -----BEGIN EC PRIVATE KEY-----\nMHcCAQ");
        assert_eq!(
            cut,
            "read: -----BEGIN EC PRIVATE KEY-----<redacted:private-key>"
        );
    }

    #[test]
    fn saml_assertions_and_passwords_are_removed_and_the_rest_kept() {
        assert_eq!(
            secrets("POST /acs SAMLResponse=PHNhbWw%2B&RelayState=x"),
            "POST /acs SAMLResponse=<redacted:saml-response>&RelayState=x"
        );
        assert_eq!(
            secrets("password \"Auth\" \"CRV1::instance-7f3a::PHNhbWxwOlJlc3BvbnNl\""),
            "password \"Auth\" \"CRV1::instance-7f3a::<redacted:saml-response>\""
        );
        assert_eq!(
            secrets("password \"Private Key\" \"hunter2\" now"),
            "password \"Private Key\" \"<redacted:password>\" now"
        );
        // The server's challenge carries the IdP address, which the helpdesk needs.
        let challenge = ">PASSWORD:Verification Failed: 'Auth' ['CRV1:R:instance-7f3a:b64:https://idp.example/']";
        assert_eq!(secrets(challenge), challenge);
        let state = "tunnel connected for uid 1000 (profile corp, 10.0.5.2)";
        assert_eq!(secrets(state), state);
    }
}
