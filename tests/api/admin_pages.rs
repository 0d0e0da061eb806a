//! The admin console under `/ui/admin` over HTTP (the browser walk is `browser/admin.rs`):
//! who may open it, that every form needs this browser's CSRF token, and what each action
//! does, seen through the console and through the accounts it acts on.

use bouncer::clock::Clock;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};

use crate::helpers::*;

const ADMIN_EMAIL: &str = "root@example.com";
const USER_EMAIL: &str = "ada@example.com";

fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of `<input name="{name}" ... value="...">` in a page.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let tag = &rest[..rest.find('>')?];
    let value_at = tag.find("value=\"")? + 7;
    let value = &tag[value_at..];
    Some(value[..value.find('"')?].to_string())
}

async fn get(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let response = browser.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Signs `email` in on the pages in `browser`.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, email: &str) {
    let (status, html) = get(browser, &app.url("/ui/login")).await;
    assert_eq!(status, 200);
    let csrf = input_value(&html, "csrf").expect("a csrf token");
    let response = browser
        .post(app.url("/ui/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

/// The app with an ADMIN (the first user) and a USER, the admin signed in on the pages.
struct Console {
    app: TestApp,
    admin: reqwest::Client,
    admin_id: String,
    user: Session,
}

async fn console() -> Console {
    console_on(spawn_app().await).await
}

async fn console_on(app: TestApp) -> Console {
    // Verified, so that sign-in works whether or not the app sends verification mail.
    let db = app.db().await;
    for email in [ADMIN_EMAIL, USER_EMAIL] {
        assert_eq!(
            app.register("Test User", email, PASSWORD).await.status(),
            200
        );
        sqlx::query("UPDATE users SET email_verified = 1 WHERE email = $1")
            .bind(email)
            .execute(&db)
            .await
            .unwrap();
    }
    let root = app.signed_in_user_again(ADMIN_EMAIL).await;
    let user = app.signed_in_user_again(USER_EMAIL).await;
    let admin = new_browser();
    sign_in(&app, &admin, ADMIN_EMAIL).await;
    Console {
        app,
        admin,
        admin_id: root.user_id,
        user,
    }
}

impl Console {
    fn url(&self, rest: &str) -> String {
        self.app.url(&format!("/ui/admin{rest}"))
    }

    /// A console page and its form token.
    async fn page(&self, rest: &str) -> (u16, String, String) {
        let (status, html) = get(&self.admin, &self.url(rest)).await;
        let csrf = input_value(&html, "csrf").unwrap_or_default();
        (status, html, csrf)
    }

    /// Posts a form from the user's page, with the page's own token.
    async fn act(&self, rest: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let (status, _, csrf) = self.page(&format!("/users/{}", self.user.user_id)).await;
        assert_eq!(status, 200);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.admin
            .post(self.url(rest))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_back() {
    let app = spawn_app().await;
    let browser = new_browser();
    for (path, back) in [
        ("/ui/admin", "/ui/admin"),
        (
            "/ui/admin/users/abc?done=role",
            "/ui/admin/users/abc?done=role",
        ),
        (
            "/ui/admin/audit?kind=ban.created",
            "/ui/admin/audit?kind=ban.created",
        ),
    ] {
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        let to = url::Url::parse(&app.url("/"))
            .unwrap()
            .join(&location(&response))
            .unwrap();
        assert_eq!(to.path(), "/ui/login", "{path}");
        let rd = to
            .query_pairs()
            .find(|(k, _)| k == "rd")
            .map(|(_, v)| v.into_owned())
            .expect("a way back");
        assert_eq!(rd, back, "{path}");
    }
    // A form posted without a session changes nothing and goes to sign in too.
    let response = browser
        .post(app.url("/ui/admin/users/abc/disable"))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/ui/login?rd=%2Fui%2Fadmin"));
}

#[tokio::test]
async fn a_user_gets_a_403_page_and_an_admin_the_console() {
    let c = console().await;
    let user = new_browser();
    sign_in(&c.app, &user, USER_EMAIL).await;
    for path in [
        "",
        "/bans",
        "/audit",
        "/settings",
        "/users/x",
        "/audit/export",
    ] {
        let (status, html) = get(&user, &c.url(path)).await;
        assert_eq!(status, 403, "{path}: {html}");
        assert!(html.contains("Forbidden"), "{html}");
        assert!(!html.contains("admin-nav"), "{html}");
    }
    let (status, _) = get(&user, &c.url("/users/x")).await;
    assert_eq!(status, 403);

    for path in ["", "/bans", "/audit", "/settings"] {
        let response = c.admin.get(c.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        let html = response.text().await.unwrap();
        assert!(html.contains("class=\"admin-nav\""), "{path}: {html}");
        assert!(html.contains("aria-current=\"page\""), "{path}");
        assert!(!html.contains("<script"), "{path}");
    }
}

/// Every console form, with the fields it takes (the token aside).
fn forms(user_id: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let u = format!("/users/{user_id}");
    vec![
        (format!("{u}/role"), vec![("role", "ADMIN")]),
        (format!("{u}/disable"), vec![]),
        (format!("{u}/enable"), vec![]),
        (format!("{u}/sign-out"), vec![]),
        (format!("{u}/reset-2fa"), vec![]),
        (format!("{u}/password-reset"), vec![]),
        (
            format!("{u}/ban"),
            vec![("duration", "1h"), ("reason", "spam")],
        ),
        (format!("{u}/unban"), vec![]),
        (format!("{u}/sessions/revoke"), vec![("session_id", "x")]),
        (format!("{u}/sessions/revoke-all"), vec![]),
        (format!("{u}/delete"), vec![("confirm", "yes")]),
        (
            "/bans".into(),
            vec![("ip", "203.0.113.9"), ("duration", "1h")],
        ),
        (
            "/bans/lift".into(),
            vec![("kind", "ip"), ("subject", "203.0.113.9")],
        ),
    ]
}

#[tokio::test]
async fn every_form_is_refused_without_this_browsers_token() {
    let c = console().await;
    // A token from another browser (its own CSRF cookie and session) is not this one's.
    let other = new_browser();
    sign_in(&c.app, &other, ADMIN_EMAIL).await;
    let (_, html) = get(&other, &c.url("/bans")).await;
    let foreign = input_value(&html, "csrf").unwrap_or_default();
    let (_, _, own) = c.page("/bans").await;
    assert!(!own.is_empty());
    assert_ne!(foreign, own);

    for (rest, fields) in forms(&c.user.user_id) {
        for token in [
            None,
            Some(""),
            Some(foreign.as_str()),
            Some("0".repeat(64).as_str()),
        ] {
            let mut form: Vec<(&str, &str)> = fields.clone();
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            let response = c.admin.post(c.url(&rest)).form(&form).send().await.unwrap();
            assert_eq!(response.status(), 403, "{rest} with {token:?}");
            let html = response.text().await.unwrap();
            assert!(html.contains("This form has expired"), "{rest}: {html}");
        }
        // The right token, but sent from another site.
        let mut form = fields.clone();
        form.push(("csrf", own.as_str()));
        let response = c
            .admin
            .post(c.url(&rest))
            .header("sec-fetch-site", "cross-site")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{rest} cross-site");
        assert!(response.headers().get(LOCATION).is_none());
    }
    // Nothing happened to the user: still a USER, enabled, signed in, there.
    let (status, body) = status_and_json(c.app.get_user(&c.user.token).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "USER");
    assert_eq!(c.app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);
}

/// The user page's HTML.
async fn user_page(c: &Console, id: &str) -> (u16, String) {
    get(&c.admin, &c.url(&format!("/users/{id}"))).await
}

/// Follows an action's redirect (POST-redirect-GET) and returns the page it lands on.
async fn landed(c: &Console, response: reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let to = location(&response);
    let (status, html) = get(&c.admin, &c.app.url(&to)).await;
    assert_eq!(status, 200, "{to}: {html}");
    (to, html)
}

/// The text of the page's notice (`role=status`).
fn notice(html: &str) -> String {
    let at = html.find("id=\"notice\"").expect("a notice");
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..start + rest[start..].find('<').unwrap()].to_string()
}

/// The text of the page's refusal (`role=alert`).
fn alert(html: &str) -> String {
    let at = html
        .find("id=\"form-error\"")
        .expect("an error on the page");
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..start + rest[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn the_users_list_searches_filters_and_links_to_each_user() {
    let c = console().await;
    let (status, html) = get(&c.admin, &c.url("?search=ADA")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(USER_EMAIL), "{html}");
    assert!(
        html.contains(&format!("href=\"/ui/admin/users/{}\"", c.user.user_id)),
        "{html}"
    );
    let rows = |html: &str| html.matches("<tr data-user-id=").count();
    assert_eq!(rows(&html), 1, "{html}");
    let (_, html) = get(&c.admin, &c.url("?role=ADMIN")).await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains(&format!("data-user-id=\"{}\"", c.admin_id)));
    let (_, html) = get(&c.admin, &c.url("?sort=email&order=asc")).await;
    assert_eq!(rows(&html), 2);
    assert!(html.find(USER_EMAIL).unwrap() < html.find(ADMIN_EMAIL).unwrap());
    let (_, html) = get(&c.admin, &c.url("?disabled=true")).await;
    assert_eq!(rows(&html), 0);
    assert!(html.contains("id=\"no-users\""));
    // A filter the list does not take is refused by name, on the page, not with a 500.
    for (query, words) in [
        ("?banned=maybe", "banned"),
        ("?sort=password", "sort"),
        ("?cursor=not-a-cursor", "cursor"),
    ] {
        let (status, html) = get(&c.admin, &c.url(query)).await;
        assert_eq!(status, 400, "{query}: {html}");
        assert!(alert(&html).contains(words), "{query}: {html}");
    }
}

#[tokio::test]
async fn the_user_page_shows_sessions_and_changing_the_role_counts_at_once() {
    let c = console().await;
    let (status, html) = user_page(&c, &c.user.user_id).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(USER_EMAIL));
    assert!(html.contains("id=\"sessions-table\""), "{html}");
    assert_eq!(html.matches("class=\"revoke-session-form\"").count(), 1);
    for id in [
        "role-form",
        "disable-form",
        "sign-out-form",
        "password-reset-form",
        "ban-form",
        "delete-link",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let (status, html) = user_page(&c, "no-such-user").await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("User not found"), "{html}");

    // Promoted, Ada opens the console; demoted, she no longer does.
    let ada = new_browser();
    sign_in(&c.app, &ada, USER_EMAIL).await;
    let rest = format!("/users/{}/role", c.user.user_id);
    let (to, html) = landed(&c, c.act(&rest, &[("role", "ADMIN")]).await).await;
    assert_eq!(to, format!("/ui/admin/users/{}?done=role", c.user.user_id));
    assert_eq!(notice(&html), "The role was changed.");
    assert!(html.contains("<dd id=\"user-role\">ADMIN</dd>"), "{html}");
    assert_eq!(get(&ada, &c.url("")).await.0, 200);
    landed(&c, c.act(&rest, &[("role", "USER")]).await).await;
    assert_eq!(get(&ada, &c.url("")).await.0, 403);
    // A role that is not one is refused on the page.
    let response = c.act(&rest, &[("role", "ROOT")]).await;
    assert_eq!(response.status(), 400);
    assert!(alert(&response.text().await.unwrap()).contains("role"));

    // The last ADMIN cannot demote themselves: the use case's conflict, on the page.
    let response = c
        .act(&format!("/users/{}/role", c.admin_id), &[("role", "USER")])
        .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(!alert(&html).is_empty(), "{html}");
    assert_eq!(get(&c.admin, &c.url("")).await.0, 200, "still an admin");
}

#[tokio::test]
async fn disabling_refuses_the_users_token_at_once_and_enabling_restores_sign_in() {
    let c = console().await;
    let base = format!("/users/{}", c.user.user_id);
    let (_, html) = landed(&c, c.act(&format!("{base}/disable"), &[]).await).await;
    assert_eq!(
        notice(&html),
        "The user was disabled and signed out everywhere."
    );
    assert!(html.contains("id=\"enable-form\""), "{html}");
    assert!(html.contains("Disabled"), "{html}");
    let (status, _) = status_and_json(c.app.get_user(&c.user.token).await).await;
    assert!(status == 401 || status == 403, "{status}");
    assert_eq!(c.app.login(USER_EMAIL, PASSWORD).await.status(), 403);
    let (_, html) = get(&c.admin, &c.url("?disabled=true")).await;
    assert!(html.contains(USER_EMAIL));

    let (_, html) = landed(&c, c.act(&format!("{base}/enable"), &[]).await).await;
    assert_eq!(notice(&html), "The user was enabled.");
    assert_eq!(c.app.login(USER_EMAIL, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn revoking_sessions_ends_them() {
    let c = console().await;
    let base = format!("/users/{}", c.user.user_id);
    let second = c.app.signed_in_user_again(USER_EMAIL).await;
    let (_, html) = user_page(&c, &c.user.user_id).await;
    assert_eq!(html.matches("class=\"revoke-session-form\"").count(), 2);
    // Revoke the first session only: its token is refused, the second's still works.
    let session_id = crate::helpers::jwt_payload(&c.user.token)["sid"]
        .as_str()
        .map(str::to_string)
        .expect("a session id in the token");
    assert!(
        html.contains(&format!("data-session-id=\"{session_id}\"")),
        "{html}"
    );
    let (_, html) = landed(
        &c,
        c.act(
            &format!("{base}/sessions/revoke"),
            &[("session_id", &session_id)],
        )
        .await,
    )
    .await;
    assert_eq!(notice(&html), "The session was revoked.");
    assert_eq!(html.matches("class=\"revoke-session-form\"").count(), 1);
    assert_ne!(c.app.get_user(&c.user.token).await.status(), 200);
    assert_eq!(c.app.get_user(&second.token).await.status(), 200);
    // A session that is not (or no longer) theirs: the use case's 404, on the user page.
    let response = c
        .act(
            &format!("{base}/sessions/revoke"),
            &[("session_id", &session_id)],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("id=\"profile-section\""));
    // Revoke all.
    landed(&c, c.act(&format!("{base}/sessions/revoke-all"), &[]).await).await;
    assert_ne!(c.app.get_user(&second.token).await.status(), 200);
    let (_, html) = user_page(&c, &c.user.user_id).await;
    assert!(html.contains("id=\"no-sessions\""), "{html}");
    // Force sign-out on a fresh session.
    let third = c.app.signed_in_user_again(USER_EMAIL).await;
    let (_, html) = landed(&c, c.act(&format!("{base}/sign-out"), &[]).await).await;
    assert_eq!(notice(&html), "The user was signed out everywhere.");
    assert_ne!(c.app.get_user(&third.token).await.status(), 200);
}

#[tokio::test]
async fn a_ban_from_the_user_page_refuses_the_user_until_lifted() {
    let c = console().await;
    let base = format!("/users/{}", c.user.user_id);
    // A duration that is not one: refused on the page, nothing banned.
    let response = c
        .act(
            &format!("{base}/ban"),
            &[("duration", "forever"), ("reason", "spam")],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(alert(&response.text().await.unwrap()).contains("duration"));
    assert_eq!(c.app.get_user(&c.user.token).await.status(), 200);

    let (_, html) = landed(
        &c,
        c.act(
            &format!("{base}/ban"),
            &[("duration", "2h"), ("reason", "spam links")],
        )
        .await,
    )
    .await;
    assert_eq!(notice(&html), "The ban is in force.");
    assert!(html.contains("id=\"user-bans-table\""), "{html}");
    assert!(html.contains("spam links"));
    assert_ne!(c.app.get_user(&c.user.token).await.status(), 200);
    let (_, bans) = get(&c.admin, &c.url("/bans")).await;
    assert!(
        bans.contains(USER_EMAIL) && bans.contains("spam links"),
        "{bans}"
    );

    let (_, html) = landed(&c, c.act(&format!("{base}/unban"), &[]).await).await;
    assert_eq!(notice(&html), "The ban was lifted.");
    assert!(html.contains("id=\"no-bans\""));
    assert_eq!(c.app.login(USER_EMAIL, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn an_ip_prefix_ban_from_the_bans_page_refuses_its_clients_until_lifted() {
    let c = console().await;
    let (_, _, csrf) = c.page("/bans").await;
    let post = |fields: Vec<(&'static str, String)>| {
        let mut form = fields;
        form.push(("csrf", csrf.clone()));
        c.admin.post(c.url("/bans")).form(&form).send()
    };
    let response = post(vec![
        ("ip", "not an address".into()),
        ("duration", "1h".into()),
    ])
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(!alert(&html).is_empty());
    assert!(
        html.contains("value=\"not an address\""),
        "the form keeps what was sent"
    );

    let response = post(vec![
        ("ip", "203.0.113.0/24".into()),
        ("duration", "1h".into()),
        ("reason", "scraper".into()),
    ])
    .await
    .unwrap();
    let (_, html) = landed(&c, response).await;
    assert_eq!(notice(&html), "The ban is in force.");
    assert!(html.contains("data-subject=\"203.0.113.0/24\""), "{html}");
    assert_eq!(
        c.app
            .login_from("203.0.113.7", USER_EMAIL, PASSWORD)
            .await
            .status(),
        403
    );
    let (_, _, csrf) = c.page("/bans").await;
    let response = c
        .admin
        .post(c.url("/bans/lift"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "ip"),
            ("subject", "203.0.113.0/24"),
        ])
        .send()
        .await
        .unwrap();
    let (_, html) = landed(&c, response).await;
    assert_eq!(notice(&html), "The ban was lifted.");
    assert!(html.contains("id=\"no-bans\""));
    assert_eq!(
        c.app
            .login_from("203.0.113.7", USER_EMAIL, PASSWORD)
            .await
            .status(),
        200
    );
    // Lifting what is not banned: the use case's 404 on the page.
    let (_, _, csrf) = c.page("/bans").await;
    let response = c
        .admin
        .post(c.url("/bans/lift"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "ip"),
            ("subject", "198.51.100.1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn deleting_takes_a_confirmation_step() {
    let c = console().await;
    let base = format!("/users/{}", c.user.user_id);
    let (status, html) = get(&c.admin, &c.url(&format!("{base}/delete"))).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"delete-form\"") && html.contains(USER_EMAIL));
    let csrf = input_value(&html, "csrf").unwrap();
    // Without the confirmation's field, back to the confirmation; nothing deleted.
    let response = c
        .admin
        .post(c.url(&format!("{base}/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/ui/admin{base}/delete"));
    assert_eq!(c.app.get_user(&c.user.token).await.status(), 200);
    let response = c
        .admin
        .post(c.url(&format!("{base}/delete")))
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    let (to, html) = landed(&c, response).await;
    assert_eq!(to, "/ui/admin?done=deleted");
    assert_eq!(notice(&html), "The user was deleted.");
    assert!(!html.contains(USER_EMAIL));
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM users WHERE email = $1", &[USER_EMAIL])
            .await,
        0
    );
    assert_eq!(user_page(&c, &c.user.user_id).await.0, 404);
}

#[tokio::test]
async fn the_audit_log_filters_pages_and_exports_for_the_signed_in_admin() {
    let c = console().await;
    let base = format!("/users/{}", c.user.user_id);
    landed(
        &c,
        c.act(&format!("{base}/ban"), &[("duration", "1h")]).await,
    )
    .await;
    landed(&c, c.act(&format!("{base}/unban"), &[]).await).await;
    c.app.ctx.audit.flush().await;

    let (status, html) = get(&c.admin, &c.url(&format!("/audit?user={USER_EMAIL}"))).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-kind=\"ban.created\""), "{html}");
    assert!(html.contains("data-kind=\"ban.lifted\""), "{html}");
    let (_, html) = get(&c.admin, &c.url("/audit?kind=ban.created")).await;
    assert!(html.contains("data-kind=\"ban.created\""));
    assert!(!html.contains("data-kind=\"ban.lifted\""));
    // The user's page shows their recent events too.
    let (_, html) = user_page(&c, &c.user.user_id).await;
    assert!(html.contains("data-kind=\"ban.lifted\""), "{html}");
    // Bad filters: 400 with the use case's words.
    for query in ["?kind=no.such", "?since=yesterday", "?cursor=x"] {
        let (status, html) = get(&c.admin, &c.url(&format!("/audit{query}"))).await;
        assert_eq!(status, 400, "{query}: {html}");
        assert!(!alert(&html).is_empty());
    }

    // The export: every matching event as JSON lines, by the browser session.
    let (_, html) = get(&c.admin, &c.url("/audit?kind=ban.created")).await;
    assert!(
        html.contains("href=\"/ui/admin/audit/export?kind=ban.created\""),
        "{html}"
    );
    let response = c
        .admin
        .get(c.url("/audit/export?kind=ban.created,ban.lifted"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.text().await.unwrap();
    let kinds: Vec<String> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["ban.lifted", "ban.created"], "{body}");
    let (status, _) = get(&c.admin, &c.url("/audit/export?since=never")).await;
    assert_eq!(status, 400);
    // Not for anyone else.
    let response = new_browser()
        .get(c.url("/audit/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn the_settings_page_shows_the_settings_at_a_glance() {
    let c = console().await;
    let (status, html) = get(&c.admin, &c.url("/settings")).await;
    assert_eq!(status, 200, "{html}");
    for words in ["Email login", "Registration", "Limiters", "Ban duration ms"] {
        assert!(html.contains(words), "{words}: {html}");
    }
    assert!(!html.contains(crate::helpers::JWT_SECRET));
    assert!(!html.contains(crate::helpers::JWT_REFRESH_SECRET));
}

/// The current TOTP code for a base32 secret, by the app's clock.
fn totp_now(app: &TestApp, secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes);
    totp.generate((app.clock.now_ms() / 1000) as u64)
}

#[tokio::test]
async fn resetting_two_factor_turns_it_off_and_ends_the_sessions() {
    let c = console().await;
    let (status, enabled) = c.app.enable_2fa(&c.user.token).await;
    assert_eq!(status, 200, "{enabled}");
    let otpauth = url::Url::parse(enabled["otpauthUrl"].as_str().unwrap()).unwrap();
    let secret = otpauth
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    let code = totp_now(&c.app, &secret);
    assert_eq!(c.app.confirm_2fa(&c.user.token, &code).await.0, 200);
    let (_, html) = user_page(&c, &c.user.user_id).await;
    assert!(html.contains("id=\"reset-2fa-form\""), "{html}");

    let base = format!("/users/{}", c.user.user_id);
    let (_, html) = landed(&c, c.act(&format!("{base}/reset-2fa"), &[]).await).await;
    assert_eq!(notice(&html), "Two-factor authentication was reset.");
    assert!(!html.contains("id=\"reset-2fa-form\""), "{html}");
    assert_ne!(c.app.get_user(&c.user.token).await.status(), 200);
    // The password alone signs in again: no second step.
    let (status, body) = status_and_json(c.app.login(USER_EMAIL, PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string(), "{body}");
}

#[tokio::test]
async fn sending_a_password_reset_mails_the_user_a_link() {
    let mut smtp = crate::mail_peers::SmtpPeer::start().await;
    let peer = smtp.vars();
    let mut vars: Vec<(&str, &str)> = peer.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("ALLOW_PASSWORD_RESET", "true"));
    let c = console_on(spawn_app_with(&vars).await).await;
    let base = format!("/users/{}", c.user.user_id);
    let (_, html) = landed(&c, c.act(&format!("{base}/password-reset"), &[]).await).await;
    assert_eq!(notice(&html), "A password reset link was sent.");
    // The registrations' verification mails came first.
    let mut message = smtp.next_message().await;
    for _ in 0..3 {
        if !message["subject"].as_str().unwrap().contains("Verify") {
            break;
        }
        message = smtp.next_message().await;
    }
    assert!(message["to"].to_string().contains(USER_EMAIL), "{message}");
    assert!(
        message["subject"].as_str().unwrap().contains("eset"),
        "{message}"
    );
    assert!(
        message["text"].as_str().unwrap().contains("token="),
        "{message}"
    );
}

#[tokio::test]
async fn with_two_factor_required_for_admins_an_admin_without_it_is_told_so() {
    let c = console_on(spawn_app_with(&[("REQUIRE_2FA_FOR_ADMINS", "true")]).await).await;
    let (status, html) = get(&c.admin, &c.url("")).await;
    assert_eq!(status, 403, "{html}");
    assert!(alert(&html).contains("two-factor"), "{html}");
    assert!(!html.contains("admin-nav"));
}

#[tokio::test]
async fn an_address_that_names_no_user_is_a_404_page() {
    let c = console().await;
    for id in ["a.b", "%3Cb%3E", "a%20b", &"f".repeat(300)] {
        let (status, html) = user_page(&c, id).await;
        assert_eq!(status, 404, "{id}: {html}");
        let response = c.act(&format!("/users/{id}/disable"), &[]).await;
        assert_eq!(response.status(), 404, "{id}");
    }
}

#[tokio::test]
async fn lifting_a_ban_that_is_not_there_is_said_on_the_users_page() {
    let c = console().await;
    let response = c
        .act(&format!("/users/{}/unban", c.user.user_id), &[])
        .await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"profile-section\""), "{html}");
    assert!(!alert(&html).is_empty());
}
