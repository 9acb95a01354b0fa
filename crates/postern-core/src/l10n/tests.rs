//! The catalogue against its users: it parses, every id the code and the window ask for is in
//! it, and nothing in it goes unused.

use std::path::Path;

use super::*;

fn source_files(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "ts" || e == "html")
            && !path.ends_with("bindings.ts")
            // This file asks for a missing id on purpose.
            && !path.ends_with("l10n/tests.rs")
        {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Every source that shows words: the core, the app and the window.
fn sources() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts = Vec::new();
    for dir in [
        "crates/postern-types/src",
        "crates/postern-core/src",
        "src-tauri/src",
        "ui/src",
    ] {
        source_files(&root.join(dir), &mut texts);
    }
    texts.push(std::fs::read_to_string(root.join("ui/index.html")).unwrap());
    texts.join("\n")
}

/// The ids used in quotes: `text("id")`, `text_with("id", …)`, `data-l10n="id"`, `t("id")`.
fn used_ids(source: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for opener in [
        "text(\"",
        "text_with(\"",
        "data-l10n=\"",
        "t(\"",
        "MESSAGE: &str = \"",
    ] {
        for (i, _) in source.match_indices(opener) {
            // `t("` is not the end of `setText("`.
            let before = source[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &source[i + opener.len()..];
            if let Some(end) = rest.find('"') {
                ids.push(rest[..end].to_string());
            }
        }
    }
    ids.retain(|id| {
        !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c == '-') && id.contains('-')
    });
    ids
}

#[test]
fn the_catalogue_parses_without_an_error() {
    FluentResource::try_new(ENGLISH.to_string())
        .map(|_| ())
        .unwrap_or_else(|(_, errors)| panic!("{errors:?}"));
    let ids = message_ids(ENGLISH);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an id defined twice");
}

#[test]
fn every_id_asked_for_is_in_the_catalogue() {
    let defined = message_ids(ENGLISH);
    let missing: Vec<String> = used_ids(&sources())
        .into_iter()
        .filter(|id| !defined.contains(id))
        .collect();
    assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
}

#[test]
fn nothing_in_the_catalogue_goes_unused() {
    let source = sources();
    // Ids made from a name (`step-{name}`, `check-{key}`) are used through their prefix.
    let unused: Vec<String> = message_ids(ENGLISH)
        .into_iter()
        .filter(|id| !source.contains(&format!("\"{id}\"")))
        .filter(|id| {
            !["step-status-", "step-", "check-", "window-primary-"]
                .iter()
                .any(|prefix| id.starts_with(prefix) && source.contains(&format!("\"{prefix}")))
        })
        .collect();
    assert!(unused.is_empty(), "defined but never used: {unused:?}");
}

#[test]
fn window_messages_are_single_lines_with_plain_variables() {
    for (id, value) in window_texts() {
        assert!(
            !value.contains("->"),
            "{id}: the window fills in plain variables only"
        );
        assert!(!value.trim().is_empty(), "{id}");
    }
    assert_eq!(window_texts()["window-primary-connect"], "Connect");
}

#[test]
fn variables_are_filled_in_as_plain_text() {
    assert_eq!(
        text_with(
            "menu-account",
            &[
                ("account", "111122223333".into()),
                ("role", "Developer".into())
            ]
        ),
        "Account 111122223333 · role Developer"
    );
    // Numbers stay digits (no separators), and no isolation marks surround values.
    assert_eq!(
        text_with("expiry-left-minutes", &[("minutes", 1234.into())]),
        "in 1234 min"
    );
    assert_eq!(text("no-such-message"), "no-such-message");
}

#[test]
fn every_cause_says_the_same_through_fluent_and_through_the_plain_reader() {
    use postern_types::session::{Cause, HelperTrouble};
    use postern_types::tunnel::TunnelFailure;
    let detail = || "why".to_string();
    let causes = vec![
        Cause::ConnectRequested,
        Cause::SignInNeeded,
        Cause::SignInFailed { detail: detail() },
        Cause::KeychainUnavailable { detail: detail() },
        Cause::KeychainLocked { detail: detail() },
        Cause::IdentityCenterUnreachable { detail: detail() },
        Cause::IdentityCenterFault { detail: detail() },
        Cause::IdentityCenterDenied { detail: detail() },
        Cause::RoleNotGranted {
            account: "111122223333".into(),
            role: "Admin".into(),
        },
        Cause::ScopeDownRefused { detail: detail() },
        Cause::ProfileStoreUnreadable { detail: detail() },
        Cause::HelperUnavailable {
            detail: detail(),
            trouble: HelperTrouble::NotPermitted,
        },
        Cause::HelperVersion {
            helper: 1,
            agent: 2,
        },
        Cause::CountryNotAllowed {
            address: "203.0.113.9".parse().unwrap(),
            country: "FR".into(),
        },
        Cause::CountryDatabaseUnreadable {
            path: "/x.mmdb".into(),
            detail: detail(),
        },
        Cause::Internal { detail: detail() },
        Cause::PostureFailed {
            failing: vec!["firewall".into()],
            fixes: vec!["Turn the firewall on.".into()],
        },
        Cause::PostureUnknown {
            unknown: vec!["disk_encryption".into()],
        },
        Cause::VpnFailed {
            failure: TunnelFailure::Exited { status: 1 },
        },
        Cause::VpnReconnecting { attempt: 1, max: 3 },
        Cause::VpnLost,
        Cause::EgressMismatch {
            address: "198.51.100.10".parse().unwrap(),
        },
        Cause::EgressUndetermined { detail: detail() },
        Cause::CredentialsExpired,
        Cause::AllGatesOpen,
        Cause::UserDisconnected,
    ];
    let defined = message_ids(ENGLISH);
    for cause in &causes {
        let id = cause.message().id;
        assert!(
            defined.iter().any(|d| d == id),
            "{id} is not in the catalogue"
        );
        assert_eq!(sentence(cause), cause.sentence(), "{id}");
        assert!(
            !cause.sentence().contains("{ $"),
            "{id}: {}",
            cause.sentence()
        );
        assert_eq!(
            next_step(cause).unwrap_or_default(),
            cause.next_step(),
            "{id}"
        );
    }
    assert_eq!(
        causes[8].sentence(),
        "IAM Identity Center does not give you the role Admin in account 111122223333."
    );
}
