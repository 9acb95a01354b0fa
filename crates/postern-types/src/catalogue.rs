//! The English of the words catalogue (`locales/en-US/postern.ftl`) for the messages this crate
//! words (the causes), read as written with their `{ $name }` filled in. The doors format the
//! same ids with Fluent in the person's language (`postern_core::l10n`); this reader keeps the
//! English in that one file without a Fluent engine in the root helper, which links this crate.

/// The reference catalogue.
pub const ENGLISH: &str = include_str!("../../../locales/en-US/postern.ftl");

/// A message of the catalogue: its id and its variables' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(id: &'static str) -> Self {
        Self {
            id,
            args: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// The message in English; its id when the catalogue lacks it (the tests see that none
    /// does).
    pub fn english(&self) -> String {
        let pattern = ENGLISH
            .lines()
            .find_map(|line| line.strip_prefix(self.id)?.strip_prefix(" = "))
            .unwrap_or(self.id);
        fill(pattern, &self.args)
    }
}

/// `{ $name }` replaced by its value; anything else as written.
pub fn fill(pattern: &str, args: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("{ $") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        match after.find(" }") {
            Some(end) => {
                let name = &after[..end];
                match args.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 3 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_and_the_rest_kept() {
        let m = Message::new("cause-helper-version")
            .with("helper", 2)
            .with("agent", 3);
        assert_eq!(
            m.english(),
            "The Postern VPN helper speaks protocol 2, this agent speaks 3."
        );
        assert_eq!(
            fill("a { $x } b { $y }", &[("x", "1".into())]),
            "a 1 b { $y }"
        );
        assert_eq!(Message::new("no-such-id").english(), "no-such-id");
    }
}
