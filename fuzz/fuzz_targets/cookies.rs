//! The request-cookie reader (`refreshToken` and the SSO flow-state cookie): never panics on any
//! set of `Cookie` headers, yields only a non-empty value that one header carries verbatim, and
//! is not blinded by garbage ahead of the real cookie.
#![no_main]

use bouncer::http::cookies::{flow_state, refresh_token, REFRESH_COOKIE};
use bouncer::sso::state::COOKIE as FLOW_COOKIE;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One `Cookie` header per input line, as a client may send several.
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }
    let texts: Vec<&str> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for (name, found) in [
        (REFRESH_COOKIE, refresh_token(&headers)),
        (FLOW_COOKIE, flow_state(&headers)),
    ] {
        let Some(value) = found else { continue };
        assert!(
            !value.is_empty() && !value.contains(';'),
            "{name}={value:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains(name) && t.contains(&value)),
            "{name}={value:?} is in no header: {texts:?}"
        );
    }

    // Garbage pairs ahead of the real cookie, in the same header, hide nothing.
    let Ok(garbage) = std::str::from_utf8(data) else {
        return;
    };
    if garbage.contains(REFRESH_COOKIE) {
        return;
    }
    let header = format!("{garbage}; {REFRESH_COOKIE}=the-real-one");
    let Ok(value) = HeaderValue::from_str(&header) else {
        return;
    };
    if value.to_str().is_err() {
        return;
    }
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, value);
    assert_eq!(
        refresh_token(&headers).as_deref(),
        Some("the-real-one"),
        "hidden by {garbage:?}"
    );
});
