use super::*;

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----";

fn export(extra: &str) -> String {
    format!(
        "client\ndev tun\nproto udp\nremote asdf.cvpn-endpoint-0011abc.prod.clientvpn.eu-west-2.amazonaws.com 443\nremote-random-hostname\nresolv-retry infinite\nnobind\nremote-cert-tls server\ncipher AES-256-GCM\nverb 3\n<ca>\n{PEM}\n</ca>\n<cert>\n{PEM}\n</cert>\n<key>\n{KEY}\n</key>\nreneg-sec 0\n{extra}"
    )
}

fn refused(text: &str) -> Vec<ProfileIssue> {
    match Profile::parse(text.as_bytes()) {
        Err(ProfileError::Refused(i)) => i,
        other => panic!("expected refusal, got {other:?}"),
    }
}

#[test]
fn an_aws_export_parses_and_renders_cleanly() {
    let p = Profile::parse(export("").as_bytes()).unwrap();
    assert_eq!(p.auth, AuthMode::Certificate);
    assert_eq!(p.remotes[0].port, Some(443));
    assert!(p.key.as_deref().unwrap().contains("PRIVATE KEY"));
    let clean = p.render(false);
    assert!(
        !clean.contains("PRIVATE KEY"),
        "the on-disk copy has no key"
    );
    let again = Profile::parse(p.render(true).as_bytes()).unwrap();
    assert_eq!(again, p, "render(true) round-trips");
}

#[test]
fn every_dangerous_directive_is_refused_with_its_line() {
    for (line, why) in [
        ("plugin /tmp/evil.so", "loads a code library"),
        ("up \"/bin/sh -c 'id > /tmp/x'\"", "runs a program"),
        ("down /x", "runs a program"),
        ("route-up /x", "runs a program"),
        ("ipchange /x", "runs a program"),
        ("tls-verify /x", "runs a program"),
        ("script-security 2", "allows running programs"),
        ("setenv IV_GUI_VER evil", "changes what OpenVPN"),
        ("management 127.0.0.1 7505", "control channel"),
        ("management-hold", "control channel"),
        ("log /etc/passwd", "writes files"),
        ("status /tmp/s", "writes files"),
        ("writepid /tmp/p", "writes files"),
        ("cd /", "file system"),
        ("config /etc/other.conf", "file system"),
        ("providers legacy", "cryptographic module"),
        ("engine dynamic", "cryptographic module"),
        ("pkcs11-providers /x.so", "cryptographic module"),
        ("ca /etc/ssl/ca.pem", "points to a file"),
        (
            "auth-user-pass /home/u/creds.txt",
            "reads credentials from disk",
        ),
        ("--up /x", "runs a program"),
    ] {
        let issues = refused(&export(line));
        assert_eq!(issues.len(), 1, "{line}: {issues:?}");
        assert_eq!(issues[0].line, export("").lines().count() + 1, "{line}");
        assert!(
            issues[0].message.contains(why),
            "{line}: {}",
            issues[0].message
        );
    }
}

#[test]
fn inline_looking_tricks_are_caught() {
    // A directive smuggled after a fake end of the CA block.
    let sneaky = export("").replace("</ca>", "</ca>\nplugin /tmp/evil.so");
    assert!(refused(&sneaky)[0].message.contains("loads a code library"));
    // An unknown inline block, a tag inside a block, an unclosed block.
    assert!(
        refused(&export("<connection>\nremote x\n</connection>"))[0]
            .message
            .contains("<connection>")
    );
    let nested = export("").replace("<ca>\n", "<ca>\n<key>\n");
    assert!(
        refused(&nested)
            .iter()
            .any(|i| i.message.contains("a tag inside the <ca> block"))
    );
    let truncated = export("").replace("</key>\nreneg-sec 0\n", "");
    assert!(
        refused(&truncated)
            .iter()
            .any(|i| i.message.contains("never closed"))
    );
    // Duplicate blocks (the second could replace the first).
    assert!(
        refused(&export("<ca>\nx\n</ca>"))
            .iter()
            .any(|i| i.message.contains("a second <ca>"))
    );
}

#[test]
fn missing_material_is_named() {
    let no_key = export("").replace(&format!("<key>\n{KEY}\n</key>\n"), "");
    assert!(
        refused(&no_key)
            .iter()
            .any(|i| i.message.contains("no <key> block"))
    );
    let no_ca = export("").replace(&format!("<ca>\n{PEM}\n</ca>\n"), "");
    assert!(
        refused(&no_ca)
            .iter()
            .any(|i| i.message.contains("no <ca> block"))
    );
    assert!(
        refused("verb 3\n")
            .iter()
            .any(|i| i.message.contains("no `remote` line"))
    );
}

