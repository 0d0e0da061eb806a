//! The request target as Bouncer decides on it and forwards it: parsed once, put in one
//! canonical form, or refused when a backend could read it two ways.
//!
//! The rule: **the bytes Bouncer decides on are the bytes it forwards.** The canonical path has
//! percent-encoded unreserved characters decoded (`%61` is `a`, `%2e` is `.`), reserved ones
//! kept encoded in upper case, empty segments merged and `.`/`..` resolved; a backend that
//! decodes before routing and one that does not then see the same path. What no canonical form
//! can make unambiguous is refused: backslashes (WHATWG reads them as `/`), encoded `/` or `\`,
//! raw or encoded control bytes, invalid percent-encoding or UTF-8, double encoding (`%252e`),
//! dot segments carrying parameters (`..;/`, which Java servlet containers read as `..`), and
//! `..` climbing above the root.

use std::fmt;

/// A request target in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    path: String,
    query: Option<String>,
}

/// Why a request target is refused (answered 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an origin-form target (`*`, an empty path, a path not starting with `/`).
    NotOriginForm,
    /// A backslash, which WHATWG URL parsers read as `/`.
    Backslash,
    /// A raw control byte, space, non-ASCII byte or a character a URL parser would re-encode.
    InvalidByte,
    /// `%` not followed by two hexadecimal digits.
    InvalidPercentEncoding,
    /// `%2f` or `%5c`: a separator a decoding backend sees and a non-decoding one does not.
    EncodedSeparator,
    /// An encoded control byte such as `%00`.
    EncodedControl,
    /// `%25` followed by hex digits: a second decoding would change the path again.
    DoubleEncoding,
    /// Percent-encoded bytes that are not UTF-8.
    InvalidUtf8,
    /// `.;x` or `..;x`: a dot segment to servlet containers.
    DotSegmentWithParameters,
    /// `..` above the root.
    AboveRoot,
    /// `..` that removes an empty segment (`/a//x/../../b`): `/a/b` to RFC 3986 and WHATWG,
    /// `/b` to a server that merges slashes first.
    DotSegmentAfterEmptySegment,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NotOriginForm => "the request target must be a path starting with /",
            Refusal::Backslash => "backslashes are not allowed in the path",
            Refusal::InvalidByte => "the path holds a character that must be percent-encoded",
            Refusal::InvalidPercentEncoding => "invalid percent-encoding in the path",
            Refusal::EncodedSeparator => "encoded / or \\ is not allowed in the path",
            Refusal::EncodedControl => "encoded control characters are not allowed in the path",
            Refusal::DoubleEncoding => "double percent-encoding is not allowed in the path",
            Refusal::InvalidUtf8 => "the path does not decode to UTF-8",
            Refusal::DotSegmentWithParameters => "dot segments with parameters are not allowed",
            Refusal::AboveRoot => "the path climbs above the root",
            Refusal::DotSegmentAfterEmptySegment => "`..` after an empty segment is ambiguous",
        })
    }
}

impl std::error::Error for Refusal {}

impl Target {
    /// The canonical path: what every decision is made on and what the upstream receives.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, as the client sent it (decisions never read it).
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The canonical path and the query, as sent upstream.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes a path may hold as they are: printable ASCII that no URL parser re-encodes or
/// reinterprets (WHATWG's path percent-encode set and `\` are out).
fn is_plain_path_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'#')
}

/// Bytes a query may hold as they are: printable ASCII but what `http` (and so hyper, on the
/// way upstream) refuses there, which WHATWG parsers would re-encode too.
fn is_plain_query_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !matches!(b, b'"' | b'<' | b'>' | b'#')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// One segment in canonical encoding, with the bytes it decodes to (for the UTF-8 check).
fn canonical_segment(raw: &[u8], out: &mut String, decoded: &mut Vec<u8>) -> Result<(), Refusal> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            return Err(Refusal::Backslash);
        }
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                raw.get(i + 1).copied().and_then(hex_value),
                raw.get(i + 2).copied().and_then(hex_value),
            ) else {
                return Err(Refusal::InvalidPercentEncoding);
            };
            let value = hi << 4 | lo;
            match value {
                b'/' | b'\\' => return Err(Refusal::EncodedSeparator),
                0x00..=0x1f | 0x7f => return Err(Refusal::EncodedControl),
                v if is_unreserved(v) => out.push(v as char),
                v => {
                    out.push('%');
                    out.push(HEX_UPPER[(v >> 4) as usize] as char);
                    out.push(HEX_UPPER[(v & 0xf) as usize] as char);
                }
            }
            decoded.push(value);
            i += 3;
            continue;
        }
        if !is_plain_path_byte(b) {
            return Err(Refusal::InvalidByte);
        }
        out.push(b as char);
        decoded.push(b);
        i += 1;
    }
    Ok(())
}

