//! OpenVPN 2.6's own reading of a config file, mirrored rule for rule so that what Postern checks
//! is exactly what OpenVPN runs (`src/openvpn/options.c`: `read_config_file`, `parse_line`,
//! `check_inline_file`, `read_inline_file`). Where Postern's reading and OpenVPN's could differ,
//! Postern refuses the line instead of guessing:
//! - OpenVPN reads a line with `fgets` into a 256-byte buffer (`OPTION_LINE_SIZE`): a longer line
//!   is cut, and its tail is read as a line of its own. Postern refuses every line longer than
//!   [`MAX_LINE_BYTES`], inside inline blocks too.
//! - `parse_line` splits on C `isspace` (not Unicode spaces), groups `"…"` and `'…'`, lets a
//!   backslash escape the next character outside single quotes (only `\\`, `\"` and a space are
//!   accepted), ends the line at a token that starts with `#` or `;`, keeps at most 255 bytes a
//!   parameter and reads at most 16 of them.
//! - A leading `--` is dropped from the first token (`bypass_doubledash`, only if longer than 2).
//! - A line of exactly one token `<tag>`, quoted or not, opens an inline block; the block ends at
//!   the first line that, after leading whitespace, *starts with* `</tag>`: whatever follows the
//!   close tag on that line is silently ignored by OpenVPN, so Postern refuses it.
//! - A UTF-8 byte order mark at the start of the file is skipped.

/// The longest line OpenVPN reads whole: `fgets` into 256 bytes keeps 255, and one of them must
/// be the newline.
pub const MAX_LINE_BYTES: usize = 254;
/// `OPTION_PARM_SIZE` less its terminating NUL.
const MAX_PARAMETER_BYTES: usize = 255;
/// `MAX_PARMS`: OpenVPN stops reading a line after this many tokens, dropping the rest silently.
const MAX_TOKENS: usize = 16;

/// Why a line cannot be read the way OpenVPN would read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxError {
    TooLong,
    ControlCharacter,
    BadBackslash,
    UnclosedQuote,
    UnclosedSingleQuote,
    TrailingBackslash,
    ParameterTooLong,
    TooManyParameters,
}

impl SyntaxError {
    pub fn describe(self) -> String {
        match self {
            Self::TooLong => format!(
                "the line is longer than {MAX_LINE_BYTES} bytes: OpenVPN would read its tail as a line of its own"
            ),
            Self::ControlCharacter => {
                "the line holds a control character (only tabs are accepted)".into()
            }
            Self::BadBackslash => {
                "the line has a backslash OpenVPN does not accept (only \\\\, \\\" and \"\\ \")"
                    .into()
            }
            Self::UnclosedQuote => "the line has an unclosed double quote".into(),
            Self::UnclosedSingleQuote => "the line has an unclosed single quote".into(),
            Self::TrailingBackslash => "the line ends with a backslash".into(),
            Self::ParameterTooLong => format!(
                "a parameter is longer than {MAX_PARAMETER_BYTES} bytes, more than OpenVPN reads"
            ),
            Self::TooManyParameters => format!(
                "the line has more than {MAX_TOKENS} words: OpenVPN would drop the rest silently"
            ),
        }
    }
}

/// The file's lines as OpenVPN's `fgets` sees them (split at `\n` only), numbered from 1, with
/// a byte order mark skipped and one `\r` before the newline removed (it is whitespace to OpenVPN).
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(move |_| !text.is_empty())
}

/// What every line must be before it is read at all: short enough to be one `fgets` piece,
/// and free of control characters (a lone `\r`, a form feed or an escape sequence would be
/// whitespace or text to OpenVPN and a surprise to a person reading the file).
pub fn check_line(line: &str) -> Result<(), SyntaxError> {
    // +1: the `\r` that `lines` removed still counts against OpenVPN's buffer.
    if line.len() + 1 > MAX_LINE_BYTES {
        return Err(SyntaxError::TooLong);
    }
    if line.chars().any(|c| c != '\t' && c.is_control()) {
        return Err(SyntaxError::ControlCharacter);
    }
    Ok(())
}

