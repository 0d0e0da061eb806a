use serde_json::{json, Value};

use crate::helpers::*;

async fn config(app: &TestApp, token: Option<&str>) -> Value {
    let mut request = app.bare.get(app.url("/api/config?context=login"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn anonymous_payload_has_librechat_flags() {
    let app = spawn_app().await;
    let c = config(&app, None).await;
    assert_eq!(c["appTitle"], "LibreChat");
    assert_eq!(c["emailLoginEnabled"], true);
    assert_eq!(c["registrationEnabled"], true);
    assert_eq!(c["socialLoginEnabled"], false);
    assert_eq!(c["passwordResetEnabled"], false);
    assert_eq!(c["emailEnabled"], false);
    assert_eq!(c["serverDomain"], "http://localhost:3080");
    assert_eq!(c["openidLabel"], "Continue with OpenID");
    assert_eq!(c["ldap"], json!({"enabled": false}));
    assert_eq!(
        c["socialLogins"],
        json!(["google", "facebook", "openid", "github", "discord", "saml"])
    );
    for p in [
        "google", "github", "discord", "facebook", "apple", "openid", "saml",
    ] {
        assert_eq!(c[format!("{p}LoginEnabled")], false, "{p}");
    }
    assert!(c.get("minPasswordLength").is_none());
    assert!(c.get("turnstile").is_none());
    assert!(c.get("interface").is_none());
    assert!(c.get("helpAndFaqURL").is_none(), "authenticated-only field");
}

#[tokio::test]
async fn a_valid_token_adds_the_authenticated_fields_and_a_bad_one_is_not_401() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let anonymous = config(&app, None).await;
    let authenticated = config(&app, Some(&s.token)).await;
    assert_eq!(authenticated["helpAndFaqURL"], "https://librechat.ai");
    assert_eq!(authenticated["allowAccountDeletion"], true);
    for (k, v) in anonymous.as_object().unwrap() {
        assert_eq!(
            &authenticated[k], v,
            "authenticated payload is a superset ({k})"
        );
    }
    assert_eq!(config(&app, Some("garbage")).await, anonymous);
    app.clock.advance_ms(16 * 60 * 1000);
    assert_eq!(
        config(&app, Some(&s.token)).await,
        anonymous,
        "expired token = anonymous"
    );
}

#[tokio::test]
async fn payload_follows_environment_and_librechat_yaml() {
    let yaml = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        yaml.path(),
        r#"
registration:
  socialLogins: [github, google]
interface:
  privacyPolicy: { externalUrl: "https://example.com/privacy", openNewTab: true }
  termsOfService: { externalUrl: "https://example.com/tos" }
turnstile:
  siteKey: "0x4AAA"
  options: { theme: dark }
"#,
    )
    .unwrap();
    let app = spawn_app_with(&[
        ("CONFIG_PATH", yaml.path().to_str().unwrap()),
        ("APP_TITLE", "Acme Chat"),
        ("ALLOW_EMAIL_LOGIN", "false"),
        ("ALLOW_REGISTRATION", "false"),
        ("ALLOW_SOCIAL_LOGIN", "true"),
        ("MIN_PASSWORD_LENGTH", "10"),
        ("DOMAIN_SERVER", "https://chat.example.com/"),
    ])
    .await;
    let c = config(&app, None).await;
    assert_eq!(c["appTitle"], "Acme Chat");
    assert_eq!(c["emailLoginEnabled"], false);
    assert_eq!(c["registrationEnabled"], false);
    assert_eq!(c["socialLoginEnabled"], true);
    assert_eq!(c["minPasswordLength"], 10);
    assert_eq!(c["serverDomain"], "https://chat.example.com");
    assert_eq!(c["socialLogins"], json!(["github", "google"]));
    assert_eq!(
        c["turnstile"],
        json!({"siteKey": "0x4AAA", "options": {"theme": "dark"}})
    );
    assert_eq!(
        c["interface"]["privacyPolicy"]["externalUrl"],
        "https://example.com/privacy"
    );
    assert_eq!(
        c["interface"]["termsOfService"]["externalUrl"],
        "https://example.com/tos"
    );
}
