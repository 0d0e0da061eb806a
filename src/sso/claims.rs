//! Reading what an identity provider asserts: claims at dotted paths (Keycloak puts roles at
//! `realm_access.roles`), the unverified payload of a JWT whose signature was checked elsewhere
//! (or, for an access token, that is only read for roles, as LibreChat does), and LibreChat's
//! claim mapping for email, username and name.

use base64::Engine;
use serde_json::Value;

/// The value at `path` (`a.b.c`) of a JSON object.
pub fn at_path<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(claims, |value, key| value.get(key))
}

/// Whether the claim at `path` holds any of `roles`: a list containing one, or a string that
/// is one (some providers send a single role as a string).
pub fn has_any_role(claims: &Value, path: &str, roles: &[String]) -> bool {
    match at_path(claims, path) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .any(|have| roles.iter().any(|r| r == have)),
        Some(Value::String(have)) => roles.iter().any(|r| r == have),
        _ => false,
    }
}

/// The payload of a compact JWT, without checking anything. `None` when it is not a JWT.
pub fn jwt_payload(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn text<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    at_path(claims, name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `configured`, else email → preferred_username → upn (LibreChat's order); only a value that
/// looks like an address counts.
pub fn email(claims: &Value, configured: Option<&str>) -> Option<String> {
    let candidates: Vec<&str> = match configured {
        Some(c) => vec![c],
        None => vec!["email", "preferred_username", "upn"],
    };
    candidates
        .into_iter()
        .filter_map(|c| text(claims, c))
        .find(|v| v.contains('@'))
        .map(str::to_lowercase)
}

/// `configured`, else preferred_username → username → email.
pub fn username(claims: &Value, configured: Option<&str>) -> String {
    let candidates: Vec<&str> = match configured {
        Some(c) => vec![c],
        None => vec!["preferred_username", "username", "email"],
    };
    candidates
        .into_iter()
        .find_map(|c| text(claims, c))
        .unwrap_or_default()
        .to_string()
}

/// `configured`, else given + family name, else name, else the username.
pub fn name(claims: &Value, configured: Option<&str>, username: &str) -> String {
    if let Some(v) = configured.and_then(|c| text(claims, c)) {
        return v.to_string();
    }
    let full: Vec<&str> = ["given_name", "family_name"]
        .iter()
        .filter_map(|c| text(claims, c))
        .collect();
    if !full.is_empty() {
        return full.join(" ");
    }
    text(claims, "name").unwrap_or(username).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_roles_and_mapping() {
        let c = json!({
            "sub": "1", "email": "Ada@Example.com", "preferred_username": "ada",
            "given_name": "Ada", "family_name": "Lovelace",
            "realm_access": { "roles": ["chat-user", "offline"] }, "group": "admins"
        });
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(has_any_role(
            &c,
            "realm_access.roles",
            &roles(&["x", "chat-user"])
        ));
        assert!(!has_any_role(
            &c,
            "realm_access.roles",
            &roles(&["chat-admin"])
        ));
        assert!(has_any_role(&c, "group", &roles(&["admins"])));
        assert!(!has_any_role(&c, "missing.path", &roles(&["admins"])));
        assert_eq!(email(&c, None).as_deref(), Some("ada@example.com"));
        assert_eq!(
            email(&c, Some("preferred_username")),
            None,
            "not an address"
        );
        assert_eq!(username(&c, None), "ada");
        assert_eq!(name(&c, None, "ada"), "Ada Lovelace");
        assert_eq!(name(&json!({}), None, "ada"), "ada");
        let token = format!(
            "x.{}.y",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"roles":["a"]}"#)
        );
        assert_eq!(jwt_payload(&token), Some(json!({"roles": ["a"]})));
        assert_eq!(jwt_payload("opaque-token"), None);
    }
}
