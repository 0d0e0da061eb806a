//! `.env` files read the way LibreChat's Node `dotenv` reads them, so one `.env` can serve both.
//! Node's rules differ from the Rust `dotenvy` crate's: unquoted values may contain spaces
//! (`SESSION_EXPIRY=1000 * 60 * 15`, as LibreChat's `.env.example` writes it) and end at `#`.
//!
//! Rules: `KEY=VALUE` per line (`export ` prefix allowed, keys of letters, digits, `_ . -`);
//! `#` starts a comment; an unquoted value is trimmed and ends at `#` or the end of the line; a
//! value in `'`, `"` or `` ` `` quotes may span lines, and in `"` quotes `\n` and `\r` become
//! newlines. Lines that do not fit are ignored, as Node does.

/// Pairs in file order (a later duplicate wins when collected into a map).
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start_matches('\u{feff}');
    while !rest.is_empty() {
        rest = parse_entry(rest, &mut out);
    }
    out
}

/// Parses one entry at the start of `s` and returns what follows it.
fn parse_entry<'a>(s: &'a str, out: &mut Vec<(String, String)>) -> &'a str {
    let s = s.trim_start();
    let s = s.strip_prefix("export ").map(str::trim_start).unwrap_or(s);
    let key_len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let (key, after_key) = s.split_at(key_len);
    let after_key = after_key.trim_start_matches([' ', '\t']);
    let Some(value_part) = after_key.strip_prefix('=') else {
        return skip_line(s);
    };
    if key.is_empty() {
        return skip_line(s);
    }
    let value_part = value_part.trim_start_matches([' ', '\t']);
    if let Some(quote) = value_part
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '`'))
    {
        if let Some(end) = closing_quote(&value_part[1..], quote) {
            let inner = &value_part[1..1 + end];
            let value = if quote == '"' {
                inner.replace("\\n", "\n").replace("\\r", "\r")
            } else {
                inner.to_string()
            };
            out.push((key.to_string(), value));
            return skip_line(&value_part[2 + end..]);
        }
    }
    let line_end = value_part.find(['\n', '\r']).unwrap_or(value_part.len());
    let line = &value_part[..line_end];
    let value = line.split('#').next().unwrap_or("").trim();
    out.push((key.to_string(), value.to_string()));
    &value_part[line_end..]
}

/// Index of the first `quote` in `s` not escaped by a backslash.
fn closing_quote(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn skip_line(s: &str) -> &str {
    match s.find('\n') {
        Some(i) => &s[i + 1..],
        None => "",
    }
}

/// Reads a file; `Ok(None)` when it does not exist.
pub fn read(path: &std::path::Path) -> std::io::Result<Option<Vec<(String, String)>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn get(text: &str, key: &str) -> Option<String> {
        parse(text)
            .into_iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn reads_librechat_style_env_files() {
        let text = "\
# LibreChat .env
HOST=localhost
SESSION_EXPIRY=1000 * 60 * 15
REFRESH_TOKEN_EXPIRY=(1000 * 60 * 60 * 24) * 7
APP_TITLE=My Chat   # the name
export PORT=3080
EMPTY=
  INDENTED = yes
QUOTED=\"two words # not a comment\"
SINGLE='it''s'
MULTI=\"line one
line two\"
ESCAPED=\"a\\nb\"
BACKTICK=`say \"hi\"`
not a valid line
AFTER=after
";
        assert_eq!(get(text, "HOST").as_deref(), Some("localhost"));
        assert_eq!(
            get(text, "SESSION_EXPIRY").as_deref(),
            Some("1000 * 60 * 15")
        );
        assert_eq!(
            get(text, "REFRESH_TOKEN_EXPIRY").as_deref(),
            Some("(1000 * 60 * 60 * 24) * 7")
        );
        assert_eq!(get(text, "APP_TITLE").as_deref(), Some("My Chat"));
        assert_eq!(get(text, "PORT").as_deref(), Some("3080"));
        assert_eq!(get(text, "EMPTY").as_deref(), Some(""));
        assert_eq!(get(text, "INDENTED").as_deref(), Some("yes"));
        assert_eq!(
            get(text, "QUOTED").as_deref(),
            Some("two words # not a comment")
        );
        assert_eq!(get(text, "MULTI").as_deref(), Some("line one\nline two"));
        assert_eq!(get(text, "ESCAPED").as_deref(), Some("a\nb"));
        assert_eq!(get(text, "BACKTICK").as_deref(), Some("say \"hi\""));
        assert_eq!(get(text, "AFTER").as_deref(), Some("after"));
        assert_eq!(get(text, "not"), None);
    }

    #[test]
    fn unterminated_quote_reads_to_end_of_line() {
        assert_eq!(get("A=\"open\nB=2\n", "A").as_deref(), Some("\"open"));
        assert_eq!(get("A=\"open\nB=2\n", "B").as_deref(), Some("2"));
    }
}
