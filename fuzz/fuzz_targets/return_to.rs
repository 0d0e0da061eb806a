//! Return addresses of a sign-in (`rd`): for any input, `return_to::check` never panics and
//! answers either nothing or an http(s) URL without credentials on Bouncer's own origin or an
//! allowed host, which checks again to itself (what the browser is sent to is what was
//! checked; the `url` crate parses as browsers do, WHATWG).
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use bouncer::config::pages::PagesConfig;
use bouncer::config::Vars;
use bouncer::return_to::check;
use libfuzzer_sys::fuzz_target;

const OWN: &str = "https://auth.example.com";

fn pages() -> &'static PagesConfig {
    static PAGES: OnceLock<PagesConfig> = OnceLock::new();
    PAGES.get_or_init(|| {
        let vars = HashMap::from([(
            "ALLOWED_REDIRECT_HOSTS".to_string(),
            "chat.example.com,.tools.example.com".to_string(),
        )]);
        PagesConfig::from_vars(Vars::new(&vars), "https://chat.example.com", OWN).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Some(checked) = check(raw, pages(), OWN) else {
        return;
    };
    let url = url::Url::parse(&checked).expect("an absolute URL");
    assert!(
        matches!(url.scheme(), "http" | "https"),
        "{raw:?} -> {checked}"
    );
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{raw:?} -> {checked}"
    );
    let host = url.host_str().expect("a host");
    assert!(
        host == "auth.example.com"
            || host == "chat.example.com"
            || host == "tools.example.com"
            || host.ends_with(".tools.example.com"),
        "{raw:?} -> {checked}"
    );
    assert_eq!(
        check(&checked, pages(), OWN).as_deref(),
        Some(checked.as_str())
    );
});
