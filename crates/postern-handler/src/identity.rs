//! One reading of identities, so a rule names a person the way the identity provider does:
//! case-folded and trimmed, and the forms a directory uses for one account (`user@domain`,
//! `DOMAIN\user`, and the bare `user`) compared as one.

/// Trimmed and case-folded: how identity providers and directories compare names.
pub fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

/// An account: its user name and, when the text named one, its domain (a DNS domain, or a
/// NetBIOS name such as `corp`), all folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub domain: Option<String>,
}

impl Identity {
    /// Reads `user@domain`, `DOMAIN\user` or `user`. With the directory's DNS domain known
    /// (`user_domain`), a bare name and the domain's NetBIOS name (its first label) resolve to
    /// it. `None` for text that names no one (empty or blank).
    pub fn parse(raw: &str, user_domain: Option<&str>) -> Option<Identity> {
        let text = fold(raw);
        if text.is_empty() {
            return None;
        }
        let (user, domain) = if let Some((domain, user)) = text.split_once('\\') {
            (user.trim(), Some(domain.trim()))
        } else if let Some((user, domain)) = text.rsplit_once('@') {
            (user.trim(), Some(domain.trim()))
        } else {
            (text.as_str(), None)
        };
        if user.is_empty() {
            // "CORP\" or "@corp": not an account; compared as the whole text.
            return Some(Identity {
                user: text.clone(),
                domain: None,
            });
        }
        let domain = match (domain.filter(|d| !d.is_empty()), user_domain) {
            (None, Some(home)) => Some(home.to_string()),
            (Some(d), Some(home)) if same_domain(d, home) => Some(home.to_string()),
            (d, _) => d.map(str::to_string),
        };
        Some(Identity {
            user: user.to_string(),
            domain,
        })
    }

    /// `user@domain`, or the bare name when no domain is known.
    pub fn canonical(&self) -> String {
        match &self.domain {
            Some(d) => format!("{}@{d}", self.user),
            None => self.user.clone(),
        }
    }

    /// Whether a rule naming `rule` covers this account: the same user, and the same domain when
    /// both name one (a bare name is read in the rule's domain; a bare rule names that user in
    /// any domain, so a block list errs toward blocking).
    pub fn matches(&self, rule: &Identity) -> bool {
        self.user == rule.user
            && match (&self.domain, &rule.domain) {
                (Some(a), Some(b)) => same_domain(a, b),
                _ => true,
            }
    }
}

/// `corp.example.com` and `corp` (its NetBIOS name, the first label) are one domain.
fn same_domain(a: &str, b: &str) -> bool {
    let netbios_of =
        |short: &str, long: &str| !short.contains('.') && long.split('.').next() == Some(short);
    a == b || netbios_of(a, b) || netbios_of(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Identity {
        Identity::parse(s, None).unwrap()
    }

    #[test]
    fn the_forms_of_one_account_are_one() {
        let rule = id("mallory@corp.example.com");
        for form in [
            "mallory@corp.example.com",
            "MALLORY@corp.example.com",
            "CORP\\mallory",
            "corp.example.com\\Mallory",
            "mallory",
            "mallory@corp.example.com ",
            "  Mallory@CORP.EXAMPLE.COM\t",
        ] {
            assert!(id(form).matches(&rule), "{form:?}");
        }
        for other in [
            "alice@corp.example.com",
            "mallory@other.example",
            "OTHER\\mallory",
            "mallory2",
        ] {
            assert!(!id(other).matches(&rule), "{other:?}");
        }
        assert!(Identity::parse("   ", None).is_none());
    }

    #[test]
    fn the_directory_domain_resolves_bare_and_netbios_names() {
        let home = Some("corp.example.com");
        for form in ["mallory", "CORP\\Mallory", "Mallory@Corp.Example.Com"] {
            assert_eq!(
                Identity::parse(form, home).unwrap().canonical(),
                "mallory@corp.example.com"
            );
        }
        assert_eq!(
            Identity::parse("mallory@other.example", home)
                .unwrap()
                .canonical(),
            "mallory@other.example"
        );
    }
}
