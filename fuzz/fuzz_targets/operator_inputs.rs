//! What operators and programmatic clients type into Bouncer's newest surfaces: a Bearer value
//! that may be an API key (checked on every gateway request whose JWT fails), a ban's duration
//! and the audit log's filters. None may panic, and what they accept must be what they say:
//!
//! 1. `id_of` accepts exactly `bnc_` + 12 lowercase hex + `_` + 43 base64url characters, and
//!    the id it returns is those 12;
//! 2. an accepted duration is the number times its unit, with no overflow;
//! 3. an accepted list of kinds holds only known kinds, each named in the input;
//! 4. an accepted time of digits is that number.
//!
//! Input: UTF-8 text, given to each reader.
#![no_main]

use bouncer::api_keys::secret::id_of;
use bouncer::audit::Kind;
use bouncer::usecases::admin_bans::parse_duration;
use bouncer::usecases::audit::{parse_kinds, parse_time};
use libfuzzer_sys::fuzz_target;

fn is_key_shape(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 60
        && text.starts_with("bnc_")
        && b[4..16]
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        && b[16] == b'_'
        && b[17..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    match id_of(text) {
        Some(id) => {
            assert!(
                is_key_shape(text),
                "accepted a key of another shape: {text:?}"
            );
            assert_eq!(id, &text[4..16]);
        }
        None => assert!(!is_key_shape(text), "refused a well-shaped key: {text:?}"),
    }

    if let Ok(ms) = parse_duration(text) {
        let t = text.trim();
        let (digits, unit) = match t.as_bytes().last() {
            Some(b's') => (&t[..t.len() - 1], 1_000i64),
            Some(b'm') => (&t[..t.len() - 1], 60_000),
            Some(b'h') => (&t[..t.len() - 1], 3_600_000),
            Some(b'd') => (&t[..t.len() - 1], 86_400_000),
            _ => (t, 1),
        };
        let n: i64 = digits.parse().expect("an accepted duration has digits");
        assert_eq!(Some(ms), n.checked_mul(unit), "{text:?}");
    }

    if let Ok(kinds) = parse_kinds(text) {
        for kind in kinds {
            assert!(Kind::ALL.contains(&kind));
            assert!(text.contains(kind.as_str()), "{text:?}");
        }
    }

    if let Ok(ms) = parse_time(text) {
        if let Ok(n) = text.trim().parse::<i64>() {
            assert_eq!(ms, n);
        }
    }
});
