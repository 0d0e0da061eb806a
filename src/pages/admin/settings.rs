//! The settings at a glance, read-only: what the use case reports (features on, identity
//! providers by name, moderation thresholds), grouped as it groups them.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::gate::{AdminRequest, Frame, Section};
use crate::pages::layout::Chrome;
use crate::pages::text::ADMIN;
use crate::usecases::admin;

#[derive(Template)]
#[template(path = "pages/admin/settings.html")]
pub struct SettingsPage {
    pub c: Chrome,
    pub f: Frame,
    pub groups: Vec<(String, Vec<(String, String)>)>,
}

/// A settings report as headed tables: each top-level field a group (a scalar one goes to
/// "General"), nested fields named by their path.
fn groups(report: &Value) -> Vec<(String, Vec<(String, String)>)> {
    let mut general = Vec::new();
    let mut out = Vec::new();
    if let Value::Object(fields) = report {
        for (name, value) in fields {
            match value {
                Value::Object(_) => {
                    let mut rows = Vec::new();
                    flatten("", value, &mut rows);
                    out.push((label(name), rows));
                }
                other => general.push((label(name), scalar(other))),
            }
        }
    }
    if !general.is_empty() {
        out.insert(0, (ADMIN.general.to_string(), general));
    }
    out
}

fn flatten(path: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields {
                let path = if path.is_empty() {
                    label(name)
                } else {
                    format!("{path} · {}", label(name))
                };
                flatten(&path, inner, rows);
            }
        }
        // A list of named things (the limiters): one row per field of each, by its name.
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| (i + 1).to_string());
                let path = if path.is_empty() {
                    name
                } else {
                    format!("{path} · {name}")
                };
                if let Value::Object(fields) = item {
                    for (field, inner) in fields.iter().filter(|(k, _)| *k != "name") {
                        flatten(&format!("{path} · {}", label(field)), inner, rows);
                    }
                }
            }
        }
        other => rows.push((path.to_string(), scalar(other))),
    }
}

/// `email_login` or `emailLogin` → `Email login`.
fn label(name: &str) -> String {
    let mut spaced = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch == '_' {
            spaced.push(' ');
        } else if ch.is_ascii_uppercase() {
            spaced.push(' ');
            spaced.push(ch.to_ascii_lowercase());
        } else {
            spaced.push(ch);
        }
    }
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `GET /ui/admin/settings`.
pub async fn page(ar: AdminRequest) -> Response {
    let mut f = ar.frame(Section::Settings);
    let (report, status) = match load(&ar).await {
        Ok(report) => (report, StatusCode::OK),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            f.error = Some(message);
            (Value::Null, status)
        }
    };
    let page = SettingsPage {
        c: ar.page.chrome(),
        f,
        groups: groups(&report),
    };
    ar.page.render(status, &page)
}

async fn load(ar: &AdminRequest) -> crate::error::Result<Value> {
    let view = admin::settings(&ar.page.ctx, &ar.actor()).await?;
    serde_json::to_value(view).map_err(|e| crate::error::Error::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_report_reads_as_groups_of_named_values() {
        let report = json!({
            "version": "1.2",
            "features": { "registration": true, "emailLogin": false },
            "moderation": { "login": { "max": 7, "window_ms": 300000 },
                "limiters": [{ "name": "register", "max": 5 }] },
            "providers": { "names": ["openid", "github"] }
        });
        let groups = groups(&report);
        assert_eq!(
            groups[0],
            ("General".into(), vec![("Version".into(), "1.2".into())])
        );
        let features = groups.iter().find(|(h, _)| h == "Features").unwrap();
        assert!(features.1.contains(&("Registration".into(), "on".into())));
        assert!(features.1.contains(&("Email login".into(), "off".into())));
        let moderation = groups.iter().find(|(h, _)| h == "Moderation").unwrap();
        assert!(moderation.1.contains(&("Login · Max".into(), "7".into())));
        assert!(moderation
            .1
            .contains(&("Limiters · register · Max".into(), "5".into())));
        let providers = groups.iter().find(|(h, _)| h == "Providers").unwrap();
        assert_eq!(providers.1, vec![("Names".into(), "openid, github".into())]);
    }
}
