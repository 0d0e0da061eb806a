//! `GET /api/config`: what the login pages need to render. Anonymous callers get the public
//! payload; a valid Bearer token adds the authenticated fields. Never a 401.

use super::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::extract::OptionalAuthUser;
use crate::app::AppContext;
use crate::config::social::SocialKind;
use crate::config::Config;

/// The anonymous payload (spec §2.4).
pub fn anonymous_payload(c: &Config) -> Map<String, Value> {
    let mut p = Map::new();
    let mut put = |k: &str, v: Value| {
        p.insert(k.to_string(), v);
    };
    put("appTitle", json!(c.client.app_title));
    for kind in SocialKind::ALL {
        let enabled = c.social.iter().any(|s| s.kind == kind);
        put(&format!("{}LoginEnabled", kind.name()), json!(enabled));
    }
    put("samlLoginEnabled", json!(c.saml.is_some()));
    let saml = c.saml.as_ref();
    if let Some(label) = saml.and_then(|s| s.button_label.as_ref()) {
        put("samlLabel", json!(label));
    }
    if let Some(image) = saml.and_then(|s| s.image_url.as_ref()) {
        put("samlImageUrl", json!(image));
    }
    put("openidLoginEnabled", json!(c.openid.is_some()));
    let openid = c.openid.as_ref();
    put(
        "openidLabel",
        json!(openid.map_or("Continue with OpenID", |o| o.button_label.as_str())),
    );
    if let Some(image) = openid.and_then(|o| o.image_url.as_ref()) {
        put("openidImageUrl", json!(image));
    }
    put(
        "openidAutoRedirect",
        json!(openid.is_some_and(|o| o.auto_redirect)),
    );
    put("serverDomain", json!(c.client.domain_server));
    put("emailLoginEnabled", json!(c.features.allow_email_login));
    put("registrationEnabled", json!(c.features.allow_registration));
    put("socialLoginEnabled", json!(c.features.allow_social_login));
    put("emailEnabled", json!(c.mail.client_email_enabled));
    put(
        "passwordResetEnabled",
        json!(c.features.allow_password_reset),
    );
    if c.min_password_length_set {
        put("minPasswordLength", json!(c.min_password_length));
    }
    // LibreChat's `getLdapConfig`: `username` only when on and LDAP_LOGIN_USES_USERNAME.
    put(
        "ldap",
        match &c.ldap {
            Some(ldap) if ldap.login_uses_username => json!({ "enabled": true, "username": true }),
            Some(_) => json!({ "enabled": true }),
            None => json!({ "enabled": false }),
        },
    );
    put("socialLogins", json!(c.yaml.social_logins));
    if let Some(t) = &c.yaml.turnstile {
        put("turnstile", t.clone());
    }
    if let Some(interface) = interface(c) {
        put("interface", interface);
    }
    p
}

fn interface(c: &Config) -> Option<Value> {
    let mut i = Map::new();
    if let Some(v) = &c.yaml.privacy_policy {
        i.insert("privacyPolicy".into(), v.clone());
    }
    if let Some(v) = &c.yaml.terms_of_service {
        i.insert("termsOfService".into(), v.clone());
    }
    (!i.is_empty()).then_some(Value::Object(i))
}

/// The fields only a signed-in user receives.
fn authenticated_extras(c: &Config, p: &mut Map<String, Value>) {
    p.insert("helpAndFaqURL".into(), json!(c.client.help_and_faq_url));
    if let Some(footer) = &c.client.custom_footer {
        p.insert("customFooter".into(), json!(footer));
    }
    p.insert(
        "allowAccountDeletion".into(),
        json!(c.features.allow_account_deletion),
    );
    p.insert("openidReuseTokens".into(), json!(false));
    p.insert(
        "interface".into(),
        interface(c).unwrap_or_else(|| Value::Object(Map::new())),
    );
}

#[utoipa::path(get, path = "/api/config", tag = "config",
    security(("bearer" = []), ()),
    responses((status = 200, description = "What the login page needs; a valid token adds the signed-in fields (never a 401)", body = schema::StartupConfig)))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    OptionalAuthUser(user): OptionalAuthUser,
) -> Json<Value> {
    let mut payload = anonymous_payload(&ctx.config);
    if user.is_some() {
        authenticated_extras(&ctx.config, &mut payload);
    }
    Json(Value::Object(payload))
}
