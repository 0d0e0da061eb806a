//! What the OpenID provider reads from apps and operators: for any input, the scope parser is
//! stable (what it writes back parses to the same scopes), PKCE accepts a verifier only for
//! its own challenge, an accepted redirect URI is absolute with neither fragment nor
//! credentials, the clients file parser and the initials picture never panic, and the
//! picture never carries markup from the name.
#![no_main]

use base64::Engine;
use bouncer::provider::clients::check_redirect_uri;
use bouncer::provider::scopes::Scopes;
use bouncer::provider::{clients_file, picture, pkce};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scopes = Scopes::parse(text);
    assert_eq!(Scopes::parse(&scopes.to_string()), scopes, "{text:?}");

    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()));
    assert_eq!(
        pkce::s256_matches(text, &challenge),
        pkce::valid_verifier(text)
    );
    assert!(!pkce::s256_matches(&format!("{text}x"), &challenge));

    if check_redirect_uri("redirect URI", text).is_ok() {
        let url = url::Url::parse(text).expect("accepted means absolute");
        assert!(url.fragment().is_none() && url.username().is_empty() && url.password().is_none());
    }

    let _ = clients_file::parse(text);

    let svg = picture::svg(text, "#2563eb");
    let body = svg
        .split_once("fill=\"#ffffff\">")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let inner = body.strip_suffix("</text></svg>").unwrap_or(body);
    assert!(
        !inner.contains('<') && !inner.contains('>'),
        "{text:?} -> {svg}"
    );
});
