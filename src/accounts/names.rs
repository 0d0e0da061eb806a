//! Which characters a display name or a username may hold. A name is one line of text: it is
//! shown in the client, written into mail headers (`To: "Ada" <ada@example.com>`) and logged,
//! and a line break in it is how a header or a log line is forged. Control characters have no
//! place in a name, TAB included (it is no more a part of a name than a line break is, and
//! mail and log readers treat it as a separator).

/// A control character: C0 (NUL to US, TAB, CR and LF among them), DEL, C1 (NEL among them),
/// or a Unicode line or paragraph separator (U+2028, U+2029), which some readers break lines at.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Whether `text` holds any control character.
pub fn has_control(text: &str) -> bool {
    text.chars().any(is_control)
}

/// `text` as one line: each run of control characters becomes one space, and the ends are
/// trimmed. For names that come from somewhere that cannot be refused (an identity provider,
/// an imported row), where refusing would lock the person out.
pub fn single_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if is_control(c) {
            if !in_run {
                line.push(' ');
            }
            in_run = true;
        } else {
            line.push(c);
            in_run = false;
        }
    }
    line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_c0_del_c1_and_unicode_separators() {
        for c in [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{2028}', '\u{2029}',
        ] {
            assert!(is_control(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', 'Ж', '李', '\u{a0}', '😀'] {
            assert!(!is_control(c), "{c:?}");
        }
        assert!(has_control("Eve\r\nBcc: x@evil.example"));
        assert!(!has_control("Ada Lovelace"));
    }

    #[test]
    fn single_line_replaces_each_run_with_one_space() {
        assert_eq!(
            single_line("Eve\r\nBcc: x@evil.example"),
            "Eve Bcc: x@evil.example"
        );
        assert_eq!(
            single_line("\tAda\u{2028}\u{2029}Lovelace\n"),
            "Ada Lovelace"
        );
        assert_eq!(single_line("Jānis Bērziņš"), "Jānis Bērziņš");
        assert_eq!(single_line("\r\n\0"), "");
    }
}
