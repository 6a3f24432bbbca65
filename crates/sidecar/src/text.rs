//! Text that came from a server (setName, errmsg, error bodies) is data, not terminal input:
//! control characters are escaped and it is cut to a bounded length, so the "one line" stays one
//! line of a sane size whatever a hostile or broken server sends.

/// Longest server-provided string kept in a message.
pub const SERVER_TEXT_MAX: usize = 300;
/// Longest line (or JSON `reason`) the reporter prints; other JSON strings are cut at
/// [`SERVER_TEXT_MAX`].
pub const LINE_MAX: usize = 1000;

/// A server-provided string for a message: control characters (newlines included) escaped,
/// cut to [`SERVER_TEXT_MAX`] characters.
pub fn server(text: &str) -> String {
    cut(&escape_controls(text), SERVER_TEXT_MAX)
}

/// Escapes every control character (`\n`, `\u{1b}`, …) as Rust would in a string literal.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts to `max` characters, marking the cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((i, _)) => format!("{}… (cut)", &text[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_escaped_and_bounded() {
        assert_eq!(server("rs\u{1b}[2J\nx\0"), "rs\\u{1b}[2J\\nx\\u{0}");
        let long = server(&"é".repeat(10_000));
        assert!(long.chars().count() < SERVER_TEXT_MAX + 10);
        assert!(long.ends_with("(cut)"));
        assert_eq!(server("plain text"), "plain text");
    }
}
