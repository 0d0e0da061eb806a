//! The picture of a user without an avatar: their initials on a disc, as SVG. Apps such as
//! Open WebUI fetch the `picture` claim's URL with the access token and keep the image.

/// Up to two initials of a name (letters or digits), upper case; `?` for none.
pub fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".into()
    } else {
        letters
    }
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The SVG document (no script, no external reference).
pub fn svg(name: &str, color: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"128\" height=\"128\" viewBox=\"0 0 128 128\">\
<circle cx=\"64\" cy=\"64\" r=\"64\" fill=\"{}\"/>\
<text x=\"64\" y=\"64\" dy=\".35em\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"52\" fill=\"#ffffff\">{}</text></svg>",
        escape(color),
        escape(&initials(name))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_and_escaping() {
        assert_eq!(initials("Grace Brewster Hopper"), "GB");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("  "), "?");
        assert!(!svg("<script>", "#2563eb").contains("<script>"));
    }
}
