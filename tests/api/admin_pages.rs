//! The admin console under `/ui/admin` over HTTP (the browser walk is `browser/admin.rs`):
//! who may open it, that every form needs this browser's CSRF token, and what each action
//! does, seen through the console and through the accounts it acts on.

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
        .form(&[("csrf", csrf.as_str()), ("email", email), ("password", PASSWORD)])
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
    let app = spawn_app().await;
    let root = app.signed_in_user(ADMIN_EMAIL).await;
    let user = app.signed_in_user(USER_EMAIL).await;
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
        ("/ui/admin/users/abc?done=role", "/ui/admin/users/abc?done=role"),
        ("/ui/admin/audit?kind=ban.created", "/ui/admin/audit?kind=ban.created"),
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
    for path in ["", "/bans", "/audit", "/settings", "/users/x", "/audit/export"] {
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
        (format!("{u}/ban"), vec![("duration", "1h"), ("reason", "spam")]),
        (format!("{u}/unban"), vec![]),
        (format!("{u}/sessions/revoke"), vec![("session_id", "x")]),
        (format!("{u}/sessions/revoke-all"), vec![]),
        (format!("{u}/delete"), vec![("confirm", "yes")]),
        ("/bans".into(), vec![("ip", "203.0.113.9"), ("duration", "1h")]),
        ("/bans/lift".into(), vec![("kind", "ip"), ("subject", "203.0.113.9")]),
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
        for token in [None, Some(""), Some(foreign.as_str()), Some("0".repeat(64).as_str())] {
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
