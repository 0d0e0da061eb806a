//! The `.env` reader: never panics, every key it yields is one a `KEY=value` line can name, and
//! what it read, written back out as one `KEY=value` line per pair (quoted where it must be),
//! reads back the same.
#![no_main]

use bouncer::config::dotenv::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = parse(text);
    for (key, _) in &pairs {
        assert!(
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
            "{key:?} read as a key"
        );
    }
    // Pairs with no faithful spelling (a value holding every quote kind and a line break, say)
    // are left out of the round trip.
    let writable: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(_, value)| spelled(value).is_some())
        .collect();
    let file: String = writable
        .iter()
        .map(|(key, value)| format!("{key}={}\n", spelled(value).unwrap()))
        .collect();
    assert_eq!(parse(&file), writable, "written back as {file:?}");
});

/// The value as a `.env` writer would spell it: bare when the reader keeps it as it is, else in
/// the first quote kind that reads back unchanged.
fn spelled(value: &str) -> Option<String> {
    let bare = !value.starts_with(['\'', '"', '`'])
        && !value.contains(['#', '\n', '\r'])
        && value.trim() == value;
    if bare {
        return Some(value.to_string());
    }
    // A backslash escapes the closing quote, so a value may not end in one; in `"` quotes the
    // reader also turns `\n` and `\r` into line breaks.
    if value.ends_with('\\') {
        return None;
    }
    ['\'', '`', '"']
        .into_iter()
        .find(|&q| {
            !value.contains(q) && (q != '"' || !value.contains("\\n") && !value.contains("\\r"))
        })
        .map(|q| format!("{q}{value}{q}"))
}
