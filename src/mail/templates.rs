//! The messages' HTML and plain-text parts, from Handlebars templates. The built-in ones can be
//! replaced file by file from `EMAIL_TEMPLATES_DIR`, under LibreChat's names
//! (`verifyEmail.handlebars` for the HTML part, `verifyEmail.txt.handlebars` for the text part),
//! so LibreChat's own templates can be reused.

use std::path::Path;

use anyhow::Context;
use handlebars::Handlebars;
use serde_json::Value;

/// The templates, by LibreChat's names, with the built-in HTML and text parts.
const BUILT_IN: &[(&str, &str, &str)] = &[
    (
        "verifyEmail",
        include_str!("templates/verifyEmail.handlebars"),
        include_str!("templates/verifyEmail.txt.handlebars"),
    ),
    (
        "requestPasswordReset",
        include_str!("templates/requestPasswordReset.handlebars"),
        include_str!("templates/requestPasswordReset.txt.handlebars"),
    ),
    (
        "passwordReset",
        include_str!("templates/passwordReset.handlebars"),
        include_str!("templates/passwordReset.txt.handlebars"),
    ),
    (
        "inviteUser",
        include_str!("templates/inviteUser.handlebars"),
        include_str!("templates/inviteUser.txt.handlebars"),
    ),
];

pub struct Templates {
    /// HTML parts: values are escaped.
    html: Handlebars<'static>,
    /// Text parts: values are inserted as they are.
    text: Handlebars<'static>,
}

impl Templates {
    /// Compiles every template, taking the operator's file instead of the built-in one where
    /// there is one. A template that does not compile stops the start with its file named.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut html = Handlebars::new();
        let mut text = Handlebars::new();
        text.register_escape_fn(handlebars::no_escape);
        for (name, built_in_html, built_in_text) in BUILT_IN {
            register(
                &mut html,
                dir,
                name,
                &format!("{name}.handlebars"),
                built_in_html,
            )?;
            register(
                &mut text,
                dir,
                name,
                &format!("{name}.txt.handlebars"),
                built_in_text,
            )?;
        }
        Ok(Self { html, text })
    }

    /// The HTML and text parts of template `name` with these values.
    pub fn render(&self, name: &str, values: &Value) -> anyhow::Result<(String, String)> {
        let html = self
            .html
            .render(name, values)
            .with_context(|| format!("rendering {name}.handlebars"))?;
        let text = self
            .text
            .render(name, values)
            .with_context(|| format!("rendering {name}.txt.handlebars"))?;
        Ok((html, text))
    }
}

fn register(
    registry: &mut Handlebars<'static>,
    dir: Option<&Path>,
    name: &str,
    file: &str,
    built_in: &str,
) -> anyhow::Result<()> {
    let custom = dir.map(|d| d.join(file)).filter(|p| p.is_file());
    match custom {
        Some(path) => {
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            registry
                .register_template_string(name, source)
                .with_context(|| format!("compiling {}", path.display()))?;
        }
        None => registry
            .register_template_string(name, built_in)
            .with_context(|| format!("compiling the built-in {file}"))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_templates_render_links_escaped_in_html_and_plain_in_text() {
        let t = Templates::load(None).unwrap();
        let link = "http://localhost:3080/verify?token=ab&email=a%40b.c";
        let (html, text) = t
            .render(
                "verifyEmail",
                &json!({ "appName": "Chat", "name": "<Ada>", "verificationLink": link,
                         "year": 2026, "expiresInMinutes": 15 }),
            )
            .unwrap();
        assert!(text.contains(link), "{text}");
        assert!(text.contains("<Ada>"));
        assert!(html.contains("&lt;Ada&gt;"), "names are escaped in HTML");
        assert!(!html.contains("<Ada>"));
        assert!(html.contains("Chat") && text.contains("15 minutes"));
    }

    #[test]
    fn a_file_in_the_directory_replaces_only_its_own_part() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inviteUser.txt.handlebars"),
            "Join {{appName}}: {{inviteLink}}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let (html, text) = t
            .render(
                "inviteUser",
                &json!({ "appName": "Chat", "inviteLink": "L", "year": 2026 }),
            )
            .unwrap();
        assert_eq!(text, "Join Chat: L");
        assert!(
            html.contains("<!DOCTYPE html>"),
            "the HTML part stays built in"
        );

        std::fs::write(dir.path().join("verifyEmail.handlebars"), "{{#if}").unwrap();
        let err = Templates::load(Some(dir.path())).err().unwrap();
        assert!(
            format!("{err:#}").contains("verifyEmail.handlebars"),
            "{err:#}"
        );
    }
}
