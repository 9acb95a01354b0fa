//! Text from outside (a profile, a server, an identity provider) shown to a person: control
//! characters are escaped so that a terminal or a log viewer never interprets them.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character (C0, DEL, C1) written as `\u{..}`, except tab; a
/// backslash stays as it is. Printable text, of any script, is returned borrowed.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c != '\t' && c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_line_breaks_are_made_visible() {
        assert_eq!(
            escape_control("pl\u{1b}[2Jugin\r\n\u{9b}x\u{7f}"),
            "pl\\u{1b}[2Jugin\\u{d}\\u{a}\\u{9b}x\\u{7f}"
        );
    }

    #[test]
    fn printable_text_is_left_alone() {
        for s in [
            "remote vpn.example.com 443",
            "Zugriff verweigert\tß",
            "日本語",
        ] {
            assert!(matches!(escape_control(s), Cow::Borrowed(b) if b == s));
        }
    }
}
