use serde_json::Value;

use bouncer::sessions::REFRESH_REUSE_GRACE_MS;

use crate::helpers::*;

#[tokio::test]
async fn without_cookie_answers_200_text() {
    let app = spawn_app().await;
    let response = app
        .bare
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "Refresh token not provided");
}

#[tokio::test]
async fn browser_flow_login_refresh_user() {
    let app = spawn_app().await;
    app.register("Ada Lovelace", "ada@example.com", PASSWORD)
        .await;
    let login = app
        .login_with(&app.browser, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(login.status(), 200);
    let login_expires = cookie_attr(
        &set_cookie_line(login.headers(), "refreshToken").unwrap(),
        "Expires",
    );

    // The SPA's page load: refresh with the cookie the browser keeps, then /api/user.
    app.clock.advance_ms(60_000);
    let refreshed = app
        .browser
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let line = set_cookie_line(refreshed.headers(), "refreshToken").unwrap();
    assert_eq!(
        cookie_attr(&line, "Expires"),
        login_expires,
        "absolute expiry is not extended"
    );
    assert!(has_flag(&line, "HttpOnly"));
    assert!(set_cookie_line(refreshed.headers(), "token_provider").is_some());
    let body: Value = refreshed.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    let token = body["token"].as_str().unwrap();
    let me = app.get_user(token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.json::<Value>().await.unwrap()["email"],
        "ada@example.com"
    );

    // And again: every refresh rotates.
    let again = app
        .browser
        .post(app.url("/api/auth/refresh?retry=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn rotation_issues_a_new_token_each_time() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let first = app.refresh_with_cookie(&s.refresh, "").await;
    assert_eq!(first.status(), 200);
    let rotated = cookie_value(first.headers(), "refreshToken").unwrap();
    assert_ne!(rotated, s.refresh);
    let second = app.refresh_with_cookie(&rotated, "").await;
    assert_eq!(second.status(), 200);
    assert_ne!(
        cookie_value(second.headers(), "refreshToken").unwrap(),
        rotated
    );
}

#[tokio::test]
async fn reuse_of_a_rotated_token_revokes_the_session() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let response = app.refresh_with_cookie(&s.refresh, "").await;
    let current = cookie_value(response.headers(), "refreshToken").unwrap();
    let current_access = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The stolen copy shows up after the grace window.
    app.clock.advance_ms(REFRESH_REUSE_GRACE_MS + 1_000);
    let replay = app.refresh_with_cookie(&s.refresh, "").await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.text().await.unwrap(),
        "Refresh token expired or not found for this user"
    );

    // The whole session is gone: the legitimate holder's token and access token fail too.
    let legit = app.refresh_with_cookie(&current, "").await;
    assert_eq!(legit.status(), 401);
    let legit_retry = app.refresh_with_cookie(&current, "?retry=true").await;
    assert_eq!(legit_retry.status(), 403);
    assert_eq!(legit_retry.text().await.unwrap(), "No session found");
    assert_eq!(app.get_user(&current_access).await.status(), 401);
    assert_eq!(app.get_user(&s.token).await.status(), 401);
}

#[tokio::test]
async fn tabs_refreshing_together_all_succeed_and_keep_one_cookie() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let tab_a = app.refresh_with_cookie(&s.refresh, "").await;
    assert_eq!(tab_a.status(), 200);
    let winner = cookie_value(tab_a.headers(), "refreshToken").unwrap();
    // Tab B sent the same cookie a moment later, inside the grace window: it gets an access
    // token, and no cookie that would replace the winner's.
    app.clock.advance_ms(REFRESH_REUSE_GRACE_MS / 2);
    let tab_b = app.refresh_with_cookie(&s.refresh, "").await;
    assert_eq!(tab_b.status(), 200);
    assert!(set_cookie_line(tab_b.headers(), "refreshToken").is_none());
    let token = tab_b.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get_user(&token).await.status(), 200);
    assert_eq!(app.refresh_with_cookie(&winner, "").await.status(), 200);
}

#[tokio::test]
async fn many_simultaneous_refreshes_of_one_cookie_never_look_like_theft() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let responses =
        futures::future::join_all((0..8).map(|_| app.refresh_with_cookie(&s.refresh, ""))).await;
    let mut cookies = Vec::new();
    for r in &responses {
        assert_eq!(r.status(), 200);
        cookies.extend(cookie_value(r.headers(), "refreshToken"));
    }
    assert_eq!(cookies.len(), 1, "exactly one rotation sets a cookie");
    assert_eq!(
        app.refresh_with_cookie(&cookies[0], "").await.status(),
        200,
        "the session lives on"
    );
}

#[tokio::test]
async fn tampered_or_foreign_refresh_tokens_are_403() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let mut tampered = s.refresh.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "not-a-jwt", s.token.as_str()] {
        let response = app.refresh_with_cookie(bad, "").await;
        assert_eq!(response.status(), 403, "{bad}");
        assert_eq!(response.text().await.unwrap(), "Invalid refresh token");
    }
}

#[tokio::test]
async fn refresh_token_dies_with_its_absolute_expiry() {
    let app = spawn_app_with(&[("REFRESH_TOKEN_EXPIRY", "1000 * 60 * 60")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    app.clock.advance_ms(59 * 60 * 1000);
    let near_end = app.refresh_with_cookie(&s.refresh, "").await;
    assert_eq!(near_end.status(), 200);
    let rotated = cookie_value(near_end.headers(), "refreshToken").unwrap();
    // An access token never outlives its session.
    let access = near_end.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let claims = jwt_payload(&access);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 60);

    app.clock.advance_ms(2 * 60 * 1000);
    let after = app.refresh_with_cookie(&rotated, "").await;
    assert_eq!(after.status(), 403);
    assert_eq!(after.text().await.unwrap(), "Invalid refresh token");
}

#[tokio::test]
async fn expired_sessions_are_purged() {
    let app = spawn_app_with(&[("REFRESH_TOKEN_EXPIRY", "1000 * 60 * 60")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let _live = app.signed_in_user("bob@example.com").await;
    app.clock.advance_ms(30 * 60 * 1000);
    assert_eq!(app.ctx.sessions.purge_expired().await.unwrap(), 0);
    // A third login later than the first two.
    let late = app.login("bob@example.com", PASSWORD).await;
    assert_eq!(late.status(), 200);
    app.clock.advance_ms(31 * 60 * 1000);
    assert_eq!(app.ctx.sessions.purge_expired().await.unwrap(), 2);
    let left = app.count("SELECT COUNT(*) FROM sessions", &[]).await;
    assert_eq!(left, 1);
    let ada = app
        .count(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &[&s.user_id],
        )
        .await;
    assert_eq!(ada, 0);
}

#[tokio::test]
async fn refresh_for_a_deleted_user_redirects_to_login() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&s.user_id)
        .execute(&app.db().await)
        .await
        .unwrap();
    // Let the user cache forget the user, as it does on its own within 30 seconds.
    let fresh = bouncer::AppContext::build(app.ctx.config.clone(), app.clock.clone())
        .await
        .unwrap();
    let base = serve(fresh).await;
    let response = app
        .bare
        .post(format!("{base}/api/auth/refresh"))
        .header("Cookie", format!("refreshToken={}", s.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/login");
}
