//! Non-browser detection for the chat gateway (`NON_BROWSER_VIOLATION_SCORE`): LibreChat scores
//! requests whose User-Agent names no browser.

/// True when the User-Agent names a known browser engine or product.
pub fn is_browser(user_agent: Option<&str>) -> bool {
    const MARKERS: [&str; 9] = [
        "Chrome/",
        "Chromium/",
        "Firefox/",
        "Safari/",
        "Edg/",
        "OPR/",
        "Opera",
        "Trident/",
        "MSIE ",
    ];
    user_agent
        .is_some_and(|ua| ua.starts_with("Mozilla/") && MARKERS.iter().any(|m| ua.contains(m)))
}

#[cfg(test)]
mod tests {
    use super::is_browser;

    #[test]
    fn tells_browsers_from_scripts() {
        assert!(is_browser(Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
        )));
        assert!(is_browser(Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
        )));
        assert!(!is_browser(Some("curl/8.5.0")));
        assert!(!is_browser(Some("python-requests/2.32")));
        assert!(!is_browser(None));
    }
}
