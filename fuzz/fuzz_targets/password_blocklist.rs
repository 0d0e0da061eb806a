//! The common-password check runs zxcvbn's matchers on whatever a client types as a new
//! password, with the account's own words beside it. It must never panic (zxcvbn indexes by
//! characters, and the account's words are as free as the password), and it must agree with
//! itself:
//!
//! 1. an ASCII password that is refused is refused in capitals too (the lists compare without
//!    case; Unicode's case mappings do not round-trip, so only ASCII is held to this);
//! 2. a password equal to one of the account's words is always refused;
//! 3. a password too long for the lists (over 32 characters) is refused only if it is one of
//!    the account's words.
//!
//! Input: UTF-8 text; the first line is the password, the others the account's words.
#![no_main]

use bouncer::accounts::PasswordBlocklist;
use bouncer::config::passwords::PasswordsConfig;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static LIST: LazyLock<PasswordBlocklist> = LazyLock::new(|| {
    PasswordBlocklist::load(&PasswordsConfig {
        blocklist: true,
        blocklist_file: None,
    })
    .expect("no file to read")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let password = lines.next().unwrap_or_default();
    let personal: Vec<&str> = lines.take(3).collect();
    let refused = LIST.refuses(password, &personal);

    let upper = password.to_ascii_uppercase();
    if refused && password.is_ascii() {
        assert!(
            LIST.refuses(&upper, &personal),
            "{password:?} refused but not {upper:?}"
        );
    }
    if personal
        .iter()
        .any(|w| !w.trim().is_empty() && w.to_lowercase() == password.to_lowercase())
    {
        assert!(refused, "{password:?} is the account's own word");
    }
    if password.chars().count() > 32 && refused {
        let lower = password.to_lowercase();
        assert!(
            personal.iter().any(|w| {
                w.to_lowercase() == lower
                    || w.split_once('@')
                        .is_some_and(|(local, _)| local.to_lowercase() == lower)
            }) || ["librechat", "bouncer"].contains(&lower.as_str()),
            "{password:?} is too long for the lists"
        );
    }
});