/// C's `isspace` in the "C" locale, plus the string's terminating NUL (OpenVPN's `space`).
fn space(b: u8) -> bool {
    matches!(b, 0 | b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A line's words exactly as `parse_line` produces them.
pub fn tokens(line: &str) -> Result<Vec<String>, SyntaxError> {
    #[derive(PartialEq)]
    enum State {
        Initial,
        Unquoted,
        Quoted,
        SingleQuoted,
    }
    let bytes = line.as_bytes();
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut parameter = Vec::new();
    let mut state = State::Initial;
    let mut backslash = false;
    // OpenVPN walks the C string up to and including its NUL, which ends the last word.
    for i in 0..=bytes.len() {
        let input = bytes.get(i).copied().unwrap_or(0);
        if !backslash && input == b'\\' && state != State::SingleQuoted {
            backslash = true;
            continue;
        }
        let mut out = None;
        let mut done = false;
        match state {
            State::Initial => {
                if !space(input) {
                    if input == b';' || input == b'#' {
                        break;
                    }
                    if !backslash && input == b'"' {
                        state = State::Quoted;
                    } else if !backslash && input == b'\'' {
                        state = State::SingleQuoted;
                    } else {
                        out = Some(input);
                        state = State::Unquoted;
                    }
                }
            }
            State::Unquoted => {
                if !backslash && space(input) {
                    done = true;
                } else {
                    out = Some(input);
                }
            }
            State::Quoted => {
                if !backslash && input == b'"' {
                    done = true;
                } else {
                    out = Some(input);
                }
            }
            State::SingleQuoted => {
                if input == b'\'' {
                    done = true;
                } else {
                    out = Some(input);
                }
            }
        }
        if done {
            words.push(std::mem::take(&mut parameter));
            state = State::Initial;
        }
        let out = out.filter(|&b| b != 0);
        if backslash
            && let Some(b) = out
            && !(b == b'\\' || b == b'"' || space(b))
        {
            return Err(SyntaxError::BadBackslash);
        }
        backslash = false;
        if let Some(b) = out {
            if parameter.len() >= MAX_PARAMETER_BYTES {
                return Err(SyntaxError::ParameterTooLong);
            }
            parameter.push(b);
        }
        if words.len() >= MAX_TOKENS {
            // OpenVPN stops here; a 17th word would be lost without a word.
            if bytes[i.min(bytes.len())..]
                .iter()
                .skip(1)
                .any(|&b| !space(b))
            {
                return Err(SyntaxError::TooManyParameters);
            }
            break;
        }
    }
    match state {
        State::Initial => {}
        State::Quoted => return Err(SyntaxError::UnclosedQuote),
        State::SingleQuoted => return Err(SyntaxError::UnclosedSingleQuote),
        State::Unquoted => return Err(SyntaxError::TrailingBackslash),
    }
    // Splits happen only at ASCII bytes, so every word is still UTF-8.
    Ok(words
        .into_iter()
        .map(|w| String::from_utf8_lossy(&w).into_owned())
        .collect())
}

/// The option name OpenVPN looks up for a line's first word.
pub fn option_name(first: &str) -> &str {
    if first.len() >= 3 {
        first.strip_prefix("--").unwrap_or(first)
    } else {
        first
    }
}

/// The tag a line opens, by `check_inline_file`'s rule: exactly one word, `<` first, `>` last.
pub fn opening_tag(words: &[String]) -> Option<&str> {
    match words {
        [only] => {
            let name = option_name(only);
            (name.len() >= 2 && name.starts_with('<') && name.ends_with('>'))
                .then(|| &name[1..name.len() - 1])
        }
        _ => None,
    }
}

/// Whether a line ends the block `tag`, by `read_inline_file`'s rule (leading whitespace, then
/// `</tag>` as a prefix), and what follows the close tag on that line.
pub fn closing<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line.trim_start_matches(|c: char| c.is_ascii() && space(c as u8));
    rest.strip_prefix('<')?
        .strip_prefix('/')?
        .strip_prefix(tag)?
        .strip_prefix('>')
}

/// One word written so that `parse_line` reads it back unchanged.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && !word.starts_with(['#', ';'])
        && !word
            .bytes()
            .any(|b| space(b) || matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        tokens(line).unwrap()
    }

    #[test]
    fn words_split_as_parse_line_splits_them() {
        assert_eq!(
            words(r#"static-challenge "Enter \"OTP\"" 1"#),
            ["static-challenge", "Enter \"OTP\"", "1"]
        );
        assert_eq!(words(r"remote a\ b 443"), ["remote", "a b", "443"]);
        assert_eq!(words("remote host #comment 1"), ["remote", "host"]);
        assert_eq!(words("remote host#x ;y"), ["remote", "host#x"]);
        assert_eq!(words(r"verb 'a\b'"), ["verb", r"a\b"]);
        assert_eq!(words("# comment"), Vec::<String>::new());
        // A no-break space is text to OpenVPN, not a separator.
        assert_eq!(words("remote\u{a0}x"), ["remote\u{a0}x"]);
        assert_eq!(words("\"<ca>\""), ["<ca>"]);
    }

    #[test]
    fn what_openvpn_refuses_or_reads_otherwise_is_an_error() {
        assert_eq!(tokens(r"remote \x"), Err(SyntaxError::BadBackslash));
        assert_eq!(tokens("remote \"x"), Err(SyntaxError::UnclosedQuote));
        assert_eq!(tokens("remote 'x"), Err(SyntaxError::UnclosedSingleQuote));
        assert_eq!(tokens("remote x\\"), Err(SyntaxError::TrailingBackslash));
        assert_eq!(
            tokens(&format!("remote {}", "a".repeat(256))),
            Err(SyntaxError::ParameterTooLong)
        );
        let seventeen = vec!["w"; 17].join(" ");
        assert_eq!(tokens(&seventeen), Err(SyntaxError::TooManyParameters));
        assert_eq!(words(&vec!["w"; 16].join(" ")).len(), 16);
    }

    #[test]
    fn tags_open_and_close_by_openvpns_rules() {
        assert_eq!(opening_tag(&words("<ca>")), Some("ca"));
        assert_eq!(opening_tag(&words("  \"<ca>\"  # x")), Some("ca"));
        assert_eq!(opening_tag(&words("--<ca>")), Some("ca"));
        assert_eq!(opening_tag(&words("<ca> x")), None);
        assert_eq!(closing("</ca>", "ca"), Some(""));
        assert_eq!(closing("  </ca>plugin x", "ca"), Some("plugin x"));
        assert_eq!(closing("</cax>", "ca"), None);
        assert_eq!(closing("x</ca>", "ca"), None);
    }

    #[test]
    fn lines_are_what_fgets_reads() {
        assert_eq!(check_line(&"a".repeat(253)), Ok(()));
        assert_eq!(check_line(&"a".repeat(254)), Err(SyntaxError::TooLong));
        assert_eq!(
            check_line("verb 3\rplugin x"),
            Err(SyntaxError::ControlCharacter)
        );
        assert_eq!(check_line("verb\t3"), Ok(()));
        let read: Vec<_> = lines("\u{feff}client\r\nverb 3\n\n").collect();
        assert_eq!(read, [(1, "client"), (2, "verb 3"), (3, "")]);
    }

    #[test]
    fn quoted_words_read_back_unchanged() {
        for w in [
            "plain",
            "two words",
            "q\"uote",
            "back\\slash",
            "#hash",
            ";semi",
            "it's",
            "",
            "<ca>",
            "tab\there",
        ] {
            let line = format!("verb {}", quote(w));
            assert_eq!(words(&line), ["verb", w], "{line}");
        }
    }
}
