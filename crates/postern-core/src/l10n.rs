//! The words Postern shows people, from one catalogue per language (`locales/LANG/postern.ftl`,
//! Mozilla's Fluent), English first: a translation is a file, not a code change. The tray, the
//! window, notifications and the session's status lines take their text from here; the window
//! gets its fixed labels as one map ([`window_texts`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use postern_types::catalogue::Message;
use postern_types::session::Cause;

/// The reference catalogue.
pub const ENGLISH: &str = include_str!("../../../locales/en-US/postern.ftl");

fn bundle() -> &'static FluentBundle<FluentResource> {
    static BUNDLE: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let language: unic_langid::LanguageIdentifier = "en-US".parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![language]);
        // Plain text: terminals, tray menus and notifications show the isolation marks Fluent
        // would otherwise put around each value.
        bundle.set_use_isolating(false);
        // A catalogue that does not parse is caught by the tests; what parsed is used.
        let resource = FluentResource::try_new(ENGLISH.to_string()).unwrap_or_else(|(r, _)| r);
        let _ = bundle.add_resource(resource);
        bundle
    })
}

/// A value for a message's `{ $name }`.
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Number(n)
    }
}

/// The message `id` with its variables; a missing message shows its id (the tests make sure
/// none is missing).
pub fn text_with(id: &str, args: &[(&str, Arg)]) -> String {
    let bundle = bundle();
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_string();
    };
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        match value {
            Arg::Text(s) => fluent_args.set(*name, FluentValue::from(*s)),
            // Numbers as plain digits: ids and counts must not gain group separators.
            Arg::Number(n) => fluent_args.set(*name, FluentValue::from(n.to_string())),
        }
    }
    let mut errors = Vec::new();
    let args = (!args.is_empty()).then_some(&fluent_args);
    bundle
        .format_pattern(pattern, args, &mut errors)
        .into_owned()
}

/// The message `id`, which has no variables.
pub fn text(id: &str) -> String {
    text_with(id, &[])
}

/// A message the types crate words (a cause's), in the person's language.
pub fn message(m: &Message) -> String {
    let args: Vec<(&str, Arg)> = m
        .args
        .iter()
        .map(|(name, value)| (*name, Arg::Text(value)))
        .collect();
    text_with(m.id, &args)
}

/// Why a session changed, as the doors say it.
pub fn sentence(cause: &Cause) -> String {
    message(&cause.message())
}

/// What to do about it, when there is something to do.
pub fn next_step(cause: &Cause) -> Option<String> {
    cause
        .next_message()
        .map(|m| message(&m))
        .filter(|s| !s.is_empty())
}

/// The messages the window words itself with (`window-…`, and the steps' `step-…`), as
/// written, by id. They are one line each with at most plain `{ $name }` variables (the tests
/// hold them to it), which the window fills in itself.
pub fn window_texts() -> BTreeMap<String, String> {
    ENGLISH
        .lines()
        .filter(|l| l.starts_with("window-") || l.starts_with("step-"))
        .filter_map(|l| l.split_once(" = "))
        .map(|(id, value)| (id.trim().to_string(), value.to_string()))
        .collect()
}

/// The message ids a catalogue defines, in order.
pub fn message_ids(catalogue: &str) -> Vec<String> {
    catalogue
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
