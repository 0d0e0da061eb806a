//! What a SAML callback reads from anyone who posts to it: for any `SAMLResponse` (as posted,
//! and as the XML it decodes to), the checks refuse it without panicking. No input the fuzzer
//! makes carries a signature by the configured certificate, so none may be accepted.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use bouncer::config::saml::SamlConfig;
use bouncer::config::Secret;
use bouncer::sso::saml::{decode, SamlChecks};
use libfuzzer_sys::fuzz_target;

fn checks() -> &'static SamlChecks {
    static CHECKS: OnceLock<SamlChecks> = OnceLock::new();
    CHECKS.get_or_init(|| {
        let pem = include_str!("../../tests/peers/saml/test-idp-cert.pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        SamlChecks::new(SamlConfig {
            entry_point: "https://idp.example.com/sso".into(),
            issuer: "bouncer".into(),
            certificates: vec![der],
            session_secret: Secret::new("s".repeat(40)),
            callback_url: "https://chat.example.com/oauth/saml/callback".into(),
            email_claim: None,
            username_claim: None,
            given_name_claim: None,
            family_name_claim: None,
            picture_claim: None,
            name_claim: None,
            button_label: None,
            image_url: None,
            response_signed: false,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // 2026-06-01: inside the seeds' validity window, so only the signature stands in the way.
    let now_ms = 1_780_272_000_000;
    assert!(checks().verify(text, "_req", now_ms).is_err());
    if let Ok(xml) = decode(text) {
        assert!(checks().verify(&xml, "_req", now_ms).is_err());
    }
});