/// `%25` followed by two hex digits in a canonical segment: a second decoding would change it
/// again. Checked on the canonical form, since decoding `%44` to `D` can complete one.
fn has_double_encoding(segment: &str) -> bool {
    let b = segment.as_bytes();
    (0..b.len().saturating_sub(4)).any(|i| {
        &b[i..i + 3] == b"%25" && hex_value(b[i + 3]).is_some() && hex_value(b[i + 4]).is_some()
    })
}

/// A segment that servlet containers read as `.` or `..` once its `;parameters` are cut.
fn is_dot_with_parameters(segment: &str) -> bool {
    matches!(segment.split_once(';'), Some((".", _)) | Some(("..", _)))
}

/// Parses an origin-form request target (`/path?query`) into its canonical form.
pub fn parse(path_and_query: &str) -> Result<Target, Refusal> {
    let (raw_path, raw_query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    if !raw_path.starts_with('/') {
        return Err(Refusal::NotOriginForm);
    }
    if let Some(q) = raw_query {
        // The query is forwarded as sent; only what no parser agrees on is refused.
        if q.bytes().any(|b| !is_plain_query_byte(b)) {
            return Err(Refusal::InvalidByte);
        }
    }
    let mut segments: Vec<String> = Vec::new();
    // The same resolution without merging empty segments (RFC 3986 §5.2.4): where `..` would
    // remove an empty segment, the two readings differ.
    let mut unmerged: Vec<bool> = Vec::new();
    let mut decoded = Vec::new();
    let mut trailing_slash = false;
    for raw in raw_path[1..].split('/') {
        // The separator counts: bytes of one character split across segments are not UTF-8.
        decoded.push(b'/');
        let mut segment = String::with_capacity(raw.len());
        canonical_segment(raw.as_bytes(), &mut segment, &mut decoded)?;
        if has_double_encoding(&segment) {
            return Err(Refusal::DoubleEncoding);
        }
        if is_dot_with_parameters(&segment) {
            return Err(Refusal::DotSegmentWithParameters);
        }
        // The path ends in a directory when its last segment is empty or a dot segment.
        trailing_slash = matches!(segment.as_str(), "" | "." | "..");
        match segment.as_str() {
            "." => {}
            "" => unmerged.push(true),
            ".." => {
                if unmerged.pop() == Some(true) {
                    return Err(Refusal::DotSegmentAfterEmptySegment);
                }
                if segments.pop().is_none() {
                    return Err(Refusal::AboveRoot);
                }
            }
            _ => {
                segments.push(segment);
                unmerged.push(false);
            }
        }
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Err(Refusal::InvalidUtf8);
    }
    let mut path = String::with_capacity(raw_path.len());
    for s in &segments {
        path.push('/');
        path.push_str(s);
    }
    if path.is_empty() || trailing_slash {
        path.push('/');
    }
    Ok(Target {
        path,
        query: raw_query.map(str::to_string),
    })
}

/// Whether `path_and_query` is already canonical (the common case: nothing to rewrite).
pub fn is_canonical(path_and_query: &str, target: &Target) -> bool {
    let path = path_and_query.split('?').next().unwrap_or("");
    path == target.path()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str) -> Result<String, Refusal> {
        parse(raw).map(|t| t.path().to_string())
    }

    #[test]
    fn canonical_paths_are_kept() {
        for p in [
            "/",
            "/api/convos",
            "/assets/app.js",
            "/api/files/a:b@c",
            "/c/new/",
            "/x%20y",
        ] {
            assert_eq!(path(p).as_deref(), Ok(p), "{p}");
        }
        assert_eq!(parse("/a?b=c&d=%2F").unwrap().query(), Some("b=c&d=%2F"));
        assert_eq!(parse("/a?b").unwrap().path_and_query(), "/a?b");
    }

    #[test]
    fn dot_segments_slashes_and_unreserved_encodings_are_resolved() {
        assert_eq!(path("/api//ask/./openAI").unwrap(), "/api/ask/openAI");
        assert_eq!(path("/public/../api/convos").unwrap(), "/api/convos");
        assert_eq!(path("/public/%2e%2E/api/convos").unwrap(), "/api/convos");
        assert_eq!(path("/api/%61sk/x").unwrap(), "/api/ask/x");
        assert_eq!(path("/a/b/..").unwrap(), "/a/");
        assert_eq!(path("/a/.").unwrap(), "/a/");
        assert_eq!(path("//").unwrap(), "/");
        assert_eq!(path("/a//b/../c").unwrap(), "/a/c");
        assert_eq!(path("/a/..").unwrap(), "/");
        assert_eq!(path("/x%3a%c3%a9").unwrap(), "/x%3A%C3%A9");
    }

    #[test]
    fn what_a_backend_could_read_two_ways_is_refused() {
        let cases: &[(&str, Refusal)] = &[
            ("/assets/..\\api\\convos", Refusal::Backslash),
            ("/api\\agents\\chat\\x", Refusal::Backslash),
            ("/public/..%2fapi/convos", Refusal::EncodedSeparator),
            ("/public/..%2Fapi", Refusal::EncodedSeparator),
            ("/a%5cb", Refusal::EncodedSeparator),
            ("/a%00b", Refusal::EncodedControl),
            ("/a%0d%0ab", Refusal::EncodedControl),
            ("/a%zz", Refusal::InvalidPercentEncoding),
            ("/a%2", Refusal::InvalidPercentEncoding),
            ("/a%", Refusal::InvalidPercentEncoding),
            ("/a%u002e", Refusal::InvalidPercentEncoding),
            ("/a%252e%252e/b", Refusal::DoubleEncoding),
            ("/a%c0%ae", Refusal::InvalidUtf8),
            ("/a%c3/%a9", Refusal::InvalidUtf8),
            ("/assets/..;/api/convos", Refusal::DotSegmentWithParameters),
            ("/assets/.;x/api", Refusal::DotSegmentWithParameters),
            ("/..", Refusal::AboveRoot),
            ("/../etc", Refusal::AboveRoot),
            ("/a/../../etc", Refusal::AboveRoot),
            ("/%2e%2e/etc", Refusal::AboveRoot),
            ("/a//x/../../b", Refusal::DotSegmentAfterEmptySegment),
            ("/a//..", Refusal::DotSegmentAfterEmptySegment),
            ("*", Refusal::NotOriginForm),
            ("", Refusal::NotOriginForm),
            ("api", Refusal::NotOriginForm),
            ("/a b", Refusal::InvalidByte),
            ("/a\tb", Refusal::InvalidByte),
            ("/a\u{e9}", Refusal::InvalidByte),
            ("/a{b}", Refusal::InvalidByte),
            ("/a?b\u{0}", Refusal::InvalidByte),
            // Found by the fuzz target: `http` refuses `<`, `>` and `"` in a query.
            ("/assets/C|????/?>??onvos", Refusal::InvalidByte),
            ("/a?x=\"y\"", Refusal::InvalidByte),
            ("/a?<script>", Refusal::InvalidByte),
            // Found by the fuzz target: decoding `%44` to `D` completes a `%25De`.
            ("/Wssets/%25%44e52e/o|", Refusal::DoubleEncoding),
            ("/a%252e", Refusal::DoubleEncoding),
        ];
        for (raw, why) in cases {
            assert_eq!(parse(raw), Err(*why), "{raw:?}");
        }
    }

    #[test]
    fn the_canonical_form_is_a_fixpoint() {
        for raw in [
            "/api//ask/./openAI?x=1",
            "/public/%2e%2E/api/convos",
            "/x%3a%c3%a9/",
            "/a/b/..",
        ] {
            let once = parse(raw).unwrap();
            assert_eq!(parse(&once.path_and_query()).unwrap(), once, "{raw}");
        }
    }
}
