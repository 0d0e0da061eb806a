//! The sign-in pages over HTTP (the browser walks are in `browser/`): forms and their CSRF
//! tokens, the security headers, the single-sign-on cookie and what revokes it, return
//! addresses, and forward-auth by cookie.

use bouncer::clock::Clock;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;

/// The value of `<input name="{name}" ... value="...">` in a page.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let value_at = tag.find("value=\"")? + 7;
    let value = &tag[value_at..];
    Some(value[..value.find('"')?].replace("&#43;", "+"))
}

/// A page and its form token.
async fn page(client: &reqwest::Client, url: &str) -> (u16, String, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    let csrf = input_value(&html, "csrf").unwrap_or_default();
    (status, html, csrf)
}

async fn post_form(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client.post(url).form(fields).send().await.unwrap()
}

async fn registered(app: &TestApp, email: &str) {
    assert_eq!(
        app.register("Ada Lovelace", email, PASSWORD).await.status(),
        200
    );
    let db = app.db().await;
    sqlx::query("UPDATE users SET email_verified = 1 WHERE email = $1")
        .bind(email)
        .execute(&db)
        .await
        .unwrap();
}

/// Signs in on the pages; returns the answer of the login form.
async fn sign_in_on_pages(
    app: &TestApp,
    email: &str,
    password: &str,
    rd: &str,
) -> reqwest::Response {
    sign_in_with(&app.browser, app, email, password, rd).await
}

fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in_with(
    browser: &reqwest::Client,
    app: &TestApp,
    email: &str,
    password: &str,
    rd: &str,
) -> reqwest::Response {
    let (status, _, csrf) = page(browser, &app.url("/ui/login")).await;
    assert_eq!(status, 200);
    post_form(
        browser,
        &app.url("/ui/login"),
        &[
            ("csrf", &csrf),
            ("email", email),
            ("password", password),
            ("rd", rd),
        ],
    )
    .await
}

