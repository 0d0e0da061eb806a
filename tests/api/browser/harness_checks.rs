//! The harness itself, on a small page of the test's own served with the strict
//! Content-Security-Policy the sign-in pages have: axe runs in spite of it (and finds what is
//! wrong), dark mode really switches, a form posts and its 303 is followed, and two browsers
//! keep their cookies apart.

use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::harness::{screenshot_dir, Browser};
use super::pages::runs_in_this_pass;

const CSP: &str = "default-src 'self'; script-src 'self'";

fn page(body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness page</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main>{body}</main>
<script>document.title = 'inline script ran';</script>
</body></html>"#
    );
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, CSP),
        ],
        html,
    )
        .into_response()
}

/// The site's style sheet (a file: the CSP forbids inline styles too).
const STYLE: &str = "body { background: #ffffff; color: #111111; font-family: sans-serif; }
@media (prefers-color-scheme: dark) { body { background: #111111; color: #eeeeee; } }";

/// A small site: `/good` (accessible, with a form), `/bad` (an image without text, an input
/// without label), `POST /submit` (303 to `/done`, setting a cookie), `/done`.
async fn serve_site() -> String {
    let router = Router::new()
        .route(
            "/style.css",
            get(|| async { ([(CONTENT_TYPE, "text/css")], STYLE) }),
        )
        .route(
            "/good",
            get(|| async {
                page(
                    r#"<h1>Sign in</h1>
<form id="the-form" method="post" action="/submit">
  <label for="email">Email</label> <input id="email" name="email" type="email">
  <button type="submit">Continue</button>
</form>"#,
                )
            }),
        )
        .route(
            "/bad",
            get(|| async {
                page(r#"<h1>Broken</h1><img src="/nothing.png"><input id="nameless" name="x">"#)
            }),
        )
        .route(
            "/submit",
            axum::routing::post(|body: String| async move {
                (
                    axum::http::StatusCode::SEE_OTHER,
                    [
                        (LOCATION, format!("/done?{body}")),
                        (
                            SET_COOKIE,
                            "harness=1; Path=/; HttpOnly; SameSite=Lax".into(),
                        ),
                    ],
                )
            }),
        )
        .route(
            "/done",
            get(|| async { page(r#"<h1>Done</h1><div role="status" id="notice">Posted</div>"#) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_harness_runs_axe_under_a_strict_csp_switches_dark_mode_and_posts_forms() {
    let test = "the_harness_runs_axe_under_a_strict_csp_switches_dark_mode_and_posts_forms";
    if !runs_in_this_pass(test, false) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let site = serve_site().await;

    browser.goto(&format!("{site}/good")).await;
    // The page's CSP is in force: its inline script did not run...
    assert_eq!(
        browser.eval("return document.title;").await,
        "Harness page",
        "the inline script was blocked by the Content-Security-Policy"
    );
    // ...and axe, injected by WebDriver, runs all the same: nothing serious on a good page.
    let violations = browser.serious_violations().await;
    assert!(
        violations.is_empty(),
        "{:?}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );

    // Dark mode: the page's own styles follow the emulated preference.
    let background = "return getComputedStyle(document.body).backgroundColor;";
    assert_eq!(browser.eval(background).await, "rgb(255, 255, 255)");
    browser.set_dark(true).await;
    assert_eq!(browser.eval(background).await, "rgb(17, 17, 17)");
    browser.set_dark(false).await;
    assert_eq!(browser.eval(background).await, "rgb(255, 255, 255)");

    // check_page writes both screenshots.
    browser.check_page("harness-good").await;
    for mode in ["light", "dark"] {
        let file = screenshot_dir().join(format!("harness-good-{mode}.png"));
        let png = std::fs::read(&file).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{}", file.display());
    }

    // A form posts, its 303 is followed, its cookie kept (HttpOnly: not in document.cookie).
    browser.fill("email", "ada@example.com").await;
    browser.submit("#the-form").await;
    let url = browser.url().await;
    assert_eq!(url.path(), "/done");
    assert_eq!(url.query(), Some("email=ada%40example.com"));
    assert_eq!(browser.text("#notice").await, "Posted");
    assert!(!browser.has("#the-form").await, "the form's page is gone");
    let cookies = browser.cookies().await;
    let harness = cookies.iter().find(|c| c.name() == "harness").unwrap();
    assert_eq!(harness.http_only(), Some(true));
    assert_eq!(browser.eval("return document.cookie;").await, "");

    // A broken page: axe names what is wrong, by rule.
    browser.goto(&format!("{site}/bad")).await;
    let found: Vec<String> = browser
        .serious_violations()
        .await
        .into_iter()
        .map(|v| v.id)
        .collect();
    assert!(found.contains(&"image-alt".to_string()), "{found:?}");
    assert!(found.contains(&"label".to_string()), "{found:?}");

    browser.close().await;

    // The next browser starts with a cookie jar of its own. (One browser at a time per test:
    // a test that held one while waiting for a second could deadlock with another.)
    let Some(next) = Browser::open(test).await else {
        return;
    };
    next.goto(&format!("{site}/done")).await;
    assert!(next.cookies().await.is_empty());
    next.close().await;
}
