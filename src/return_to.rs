//! Where a sign-in may send the browser back to (`rd`, `return_to`): a path on this server, or
//! an http(s) URL on a host the operator allows (`ALLOWED_REDIRECT_HOSTS`). Anything else is
//! dropped, never "fixed": no open redirect. The answer is the URL as parsed and serialized
//! here, so what was checked is exactly what the browser is sent to.

use crate::config::pages::PagesConfig;

/// Longest return address accepted (a browser's address bar holds more, an app's does not).
pub const MAX_LEN: usize = 2048;

/// The absolute URL to return to, or `None` when `raw` may not be followed. `own_origin` is
/// `DOMAIN_SERVER` (relative paths are resolved against it).
pub fn check(raw: &str, pages: &PagesConfig, own_origin: &str) -> Option<String> {
    // Browsers drop tabs and newlines inside URLs and read `\` as `/` (`/\evil` is
    // `//evil`): refused outright, as is anything a URL should not carry unencoded.
    if raw.is_empty()
        || raw.len() > MAX_LEN
        || raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let own = url::Url::parse(own_origin).ok()?;
    let url = if raw.starts_with('/') {
        // `//host` is another host; `/path` is ours.
        if raw.starts_with("//") {
            return None;
        }
        let joined = own.join(raw).ok()?;
        if joined.origin() != own.origin() {
            return None;
        }
        joined
    } else {
        let url = url::Url::parse(raw).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        let same_origin = url.origin() == own.origin();
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || !(same_origin || pages.redirect_host_allowed(&host))
        {
            return None;
        }
        url
    };
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Vars;

    const OWN: &str = "https://auth.example.com";

    fn pages() -> PagesConfig {
        let vars = HashMap::from([(
            "ALLOWED_REDIRECT_HOSTS".to_string(),
            "chat.example.com,.tools.example.com".to_string(),
        )]);
        PagesConfig::from_vars(Vars::new(&vars), "https://chat.example.com", OWN).unwrap()
    }

    fn check_(raw: &str) -> Option<String> {
        check(raw, &pages(), OWN)
    }

    #[test]
    fn allowed_hosts_and_own_paths_pass() {
        assert_eq!(
            check_("https://chat.example.com/c/new?x=1#top").as_deref(),
            Some("https://chat.example.com/c/new?x=1#top")
        );
        assert_eq!(
            check_("http://wiki.tools.example.com:8080/").as_deref(),
            Some("http://wiki.tools.example.com:8080/")
        );
        assert_eq!(
            check_("/ui/account").as_deref(),
            Some("https://auth.example.com/ui/account")
        );
        assert_eq!(
            check_("HTTPS://CHAT.EXAMPLE.COM/").as_deref(),
            Some("https://chat.example.com/")
        );
        // Our own origin, even when not listed.
        assert!(check_("https://auth.example.com/x").is_some());
    }

    #[test]
    fn the_usual_tricks_go_nowhere() {
        for raw in [
            "//evil.io",
            "///evil.io",
            "/\\evil.io",
            "\\\\evil.io",
            "https:evil.io",
            "https:/evil.io",
            "https://evil.io",
            "https://chat.example.com@evil.io/",
            "https://user:pass@chat.example.com/",
            "https://evil.io\\@chat.example.com/",
            "https://evil.io#@chat.example.com",
            "https://evil.io?.chat.example.com",
            "https://chat.example.com.evil.io/",
            "https://evilchat.example.com/",
            "https://tools.example.com.evil.io/",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://chat.example.com/",
            "%2F%2Fevil.io",
            "/%09/evil.io",
            "/\t/evil.io",
            "/\n/evil.io",
            " https://evil.io",
            "https://evil.io/ ",
            "https://%65vil.io/",
            "https://chat.example.com%2F@evil.io/",
            "http://[::1]/",
            "http://127.0.0.1/",
            "evil.io",
            "",
        ] {
            let checked = check_(raw);
            let host = checked
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_string));
            assert!(
                checked.is_none()
                    || matches!(
                        host.as_deref(),
                        Some("auth.example.com" | "chat.example.com")
                    ),
                "{raw:?} -> {checked:?}"
            );
            // Only a path of our own may carry such text, as a path.
            assert!(
                !raw.contains("evil") || checked.is_none() || raw.starts_with('/'),
                "{raw:?} was followed: {checked:?}"
            );
        }
        assert!(check_(&format!("/{}", "a".repeat(MAX_LEN))).is_none());
    }
}
