//! The redaction registry: every secret the process holds is registered when it is read (a
//! [`crate::Secret`] registers itself), and every line the [`crate::report::Reporter`] prints is
//! passed through [`mask`]. So a password never comes out, whatever text carries it: our own
//! message, a URI echoed by clap, a server's 404 page reflecting the request path.

use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Values shorter than this are not masked in free text: hiding every "ab" would garble each
/// message and still reveal the value by what vanished. Such a password is refused by any policy.
pub const MIN_MASKED_LEN: usize = 3;

/// Registers `value` (and the forms it takes when printed: JSON-escaped, percent-encoded,
/// whitespace collapsed, `{:?}`-quoted, control characters escaped).
pub fn register(value: &str) {
    if value.len() < MIN_MASKED_LEN {
        return;
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let mut list = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    // Lines are made one line (whitespace runs collapse) before masking; messages quote values
    // with `{:?}` (Rust escapes) and the reporter escapes control characters.
    let one_line = crate::exit::one_line(value);
    let debug = format!("{value:?}");
    let debug = debug[1..debug.len() - 1].to_string();
    let escaped = crate::text::escape_controls(value);
    for form in [
        value.to_string(),
        json,
        percent_encode(value),
        one_line,
        debug,
        escaped,
    ] {
        if form.len() >= MIN_MASKED_LEN && !list.contains(&form) {
            list.push(form);
        }
    }
    // Longest first: a secret containing another is masked whole.
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Removes `value` from the registry: it is printed on purpose (`rc-bootstrap --show-token`).
pub fn allow(value: &str) {
    SECRETS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|s| !value.contains(s.as_str()));
}

/// Empties the registry: for the fuzzer, where each input stands for a fresh process.
#[doc(hidden)]
pub fn forget_all() {
    SECRETS.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// `text` with every registered secret replaced by `***` and every `user:password@` pattern's
/// password hidden (see [`userinfo`]).
pub fn mask(text: &str) -> String {
    // The registry first: the pattern pass may cut a registered value in two.
    let mut out = text.to_string();
    for s in SECRETS.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    userinfo(&out)
}

/// Hides the password of anything shaped like `[scheme:][//]user:password@host` in free text,
/// however malformed (`mongodb:/`, `mongodb//`, no scheme, `@` in the user, `/`, `?`, `#` in the
/// password): within a word (split at whitespace; a quoted value on one line, as clap quotes an argument,
/// is one word even with spaces), everything between the first ':' after the scheme and the
/// LAST '@' becomes `***`.
pub fn userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_whitespace() || "'\"`".contains(c)) {
        let c = rest[start..].chars().next().unwrap_or(' ');
        out.push_str(&in_url(&rest[..start]));
        out.push(c);
        rest = &rest[start + c.len_utf8()..];
        if !c.is_whitespace() {
            // A quote groups only up to its mate on the same line (clap quotes one argument):
            // an apostrophe in prose ("the bot's password") must not join lines into a "word".
            let line = rest.find('\n').unwrap_or(rest.len());
            if let Some(end) = rest[..line].find(c) {
                out.push_str(&in_url(&rest[..end]));
                out.push(c);
                rest = &rest[end + c.len_utf8()..];
            }
        }
    }
    out.push_str(&in_url(rest));
    out
}

/// [`userinfo`] for a text that is ONE URL (spaces included, however malformed).
pub fn in_url(word: &str) -> String {
    match password_span(word) {
        Some((start, end)) => format!("{}***{}", &word[..start], &word[end..]),
        None => word.to_string(),
    }
}

/// Registers the password of a URL-shaped value (an argument, an environment value) before
/// anything parses it: whatever later echoes it (clap quoting it, a parser), it is masked.
pub fn register_userinfo(value: &str) {
    if let Some((start, end)) = password_span(value) {
        register(&value[start..end]);
        // The password runs to the LAST '@' (it may hold an unescaped one), but what echoes
        // the value may cut it short (clap stops at a newline, a line is capped): every
        // shorter candidate, up to each earlier '@', is a secret too (found by fuzz/uri_secrets).
        for (at, _) in value[start..end].match_indices('@').take(16) {
            register(&value[start..start + at]);
        }
    }
}

