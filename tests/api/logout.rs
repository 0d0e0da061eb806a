use serde_json::{json, Value};

use crate::helpers::*;

fn assert_cleared(headers: &reqwest::header::HeaderMap) {
    for name in ["refreshToken", "token_provider"] {
        let line = set_cookie_line(headers, name).unwrap_or_else(|| panic!("{name} not cleared"));
        assert!(line.starts_with(&format!("{name}=;")), "{line}");
        assert_eq!(
            cookie_attr(&line, "Expires").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            "{line}"
        );
        assert_eq!(cookie_attr(&line, "Path").as_deref(), Some("/"));
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_its_access_tokens_at_once() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let other = app.login("ada@example.com", PASSWORD).await;
    let other_token = other.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get_user(&s.token).await.status(), 200);

    let response = app
        .bare
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&s.token)
        .header(
            "Cookie",
            format!("refreshToken={}; token_provider=librechat", s.refresh),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_cleared(response.headers());
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Logout successful" })
    );

    let me = app.get_user(&s.token).await;
    assert_eq!(me.status(), 401, "the access token dies with its session");
    assert_eq!(app.refresh_with_cookie(&s.refresh, "").await.status(), 401);
    // The user's other session is untouched.
    assert_eq!(app.get_user(&other_token).await.status(), 200);
}

#[tokio::test]
async fn logout_works_with_an_expired_access_token() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    app.clock.advance_ms(16 * 60 * 1000);
    assert_eq!(app.get_user(&s.token).await.status(), 401);

    let response = app
        .bare
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&s.token)
        .header("Cookie", format!("refreshToken={}", s.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_cleared(response.headers());
    let n = app.count("SELECT COUNT(*) FROM sessions", &[]).await;
    assert_eq!(n, 0, "the session named by the cookie is deleted");
    assert_eq!(app.refresh_with_cookie(&s.refresh, "").await.status(), 401);
}

#[tokio::test]
async fn browser_logout_clears_its_cookie_jar() {
    let app = spawn_app().await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    app.login_with(&app.browser, "ada@example.com", PASSWORD)
        .await;
    let response = app
        .browser
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after = app
        .browser
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.text().await.unwrap(), "Refresh token not provided");
}

#[tokio::test]
async fn logout_without_anything_still_clears_cookies() {
    let app = spawn_app().await;
    let response = app
        .bare
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_cleared(response.headers());
}

#[tokio::test]
async fn revocations_survive_a_restart() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    app.bare
        .post(app.url("/api/auth/logout"))
        .header("Cookie", format!("refreshToken={}", s.refresh))
        .send()
        .await
        .unwrap();
    // A new server process on the same database still refuses the old access token.
    let restarted = bouncer::AppContext::build(app.ctx.config.clone(), app.clock.clone())
        .await
        .unwrap();
    let base = serve(restarted).await;
    let me = app
        .bare
        .get(format!("{base}/api/user"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}
