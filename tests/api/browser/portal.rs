//! The portal end to end: a real nginx (`auth_request`) and a real Caddy (`forward_auth`) in
//! front of a small app that shows the identity headers it was sent. The proxy serves the app
//! and Bouncer's `/ui/` on one host (`app.localhost`, which Chromium resolves to loopback), so
//! the single-sign-on cookie is host-only and no cookie domain is needed. The browser opens the
//! app, lands on the sign-in page, signs in with 2FA, and comes back to the app with its
//! identity; a revoked session or a ban sends it back to the sign-in page, and a crafted `rd`
//! never leaves the allowed host.

use std::process::{Child, Command};

use axum::http::HeaderMap;
use bouncer::usecases::operator::{ban_user, find_user};
use serde_json::Value;

use super::harness::Browser;
use super::pages::{runs_in_this_pass, totp, UI};
use crate::helpers::*;
use crate::proxies::{caddy_binary, free_port, listening, nginx_binary, quiet};

/// The identity headers the app shows, each in `<dd id="{lower-case name}">`.
const IDENTITY: [&str; 5] = [
    "Remote-User",
    "Remote-Email",
    "Remote-Name",
    "Remote-Groups",
    "X-Auth-User-Id",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The app behind the proxy: every path answers a page listing the identity headers it got.
async fn serve_app() -> String {
    let router = axum::Router::new().fallback(|headers: HeaderMap| async move {
        let rows: String = IDENTITY
            .iter()
            .map(|name| {
                let value = headers
                    .get(*name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                format!(
                    "<dt>{name}</dt><dd id=\"{}\">{}</dd>",
                    name.to_ascii_lowercase(),
                    escape(value)
                )
            })
            .collect();
        axum::response::Html(format!(
            "<!doctype html><html lang=\"en\"><head><title>The app</title></head>\
             <body><main><h1>The app</h1><dl>{rows}</dl></main></body></html>"
        ))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A proxy process and its folder, stopped when dropped.
struct Proxy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx on `port`: `/ui/` to Bouncer, everything else to the app behind `auth_request`,
/// whose 401 becomes a redirect to the sign-in page with the original URL as `rd` (the way a
/// deployment with `FORWARD_AUTH_HEADERS=original` does it).
async fn nginx(test: &str, port: u16, bouncer: &str, app: &str) -> Option<Proxy> {
    let Some(binary) = nginx_binary() else {
        skip(test, "nginx is not installed (.ci/run installs it)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let identity: String = IDENTITY
        .iter()
        .map(|name| {
            let var = name.to_ascii_lowercase().replace('-', "_");
            format!(
                "      auth_request_set $bouncer_{var} $upstream_http_{var};\n      \
                 proxy_set_header {name} $bouncer_{var};\n"
            )
        })
        .collect();
    let conf = format!(
        r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location {UI}/ {{
      proxy_pass {bouncer};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location = /_bouncer {{
      internal;
      proxy_pass {bouncer}/api/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
    location @sign_in {{
      return 302 {UI}/login?rd=$scheme://$http_host$request_uri;
    }}
    location / {{
      auth_request /_bouncer;
      error_page 401 = @sign_in;
{identity}      proxy_pass {app};
    }}
  }}
}}
"#
    );
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, conf).unwrap();
    let child = quiet(
        Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&file),
    );
    assert!(listening(port).await, "nginx listens");
    Some(Proxy { child, _dir: dir })
}

/// Caddy on `port` for `app.localhost`: `/ui/*` to Bouncer, everything else to the app behind
/// `forward_auth`, whose redirect to the sign-in page (Bouncer's answer to a browser under the
/// default `X-Forwarded-*` family) goes back to the browser as it is.
async fn caddy(test: &str, port: u16, bouncer: &str, app: &str) -> Option<Proxy> {
    let Some(binary) = caddy_binary() else {
        skip(test, "caddy is not installed (.ci/run installs it)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let bare = |url: &str| url.trim_start_matches("http://").to_string();
    let conf = format!(
        r#"{{
  admin off
  auto_https off
}}
http://app.localhost:{port} {{
  bind 127.0.0.1
  handle {UI}/* {{
    reverse_proxy {bouncer}
  }}
  handle {{
    forward_auth {bouncer} {{
      uri /api/auth/verify
      copy_headers {identity}
    }}
    reverse_proxy {app}
  }}
}}
"#,
        bouncer = bare(bouncer),
        app = bare(app),
        identity = IDENTITY.join(" "),
    );
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, conf).unwrap();
    let child = quiet(
        Command::new(binary)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path()),
    );
    assert!(listening(port).await, "caddy listens");
    Some(Proxy { child, _dir: dir })
}

/// A user with 2FA on (through the JSON API); returns the user's id and TOTP secret. The
/// clock moves a step on, so the confirming code is spent.
async fn two_factor_user(app: &TestApp, email: &str) -> (String, String) {
    let session = app.signed_in_user(email).await;
    let (status, body) = app.enable_2fa(&session.token).await;
    assert_eq!(status, 200, "{body}");
    let secret = url::Url::parse(body["otpauthUrl"].as_str().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    let (status, body) = app.confirm_2fa(&session.token, &totp(&secret, app)).await;
    assert_eq!(status, 200, "{body}");
    app.clock.advance_ms(30_000);
    (session.user_id, secret)
}

impl Browser {
    /// On the sign-in page: password, then a fresh TOTP code.
    async fn sign_in_with_code(&self, app: &TestApp, email: &str, secret: &str) {
        assert_eq!(self.path().await, format!("{UI}/login"));
        self.send_login_form(email, PASSWORD).await;
        assert!(
            self.has("#second-factor-form").await,
            "{}",
            self.body_text().await
        );
        self.fill("code", &totp(secret, app)).await;
        self.submit("#second-factor-form").await;
        app.clock.advance_ms(30_000);
    }

    /// The identity headers the app page shows.
    async fn identity(&self) -> Vec<(String, String)> {
        let mut shown = Vec::new();
        for name in IDENTITY {
            let id = name.to_ascii_lowercase();
            shown.push((name.to_string(), self.text(&format!("#{id}")).await));
        }
        shown
    }
}

/// The walk through a proxy at `front` (`http://app.localhost:<port>`), `crafted` being an
/// `rd` that points off the allowed host.
async fn portal_walk(browser: &Browser, app: &TestApp, front: &str, crafted: &str, name: &str) {
    let (user_id, secret) = two_factor_user(app, "ada@example.com").await;
    let page = format!("{front}/reports/today");

    // The app, signed out: the sign-in page, which will come back to it.
    browser.goto(&page).await;
    let url = browser.url().await;
    assert_eq!(
        (url.host_str(), url.path()),
        (Some("app.localhost"), format!("{UI}/login").as_str()),
        "{url}"
    );
    let rd: Option<String> = url
        .query_pairs()
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned());
    assert_eq!(rd.as_deref(), Some(page.as_str()));
    browser.screenshot(&format!("{name}-login-light")).await;

    // Signed in with 2FA: back on the app's page, which got the identity headers.
    browser
        .sign_in_with_code(app, "ada@example.com", &secret)
        .await;
    assert_eq!(browser.url().await.as_str(), page);
    let identity: Value = browser
        .identity()
        .await
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    assert_eq!(identity["Remote-Email"], "ada@example.com", "{identity}");
    assert_eq!(identity["X-Auth-User-Id"], user_id.as_str(), "{identity}");
    assert_eq!(identity["Remote-Name"], "Test User", "{identity}");
    // The first account of a server is its administrator (LibreChat's rule).
    assert_eq!(identity["Remote-Groups"], "ADMIN", "{identity}");
    assert!(
        !identity["Remote-User"].as_str().unwrap().is_empty(),
        "{identity}"
    );
    browser.screenshot(&format!("{name}-app-light")).await;

    // The session revoked (an administrator, another device): back to the sign-in page.
    app.ctx
        .sessions
        .revoke_all_for_user(&user_id)
        .await
        .unwrap();
    browser.goto(&page).await;
    assert_eq!(browser.path().await, format!("{UI}/login"), "revoked");

    // A crafted way back: signing in never leaves the allowed host.
    browser
        .goto(&format!(
            "{front}{UI}/login?rd={}",
            url::form_urlencoded::byte_serialize(crafted.as_bytes()).collect::<String>()
        ))
        .await;
    browser
        .sign_in_with_code(app, "ada@example.com", &secret)
        .await;
    let landed = browser.url().await;
    assert_eq!(
        landed.host_str(),
        Some("app.localhost"),
        "{crafted} → {landed}"
    );
    assert_eq!(
        landed.path(),
        format!("{UI}/account"),
        "{crafted} → {landed}"
    );

    // Banned: the app sends the browser to the sign-in page again.
    browser.goto(&page).await;
    assert_eq!(browser.url().await.as_str(), page, "signed in");
    let user = find_user(&app.ctx, "ada@example.com").await.unwrap();
    ban_user(&app.ctx, &user, 60 * 60 * 1000).await.unwrap();
    browser.goto(&page).await;
    assert_eq!(browser.path().await, format!("{UI}/login"), "banned");
    assert!(!browser.has("#x-auth-user-id").await);
}

#[tokio::test]
async fn nginx_auth_request_portal_signs_in_with_2fa_and_sends_back_revoked_and_banned() {
    let test = "nginx_auth_request_portal_signs_in_with_2fa_and_sends_back_revoked_and_banned";
    if !runs_in_this_pass(test, false) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let port = free_port();
    let front = format!("http://app.localhost:{port}");
    let app = spawn_app_with(&[
        ("DOMAIN_SERVER", &front),
        ("DOMAIN_CLIENT", &front),
        ("FORWARD_AUTH_HEADERS", "original"),
    ])
    .await;
    let upstream = serve_app().await;
    let Some(_nginx) = nginx(test, port, &app.base, &upstream).await else {
        return;
    };
    portal_walk(
        &browser,
        &app,
        &front,
        &format!("http://evil.localhost:{port}/steal"),
        "portal-nginx",
    )
    .await;
    browser.close().await;
}

#[tokio::test]
async fn caddy_forward_auth_portal_signs_in_with_2fa_and_sends_back_revoked_and_banned() {
    let test = "caddy_forward_auth_portal_signs_in_with_2fa_and_sends_back_revoked_and_banned";
    if !runs_in_this_pass(test, false) {
        return;
    }
    let Some(browser) = Browser::open(test).await else {
        return;
    };
    let port = free_port();
    let front = format!("http://app.localhost:{port}");
    let app = spawn_app_with(&[("DOMAIN_SERVER", &front), ("DOMAIN_CLIENT", &front)]).await;
    let upstream = serve_app().await;
    let Some(_caddy) = caddy(test, port, &app.base, &upstream).await else {
        return;
    };
    portal_walk(
        &browser,
        &app,
        &front,
        &format!("//app.localhost.evil.localhost:{port}/steal"),
        "portal-caddy",
    )
    .await;
    browser.close().await;
}