#[test]
fn saml_and_password_profiles_are_recognized() {
    let saml = export("auth-user-pass\nauth-federate\nauth-retry interact\n").replace(
        &format!("<cert>\n{PEM}\n</cert>\n<key>\n{KEY}\n</key>\n"),
        "",
    );
    assert_eq!(
        Profile::parse(saml.as_bytes()).unwrap().auth,
        AuthMode::Federated
    );
    let ad = export("auth-user-pass\n");
    assert_eq!(
        Profile::parse(ad.as_bytes()).unwrap().auth,
        AuthMode::UserPassword
    );
}

#[test]
fn binary_and_huge_files_are_not_profiles() {
    assert_eq!(
        Profile::parse(b"\x7fELF\x02\x01\x01\0\0"),
        Err(ProfileError::Binary)
    );
    assert_eq!(
        Profile::parse(&[0xff, 0xfe, b'a']),
        Err(ProfileError::Binary)
    );
    assert_eq!(
        Profile::parse(&vec![b'#'; MAX_PROFILE_BYTES + 1]),
        Err(ProfileError::TooLarge)
    );
}

/// The desync an attacker used: lines OpenVPN reads differently from a naive parser.
#[test]
fn what_openvpn_would_read_as_directives_is_never_taken_for_block_text() {
    let plugin =
        "plugin /usr/lib/x86_64-linux-gnu/openvpn/plugins/openvpn-plugin-down-root.so /bin/sh";
    let cases = [
        // A close tag with a tail ends the block for OpenVPN.
        (
            export("").replace(
                "-----END CERTIFICATE-----\n</ca>",
                &format!("-----END CERTIFICATE-----\n</ca>x\n{plugin}\n<ca>"),
            ),
            "text after </ca>",
        ),
        // A line OpenVPN cuts in two: its 256-byte tail becomes a line of its own.
        (
            export("").replace(
                "MIIB\n-----END CERTIFICATE-----\n</ca>",
                &format!(
                    "MIIB{}</ca>\n{plugin}\n-----END CERTIFICATE-----\n</ca>",
                    "A".repeat(251)
                ),
            ),
            "longer than 254 bytes",
        ),
        // A quoted tag opens a block for OpenVPN, which then swallows the real close tag.
        (
            export(&format!("\"<tls-auth>\"\n</ca>\n{plugin}\n")),
            "tls-auth",
        ),
        // A lone CR is whitespace to OpenVPN.
        (export("verb 3\rplugin /x.so"), "control character"),
        // `--` before a tag, a comment after it: still a tag.
        (
            export("--<connection> # x\nremote x\n</connection>"),
            "<connection> is not allowed",
        ),
    ];
    for (text, why) in cases {
        let issues = refused(&text);
        assert!(
            issues.iter().any(|i| i.message.contains(why)),
            "{why}: {issues:?}"
        );
    }
}

#[test]
fn blocks_are_rewritten_from_what_they_hold() {
    let dump = export("").replace(
        "<cert>\n",
        "<cert>\nCertificate:\n    Data:\n        Version: 3 (0x2)\n",
    );
    let p = Profile::parse(dump.as_bytes()).unwrap();
    assert_eq!(p.cert.as_deref(), Some(format!("{PEM}\n").as_str()));
    assert!(!p.render(true).contains("Version: 3"));
    let junk = export("").replace("MIIE\n", "MIIE\nplugin x\n");
    assert!(refused(&junk)[0].message.contains("<key> block"));
}

#[test]
fn words_are_read_as_openvpn_reads_them() {
    // A backslash-escaped space joins words for OpenVPN; the re-emitted line quotes it.
    let p = Profile::parse(export("static-challenge Enter\\ code 1").as_bytes()).unwrap();
    let sc = p
        .directives
        .iter()
        .find(|d| d.name == "static-challenge")
        .unwrap();
    assert_eq!(sc.args, ["Enter code", "1"]);
    assert!(
        p.render(false)
            .contains("static-challenge \"Enter code\" 1")
    );
    // A comment after the arguments is not an argument.
    let p = Profile::parse(export("verb 3 # chatty").as_bytes()).unwrap();
    assert!(
        p.directives
            .iter()
            .any(|d| d.name == "verb" && d.args == ["3"])
    );
}

#[test]
fn refusals_show_control_characters_escaped() {
    let issues = refused(&export("\u{9b}31mplugin x"));
    assert!(
        issues[0].message.contains("control character"),
        "{issues:?}"
    );
    let issues = refused(&export("x\u{200b}\u{1b} 1"));
    assert!(!issues[0].message.contains('\u{1b}'), "{issues:?}");
}
