//! The gateway's route patterns (`MESSAGE_ROUTES`, the route limiters' `*_ROUTES`,
//! `PUBLIC_PATHS`, `ACCESS_RULES`): a limiter a path can slip past is a limiter that can be
//! exhausted. Differentially, against a plain segment-by-segment reading of the rule the README
//! states. For every pattern `p` that parses and every canonical path `path`:
//!
//! 1. `p.matches(path)` is the reference's answer: segments compared one by one, a `*` segment
//!    standing for any one non-empty segment, a trailing `*` making the last segment a prefix
//!    (and allowing more segments), and one trailing slash of the path making no difference to
//!    a pattern without a trailing `*`;
//! 2. Express's spellings of the same route are one route: `path` and `path/` alike for an
//!    exact pattern;
//! 3. a list with a `!` exclusion never holds what the exclusion holds.
//!
//! Input: the pattern, a newline, the path (UTF-8). The path is put in canonical form first, as
//! the gateway does before any matching.
#![no_main]

use bouncer::config::gateway::PathPattern;
use bouncer::request_target::parse;
use libfuzzer_sys::fuzz_target;

/// The rule as the README states it, written the slow, obvious way.
fn reference(pattern: &str, path: &str) -> bool {
    let (text, prefix) = match pattern.strip_suffix('*') {
        Some(t) => (t, true),
        // An exact pattern's own trailing slash makes no difference either.
        None if pattern.len() > 1 && pattern.ends_with('/') => (&pattern[..pattern.len() - 1], false),
        None => (pattern, false),
    };
    let path = if !prefix && path.len() > 1 && path.ends_with('/') {
        &path[..path.len() - 1]
    } else {
        path
    };
    let want: Vec<&str> = text.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if got.len() < want.len() || (!prefix && got.len() != want.len()) {
        return false;
    }
    for (i, w) in want.iter().enumerate() {
        let g = got[i];
        let last = i == want.len() - 1;
        let fits = if *w == "*" {
            !g.is_empty()
        } else if prefix && last {
            g.starts_with(w)
        } else {
            g == *w
        };
        if !fits {
            return false;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Some((pattern, raw_path)) = s.split_once('\n') else {
        return;
    };
    if !pattern.starts_with('/') {
        return;
    }
    let Ok(target) = parse(raw_path) else {
        return;
    };
    let path = target.path();
    let Some(p) = PathPattern::parse(pattern) else {
        // Refused only for a `*` inside a segment.
        let text = pattern.strip_suffix('*').unwrap_or(pattern);
        assert!(
            text.split('/').any(|seg| seg != "*" && seg.contains('*')),
            "{pattern:?} refused"
        );
        return;
    };
    // A pattern whose wildcard segment is also its prefix segment (`/a/**`) has no plain
    // reading; the reference reads it as a wildcard, as `matches` does.
    let got = p.matches(path);
    assert_eq!(got, reference(pattern, path), "{pattern:?} on {path:?}");
    if !pattern.ends_with('*') && !path.ends_with('/') {
        let slashed = format!("{path}/");
        assert_eq!(p.matches(&slashed), got, "{pattern:?}: {path:?} and {slashed:?}");
    }
});
