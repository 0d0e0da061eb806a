//! The gateway's request-target parser, differentially: the path Bouncer authorizes is the path
//! it forwards, and no other parser a client library or a backend uses reads that path another
//! way. For every target `s` that `request_target::parse` accepts as `t`:
//!
//! 1. `http`'s parser (hyper's, the forwarding side) reads `t.path_and_query()` back as the same
//!    path and query;
//! 2. a WHATWG URL parser (browsers, Node's `URL`, reqwest) reads it as the same path;
//! 3. `parse` is a fixpoint: `t.path_and_query()` parses to the same path and query;
//! 4. `t.path()` is canonical: it starts with `/` and holds no `\`, no control byte, no `//`,
//!    no `.` or `..` segment, no `%2f`, `%5c` or `%2e` in any case, and no `.` or `..` segment
//!    appears once it is percent-decoded;
//! 5. for an `s` hyper itself would take as a request target, the WHATWG reading of the
//!    ORIGINAL `s`, after merging `//` (which Bouncer's matching does too), is `t.path()`,
//!    up to the spelling of percent-escapes (`%41` and `A`, `%3a` and `%3A` are one path to
//!    every backend). This is what forward-auth needs: there the proxy sends the client's own
//!    target to the backend, not Bouncer's canonical one.
//!
//! Property 5 decides two cases a parser could get wrong while passing 1-4:
//! - `..` after an empty segment: WHATWG (like RFC 3986 §5.2.4) reads `/a//../b` as `/a/b`,
//!   nginx with `merge_slashes` as `/b`. Merging `//` before resolving dots gives `/b`, which
//!   fails here: since backends disagree, such a target should be refused.
//! - a dot segment at the end: `/a/.` and `/a/b/..` are `/a/` to WHATWG and RFC 3986 alike,
//!   so the canonical path keeps that trailing slash.
//!
//! It is not asserted where the oracle itself is off the standard: the `url` crate (2.5) never
//! lets `..` remove a segment shaped like a Windows drive letter (`C:`, `C|`), in `http:` URLs
//! too (`/a/C:/../b` is `/a/C:/b` to it, `/a/b` to the WHATWG standard and to Node), a rule the
//! standard keeps for `file:` URLs. Targets with such a segment are skipped here; a parser may
//! as well refuse them, as no client sends them.
//!
//! Input: the request target as UTF-8.
#![no_main]

use bouncer::request_target::parse;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = parse(s) else {
        return;
    };
    let path = t.path();
    let query = t.query();
    let sent = t.path_and_query();

    // 1. What hyper's client sends and a hyper/`http` backend reads.
    let by_http: http::uri::PathAndQuery = sent
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} -> {sent:?}, which http refuses: {e}"));
    assert_eq!(by_http.path(), path, "http reads {sent:?} as another path");
    assert_eq!(
        by_http.query(),
        query,
        "http reads {sent:?} as another query"
    );

    // 2. What a WHATWG parser reads.
    let whatwg = url::Url::parse(&format!("http://h{sent}"))
        .unwrap_or_else(|e| panic!("{s:?} -> {sent:?}, which WHATWG refuses: {e}"));
    assert_eq!(whatwg.path(), path, "WHATWG reads {sent:?} as another path");

    // 3. Canonical form is a fixpoint.
    let again = parse(&sent).unwrap_or_else(|_| panic!("{s:?} -> {sent:?}, which is refused"));
    assert_eq!(again.path(), path, "{sent:?} reparses to another path");
    assert_eq!(again.query(), query, "{sent:?} reparses to another query");

    // 4. Nothing in the path a backend could read two ways.
    assert!(path.starts_with('/'), "{path:?}");
    assert!(!path.contains('\\'), "backslash in {path:?}");
    assert!(
        !path.bytes().any(|b| b.is_ascii_control()),
        "control byte in {path:?}"
    );
    assert!(!path.contains("//"), "empty segment in {path:?}");
    let lower = path.to_ascii_lowercase();
    for escape in ["%2f", "%5c", "%2e"] {
        assert!(!lower.contains(escape), "{escape} in {path:?}");
    }
    assert!(!has_dot_segment(path), "dot segment in {path:?}");
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    assert!(
        !has_dot_segment(&decoded),
        "dot segment in {path:?} once decoded ({decoded:?})"
    );

    // 5. The original target, read by a WHATWG backend, is the path Bouncer decided on.
    if s.starts_with('/') && s.parse::<http::Uri>().is_ok() && !has_drive_letter_segment(s) {
        if let Ok(original) = url::Url::parse(&format!("http://h{s}")) {
            let mut merged = original.path().to_string();
            while merged.contains("//") {
                merged = merged.replace("//", "/");
            }
            assert_eq!(
                escapes_spelled_alike(&merged),
                escapes_spelled_alike(path),
                "{s:?} is {merged:?} to a WHATWG backend, {path:?} to Bouncer"
            );
        }
    }
});

/// A segment the `url` crate treats as a Windows drive letter (see the module comment).
fn has_drive_letter_segment(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or("");
    path.split(['/', '\\']).any(|segment| {
        let b = segment.as_bytes();
        b.len() == 2 && b[0].is_ascii_alphabetic() && matches!(b[1], b':' | b'|')
    })
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/')
        .any(|segment| segment == "." || segment == "..")
}

/// `path` with escapes of unreserved characters decoded and the hex digits of the others
/// upper-cased (RFC 3986 §6.2.2.1–2: equivalent spellings of one path).
fn escapes_spelled_alike(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok().map(|b| (hex, b)));
        match escape {
            Some((_, b)) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                out.push(b as char);
                i += 3;
            }
            Some((hex, _)) => {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
                i += 3;
            }
            None => {
                let c = path[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}