/// Whether `value` is shaped like `[scheme:][//]user:password@host` (see [`userinfo`]).
pub fn has_password(value: &str) -> bool {
    password_span(value).is_some_and(|(start, end)| end > start)
}

/// Where the password of `[scheme:][//]user:password@host` is: from the first ':' after the
/// scheme to the LAST '@'.
fn password_span(word: &str) -> Option<(usize, usize)> {
    let at = word.rfind('@')?;
    // Skip a scheme (`http:`, `mongodb:`) and the slashes after it.
    let scheme_end = word
        .find(':')
        .filter(|&i| {
            i > 0
                && word[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && word[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && word[i + 1..].starts_with('/')
        })
        .map(|i| i + 1 + word[i + 1..].len() - word[i + 1..].trim_start_matches('/').len())
        .unwrap_or(0);
    if scheme_end > at {
        return None;
    }
    let colon = scheme_end + word[scheme_end..at].find(':')?;
    Some((colon + 1, at))
}

fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_in_any_form() {
        register("Zq-regist\"ered/pw");
        let text =
            "echo: Zq-regist\"ered/pw json: \"Zq-regist\\\"ered/pw\" url: Zq-regist%22ered%2Fpw";
        let shown = mask(text);
        assert!(!shown.contains("regist"), "{shown}");
        register("ab");
        assert_eq!(mask("ab cd"), "ab cd", "too short to mask in free text");
        register("Zq-shown-token");
        allow("http://x/hooks/1/Zq-shown-token");
        assert_eq!(mask("Zq-shown-token"), "Zq-shown-token");
    }

    #[test]
    fn a_password_cut_short_by_whatever_echoes_it_stays_hidden() {
        // The value's password runs to its last '@'; clap's echo stops at the newline, so
        // only the part up to the first '@' is shown (fuzz/corpus/uri_secrets/leak-quote-11720).
        register_userinfo("http://u/x:Zq'cut[,pw@h:99999\n\0@x");
        let shown = mask("unexpected argument 'http://u/x:Zq'cut[,pw@h:99999");
        assert!(!shown.contains("cut[,pw"), "{shown}");
    }

    #[test]
    fn an_apostrophe_in_prose_does_not_join_lines() {
        let help = "File holding the bot's password\n  [env: X_FILE]\n  Default: <bot>@localhost\n  without '#'";
        assert_eq!(userinfo(help), help);
        assert_eq!(userinfo("'mongodb://u:pw@h'"), "'mongodb://u:***@h'");
    }

    #[test]
    fn userinfo_is_hidden_however_malformed() {
        for (text, want) in [
            ("mongodb://u:Zpw@h:1", "mongodb://u:***@h:1"),
            ("mongodb:/u:Zpw@h", "mongodb:/u:***@h"),
            ("mongodb//u:Zpw@h", "mongodb//u:***@h"),
            ("u:Zpw@h", "u:***@h"),
            ("mongodb://us@r:Z/p?w#x@h/db", "mongodb://us@r:***@h/db"),
            ("mongodb://u?x:Zpw@h", "mongodb://u?x:***@h"),
            ("mongodb://u%3Ax:Zpw@h", "mongodb://u%3Ax:***@h"),
            ("http:/u:Zpw@rc", "http:/u:***@rc"),
            (
                "argument 'mongodb://u:Zpw@h' found",
                "argument 'mongodb://u:***@h' found",
            ),
            (
                "argument 'mongodb:/u:Z pw@h' found",
                "argument 'mongodb:/u:***@h' found",
            ),
        ] {
            assert_eq!(userinfo(text), want, "{text}");
        }
        for same in [
            "user@host:27017",
            "mongodb://h:27017",
            "a b @ c",
            "http://rc/x@y",
        ] {
            assert_eq!(userinfo(same), same);
        }
    }
}