#[tokio::test]
async fn pages_carry_strict_security_headers() {
    let app = spawn_app().await;
    let response = app.browser.get(app.url("/ui/login")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csrf_cookie = set_cookie_line(&headers, "bouncer_session_csrf").expect("csrf cookie");
    assert!(has_flag(&csrf_cookie, "HttpOnly"), "{csrf_cookie}");
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"login-form\""), "{html}");
    // No inline script: the one script is the passkeys file.
    assert!(
        html.matches("<script").count()
            == html
                .matches("<script src=\"/ui/passkeys.js\" defer></script>")
                .count(),
        "no inline script on the pages: {html}"
    );
    // The stylesheet is a file, and unknown pages are a page too.
    let css = app
        .browser
        .get(app.url("/ui/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.text().await.unwrap().contains("--accent: #2563eb"));
    let missing = app
        .browser
        .get(app.url("/ui/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key(CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn a_form_without_this_browsers_token_is_refused() {
    let app = spawn_app().await;
    registered(&app, "ada@example.com").await;
    let (_, _, csrf) = page(&app.browser, &app.url("/ui/login")).await;
    let fields = [("email", "ada@example.com"), ("password", PASSWORD)];
    // No token, a wrong token, and the right token from a browser without the cookie.
    let none = post_form(&app.browser, &app.url("/ui/login"), &fields).await;
    assert_eq!(none.status(), 403);
    let zeros = "0".repeat(64);
    let wrong = [("csrf", zeros.as_str()), fields[0], fields[1]];
    assert_eq!(
        post_form(&app.browser, &app.url("/ui/login"), &wrong)
            .await
            .status(),
        403
    );
    let stolen = [("csrf", csrf.as_str()), fields[0], fields[1]];
    assert_eq!(
        post_form(&app.bare, &app.url("/ui/login"), &stolen)
            .await
            .status(),
        403
    );
    // A form sent from another site is refused even with the token.
    let cross = app
        .browser
        .post(app.url("/ui/login"))
        .header("Origin", "https://evil.example")
        .form(&stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let opaque = app
        .browser
        .post(app.url("/ui/login"))
        .header("Origin", "null")
        .form(&stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(
        opaque.status(),
        403,
        "an opaque origin is no origin of ours"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions", &[]).await, 0);
    // The browser's own origin (DOMAIN_SERVER's) passes.
    let own = app
        .browser
        .post(app.url("/ui/login"))
        .header("Origin", "http://localhost:3080")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 303);
}

#[tokio::test]
async fn signing_in_sets_the_sso_cookie_that_forward_auth_reads_until_sign_out() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    registered(&app, "ada@example.com").await;
    let wrong = sign_in_on_pages(&app, "ada@example.com", "wrong password!", "").await;
    assert_eq!(wrong.status(), 401);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("id=\"form-error\""), "{html}");
    assert!(html.contains("Incorrect email or password."), "{html}");

    let rd = "http://localhost:3080/c/new";
    let ok = sign_in_on_pages(&app, "ada@example.com", PASSWORD, rd).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), rd);
    let line = set_cookie_line(ok.headers(), "bouncer_session").expect("sso cookie");
    assert!(has_flag(&line, "HttpOnly"), "{line}");
    assert_eq!(
        cookie_attr(&line, "SameSite").as_deref(),
        Some("Lax"),
        "{line}"
    );
    let cookie = cookie_value(ok.headers(), "bouncer_session").unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE kind = 'browser'", &[])
            .await,
        1
    );

    let verify = |cookie: String| {
        let app = &app;
        async move {
            app.bare
                .get(app.url("/api/auth/verify"))
                .header("Cookie", format!("bouncer_session={cookie}"))
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", "/app")
                .send()
                .await
                .unwrap()
        }
    };
    let admitted = verify(cookie.clone()).await;
    assert_eq!(admitted.status(), 200);
    assert_eq!(admitted.headers()["x-auth-user-email"], "ada@example.com");

    // The account page lists this session as the current one.
    let (status, html, csrf) = page(&app.browser, &app.url("/ui/account")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-current=\"true\""), "{html}");

    let out = post_form(&app.browser, &app.url("/ui/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 200);
    assert!(out.text().await.unwrap().contains("id=\"notice\""));
    assert_eq!(verify(cookie).await.status(), 401);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions", &[]).await, 0);
}

#[tokio::test]
async fn a_crafted_return_address_never_leaves_the_allowed_hosts() {
    let app = spawn_app().await;
    registered(&app, "ada@example.com").await;
    for rd in [
        "//evil.example/",
        "https:evil.example",
        "/\\evil.example",
        "https://localhost@evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
    ] {
        let answer = sign_in_with(&new_browser(), &app, "ada@example.com", PASSWORD, rd).await;
        assert_eq!(answer.status(), 303, "{rd}");
        assert_eq!(location(&answer), "/ui/account", "{rd}");
    }
    // The form shows only a checked address back.
    let (_, html, _) = page(&app.bare, &app.url("/ui/login?rd=%2F%2Fevil.example")).await;
    assert!(!html.contains("evil.example"), "{html}");
}

#[tokio::test]
async fn a_ban_or_a_password_change_elsewhere_ends_the_browser_session() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    registered(&app, "ada@example.com").await;
    let ok = sign_in_on_pages(&app, "ada@example.com", PASSWORD, "").await;
    assert_eq!(ok.status(), 303);
    let (status, _, _) = page(&app.browser, &app.url("/ui/account")).await;
    assert_eq!(status, 200);
    let user_id = app
        .ctx
        .accounts
        .find_by_email(&bouncer::accounts::Email::normalized("ada@example.com"))
        .await
        .unwrap()
        .unwrap()
        .id;
    app.ctx
        .accounts
        .set_password(&user_id, "another good password")
        .await
        .unwrap();
    // Signed out: the account page sends the browser to sign in again.
    let after = app
        .browser
        .get(app.url("/ui/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    assert!(
        location(&after).starts_with("/ui/login?rd="),
        "{}",
        location(&after)
    );
    // A ban shows its remaining time on the page.
    let ok = sign_in_on_pages(&app, "ada@example.com", "another good password", "").await;
    assert_eq!(ok.status(), 303);
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::User {
                id: &user_id,
                ip: "127.0.0.1".parse().unwrap(),
            },
            "test",
            0,
            30 * 60_000,
        )
        .await
        .unwrap();
    let banned = sign_in_on_pages(&app, "ada@example.com", "another good password", "").await;
    assert_eq!(banned.status(), 403);
    let html = banned.text().await.unwrap();
    assert!(html.contains("temporarily banned"), "{html}");
    assert!(html.contains("30 minute(s)"), "{html}");
}

#[tokio::test]
async fn two_factor_on_the_account_page_then_the_second_step_at_sign_in() {
    let app = spawn_app().await;
    registered(&app, "ada@example.com").await;
    assert_eq!(
        sign_in_on_pages(&app, "ada@example.com", PASSWORD, "")
            .await
            .status(),
        303
    );
    let (_, _, csrf) = page(&app.browser, &app.url("/ui/account")).await;
    let setup = post_form(
        &app.browser,
        &app.url("/ui/account/2fa/setup"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(setup.status(), 200);
    let html = setup.text().await.unwrap();
    assert!(html.contains("<svg"), "an inline QR code");
    let secret_at = html.find("id=\"totp-secret\">").unwrap() + 17;
    let secret = html[secret_at..html[secret_at..].find('<').unwrap() + secret_at].to_string();
    let backup = input_value(&html, "backup_codes").unwrap();
    let code_now = || {
        let bytes = Secret::Encoded(secret.clone()).to_bytes().unwrap();
        TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
            .generate((app.clock.now_ms() / 1000) as u64)
    };
    let confirm = post_form(
        &app.browser,
        &app.url("/ui/account/2fa/confirm"),
        &[
            ("csrf", &csrf),
            ("code", &code_now()),
            ("secret", &secret),
            ("backup_codes", &backup),
        ],
    )
    .await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("id=\"backup-codes\""), "{html}");
    let first_backup = backup.split_whitespace().next().unwrap().to_string();

    // A new browser: the password leads to the second step, then a code signs in.
    let other = new_browser();
    let (_, _, csrf) = page(&other, &app.url("/ui/login")).await;
    let step = post_form(
        &other,
        &app.url("/ui/login"),
        &[
            ("csrf", &csrf),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(step.status(), 200);
    let html = step.text().await.unwrap();
    assert!(html.contains("id=\"second-factor-form\""), "{html}");
    let temp = input_value(&html, "temp_token").unwrap();
    let bad = post_form(
        &other,
        &app.url("/ui/login/2fa"),
        &[("csrf", &csrf), ("temp_token", &temp), ("code", "000000")],
    )
    .await;
    assert_eq!(bad.status(), 401);
    let good = post_form(
        &other,
        &app.url("/ui/login/2fa"),
        &[
            ("csrf", &csrf),
            ("temp_token", &temp),
            ("code", &first_backup),
        ],
    )
    .await;
    assert_eq!(good.status(), 303);
    assert!(cookie_value(good.headers(), "bouncer_session").is_some());
    // The other session is listed and can be ended from the first browser.
    let (_, html, csrf) = page(&app.browser, &app.url("/ui/account")).await;
    assert_eq!(html.matches("data-session-id=").count(), 2, "{html}");
    let other_id = html
        .split("data-session-id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .find(|id| !html.contains(&format!("data-session-id=\"{id}\" data-current")))
        .unwrap()
        .to_string();
    let revoked = post_form(
        &app.browser,
        &app.url("/ui/account/sessions/revoke"),
        &[("csrf", &csrf), ("session_id", &other_id)],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    let gone = other.get(app.url("/ui/account")).send().await.unwrap();
    assert_eq!(gone.status(), 303);
    assert!(gone.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/ui/login"));
}

#[tokio::test]
async fn require_2fa_confines_a_page_session_to_setting_it_up() {
    let app = spawn_app_with(&[("REQUIRE_2FA", "true"), ("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    registered(&app, "ada@example.com").await;
    let ok = sign_in_on_pages(
        &app,
        "ada@example.com",
        PASSWORD,
        "http://localhost:3080/app",
    )
    .await;
    assert_eq!(ok.status(), 303);
    assert!(
        location(&ok).starts_with("/ui/account"),
        "{}",
        location(&ok)
    );
    let cookie = cookie_value(ok.headers(), "bouncer_session").unwrap();
    let verify = |cookie: String| {
        let app = &app;
        async move {
            app.bare
                .get(app.url("/api/auth/verify"))
                .header("Cookie", format!("bouncer_session={cookie}"))
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", "/app")
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(verify(cookie.clone()).await, 403, "enrolment first");
    // A browser behind Traefik or Caddy is sent to set it up.
    let to_setup = app
        .bare
        .get(app.url("/api/auth/verify"))
        .header("Cookie", format!("bouncer_session={cookie}"))
        .header("Accept", "text/html")
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/app")
        .send()
        .await
        .unwrap();
    assert_eq!(to_setup.status(), 302);
    assert_eq!(location(&to_setup), "http://localhost:3080/ui/account");
    let (_, html, csrf) = page(&app.browser, &app.url("/ui/account")).await;
    assert!(html.contains("id=\"two-factor-setup-form\""), "{html}");
    assert!(
        !html.contains("id=\"sessions-section\""),
        "only the 2FA setup"
    );
    // Nor do the other forms answer it (as the JSON API's 2FA-only token reaches nothing else).
    for (path, mut fields) in [
        (
            "/ui/account/password",
            vec![
                ("current_password", PASSWORD),
                ("password", "a new good password"),
                ("confirm_password", "a new good password"),
            ],
        ),
        ("/ui/account/delete", vec![("password", PASSWORD)]),
        ("/ui/account/sessions/revoke", vec![("session_id", "x")]),
    ] {
        fields.push(("csrf", csrf.as_str()));
        let refused = post_form(&app.browser, &app.url(path), &fields).await;
        assert_eq!(refused.status(), 403, "{path}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions", &[]).await, 1);
    let setup = post_form(
        &app.browser,
        &app.url("/ui/account/2fa/setup"),
        &[("csrf", &csrf)],
    )
    .await;
    let html = setup.text().await.unwrap();
    let secret_at = html.find("id=\"totp-secret\">").unwrap() + 17;
    let secret = html[secret_at..html[secret_at..].find('<').unwrap() + secret_at].to_string();
    let bytes = Secret::Encoded(secret.clone()).to_bytes().unwrap();
    let code = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
        .generate((app.clock.now_ms() / 1000) as u64);
    let confirm = post_form(
        &app.browser,
        &app.url("/ui/account/2fa/confirm"),
        &[("csrf", &csrf), ("code", &code), ("secret", &secret)],
    )
    .await;
    assert_eq!(confirm.status(), 200);
    let renewed = cookie_value(confirm.headers(), "bouncer_session").expect("a renewed cookie");
    assert_eq!(
        verify(renewed).await,
        200,
        "past enrolment, the same session passes"
    );
}

#[tokio::test]
async fn an_invitation_link_opens_registration_when_it_is_closed() {
    let app = spawn_app_with(&[("ALLOW_REGISTRATION", "false")]).await;
    let closed = app
        .browser
        .get(app.url("/ui/register"))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 403);
    assert!(closed
        .text()
        .await
        .unwrap()
        .contains("Registration is not allowed."));
    let token = app
        .ctx
        .accounts
        .create_invite(&bouncer::accounts::Email::normalized("grace@example.com"))
        .await
        .unwrap();
    let (status, html, csrf) = page(
        &app.browser,
        &app.url(&format!("/ui/register?token={token}")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(input_value(&html, "token").as_deref(), Some(token.as_str()));
    let form = |email: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("token", token.clone()),
            ("name", "Grace Hopper".to_string()),
            ("email", email.to_string()),
            ("password", PASSWORD.to_string()),
            ("confirm_password", PASSWORD.to_string()),
        ]
    };
    // The invitation is for its own email only.
    let other = app
        .browser
        .post(app.url("/ui/register"))
        .form(&form("eve@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
    assert!(other.text().await.unwrap().contains("Invalid invite token"));
    let ok = app
        .browser
        .post(app.url("/ui/register"))
        .form(&form("grace@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("id=\"notice\""));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'grace@example.com'",
            &[]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_login_limiter_answers_a_page_with_its_message() {
    let app = spawn_app_with(&[("LOGIN_MAX", "2"), ("LOGIN_WINDOW", "5")]).await;
    registered(&app, "ada@example.com").await;
    for _ in 0..2 {
        let wrong = sign_in_with(
            &new_browser(),
            &app,
            "ada@example.com",
            "wrong password!",
            "",
        )
        .await;
        assert_eq!(wrong.status(), 401);
    }
    let limited = sign_in_with(&new_browser(), &app, "ada@example.com", PASSWORD, "").await;
    assert_eq!(limited.status(), 429);
    let html = limited.text().await.unwrap();
    assert!(html.contains("id=\"form-error\""), "{html}");
    assert!(
        html.contains("Too many login attempts, please try again after 5 minutes."),
        "{html}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions", &[]).await, 0);
}

#[tokio::test]
async fn the_account_page_refuses_a_common_new_password_and_keeps_the_old_one() {
    let app = spawn_app().await;
    registered(&app, "ada@example.com").await;
    let signed_in = sign_in_on_pages(&app, "ada@example.com", PASSWORD, "").await;
    assert_eq!(signed_in.status(), 303);
    let (_, _, csrf) = page(&app.browser, &app.url("/ui/account")).await;

    let refused = post_form(
        &app.browser,
        &app.url("/ui/account/password"),
        &[
            ("csrf", &csrf),
            ("current_password", PASSWORD),
            ("password", "superman"),
            ("confirm_password", "superman"),
        ],
    )
    .await;
    let status = refused.status();
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("This password is too common"),
        "{status} {html}"
    );
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    assert_eq!(app.login("ada@example.com", "superman").await.status(), 404);

    let (_, _, csrf) = page(&app.browser, &app.url("/ui/account")).await;
    let changed = post_form(
        &app.browser,
        &app.url("/ui/account/password"),
        &[
            ("csrf", &csrf),
            ("current_password", PASSWORD),
            ("password", "a new good password"),
            ("confirm_password", "a new good password"),
        ],
    )
    .await;
    assert!(changed.status().is_success() || changed.status().is_redirection());
    assert_eq!(
        app.login("ada@example.com", "a new good password")
            .await
            .status(),
        200
    );
}
