//! Bouncer as an OpenID provider, driven over HTTP by a relying party written here: the code
//! flow through the sign-in pages, the token endpoint's checks, refresh rotation, revocation,
//! introspection, RP-initiated logout, and the gateway accepting provider access tokens.
//! The real relying parties (openid-client, passport-jwt, Authlib) are in `provider_peers.rs`.

use base64::Engine;
use bouncer::clock::Clock;
use bouncer::provider::clients::{self, NewClient};
use reqwest::header::LOCATION;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::*;

const REDIRECT: &str = "https://rp.example.com/callback";
const LOGGED_OUT: &str = "https://rp.example.com/bye";
const EMAIL: &str = "ada@example.com";
const BROWSER: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// A relying party registered with the test app.
struct Rp {
    id: String,
    secret: Option<String>,
}

async fn register_client(app: &TestApp, id: &str, public: bool, first_party: bool) -> Rp {
    let (client, secret) = clients::add(
        &app.ctx.db,
        NewClient {
            id: id.into(),
            name: format!("App {id}"),
            public,
            first_party,
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            audiences: vec![],
        },
        app.clock.now_ms(),
    )
    .await
    .expect("client registers");
    assert_eq!(secret.is_none(), public);
    // The registry caches lookups for a few seconds; a test cannot wait, so it is told.
    app.ctx.provider.clients.forget_cached();
    Rp {
        id: client.id,
        secret,
    }
}

async fn verified_user(app: &TestApp, email: &str) -> String {
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
    let (id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&db)
        .await
        .unwrap();
    id
}

fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let tag = &rest[..rest.find('>')?];
    let value = &tag[tag.find("value=\"")? + 7..];
    Some(
        value[..value.find('"')?]
            .replace("&#43;", "+")
            .replace("&amp;", "&")
            .replace("&#38;", "&")
            .replace("&#39;", "'")
            .replace("&#34;", "\"")
            .replace("&#61;", "=")
            .replace("&#x3D;", "=")
            .replace("&#37;", "%"),
    )
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn absolute(app: &TestApp, to: &str) -> String {
    if to.starts_with('/') {
        app.url(to)
    } else {
        to.to_string()
    }
}

/// Signs in on the pages with `browser`.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, email: &str) {
    let html = browser
        .get(app.url("/ui/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let r = browser
        .post(app.url("/ui/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "signed in");
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows the authorization request's redirects within Bouncer (signing in when sent to the
/// login page) and returns where it finally sends the browser, outside Bouncer.
async fn authorize(app: &TestApp, browser: &reqwest::Client, query: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(query);
    let mut next = url.to_string();
    for _ in 0..6 {
        let r = browser.get(&next).send().await.unwrap();
        if r.status() != 303 {
            panic!(
                "authorize stopped with {}: {}",
                r.status(),
                r.text().await.unwrap()
            );
        }
        let to = absolute(app, &location(&r));
        if !to.starts_with(&app.base) {
            return to;
        }
        if to.contains("/ui/login") {
            let html = browser.get(&to).send().await.unwrap().text().await.unwrap();
            let csrf = input_value(&html, "csrf").unwrap();
            let rd = input_value(&html, "rd").unwrap();
            let r = browser
                .post(app.url("/ui/login"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("email", EMAIL),
                    ("password", PASSWORD),
                    ("rd", rd.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            next = absolute(app, &location(&r));
        } else {
            next = to;
        }
    }
    panic!("too many redirects");
}

fn pkce_pair() -> (String, String) {
    let verifier = "a-long-enough-verifier-of-at-least-43-characters-xyz".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A code for `rp`, the user signing in on the way.
async fn code_for(
    app: &TestApp,
    browser: &reqwest::Client,
    rp: &Rp,
    challenge: Option<&str>,
) -> String {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", rp.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
    ];
    if let Some(c) = challenge {
        query.push(("code_challenge", c));
        query.push(("code_challenge_method", "S256"));
    }
    let back = authorize(app, browser, &query).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.base.as_str())
    );
    query_param(&back, "code").expect("a code")
}

async fn token(app: &TestApp, rp: &Rp, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut request = app.bare.post(app.url("/oidc/token"));
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    match &rp.secret {
        Some(secret) => request = request.basic_auth(&rp.id, Some(secret)),
        None => form.push(("client_id", &rp.id)),
    }
    let r = request.form(&form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn exchange(app: &TestApp, rp: &Rp, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        fields.push(("code_verifier", v));
    }
    token(app, rp, &fields).await
}

async fn refresh(app: &TestApp, rp: &Rp, refresh_token: &str) -> (u16, Value) {
    token(
        app,
        rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn provider_app(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("OIDC_GATEWAY_AUDIENCES", "gw")];
    vars.extend_from_slice(extra);
    let app = spawn_app_at_own_origin(&vars).await;
    verified_user(&app, EMAIL).await;
    app
}

/// The claims of a JWT, checked against the provider's published keys.
async fn verified_claims(app: &TestApp, jwt: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .bare
        .get(app.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwk = jwks
        .find(header.kid.as_deref().expect("a kid"))
        .expect("the kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.base.as_str()]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .expect("a valid token")
        .claims
}

async fn userinfo(app: &TestApp, access_token: &str) -> (u16, Value) {
    let r = app
        .bare
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn introspect(app: &TestApp, rp: &Rp, token: &str) -> Value {
    let r = app
        .bare
        .post(app.url("/oidc/introspect"))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn forward_auth(app: &TestApp, bearer: &str) -> u16 {
    app.bare
        .get(app.url("/api/auth/verify"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/api/convos")
        .header("User-Agent", BROWSER)
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_provider_is_off_until_a_client_is_registered_then_discovery_names_the_issuer() {
    let app = provider_app(&[]).await;
    let r = app
        .bare
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    register_client(&app, "rp", false, true).await;
    let r = app
        .bare
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["issuer"], app.base.as_str());
    assert_eq!(d["token_endpoint"], app.url("/oidc/token").as_str());
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let answer = app
        .bare
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // Cached for less than a rotated-in key waits before it signs.
    assert_eq!(answer.headers()["cache-control"], "public, max-age=30");
    let jwks: Value = answer.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key.get("d").is_none(), "no private part is published");
}

#[tokio::test]
async fn code_flow_tokens_userinfo_and_refresh_rotation_with_reuse_detection() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &rp, None).await;
    let (status, tokens) = exchange(&app, &rp, &code, None).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email");

    let id = verified_claims(&app, tokens["id_token"].as_str().unwrap(), "rp").await;
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["email"], EMAIL);
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Ada Lovelace");
    // The first account is the ADMIN: it has both roles.
    assert_eq!(id["roles"], serde_json::json!(["user", "admin"]));
    assert!(id["auth_time"].as_i64().is_some());

    let access = tokens["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let at = verified_claims(&app, access, "rp").await;
    assert_eq!(at["client_id"], "rp");
    assert_eq!(at["sub"], id["sub"]);
    assert!(at["jti"].as_str().is_some());

    let (status, info) = userinfo(&app, access).await;
    assert_eq!(status, 200);
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["email"], EMAIL);

    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, renewed) = refresh(&app, &rp, &first).await;
    assert_eq!(status, 200, "{renewed}");
    let second = renewed["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert!(renewed["id_token"].as_str().is_some());

    // The rotated token again, past the grace: theft. The whole grant ends.
    app.clock.advance_ms(11_000);
    let (status, body) = refresh(&app, &rp, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&app, &rp, &second).await;
    assert_eq!(status, 400, "the newer token died with its grant");
    let (status, _) = userinfo(&app, renewed["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "and its access token at once");
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_never_redirected_to() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    for redirect in [
        "https://evil.example.com/callback",
        "https://rp.example.com/callback/",
        "https://rp.example.com/callback?x=1",
    ] {
        let r = app
            .bare
            .get(app.url("/oidc/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", rp.id.as_str()),
                ("redirect_uri", redirect),
                ("scope", "openid"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{redirect}");
        assert!(r.headers().get(LOCATION).is_none());
    }
    let r = app
        .bare
        .get(app.url("/oidc/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example.com%2F&scope=openid"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn wrong_secret_pkce_mismatch_and_public_clients_without_pkce_are_refused() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &rp, None).await;
    let wrong = Rp {
        id: rp.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let (status, body) = exchange(&app, &wrong, &code, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    let public = register_client(&app, "spa", true, true).await;
    let back = authorize(
        &app,
        &b,
        &[
            ("response_type", "code"),
            ("client_id", "spa"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
        ],
    )
    .await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("s"));

    let (verifier, challenge) = pkce_pair();
    let code = code_for(&app, &b, &public, Some(&challenge)).await;
    let (status, body) = exchange(&app, &public, &code, Some(&format!("{verifier}x"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = code_for(&app, &b, &public, Some(&challenge)).await;
    let (status, body) = exchange(&app, &public, &code, Some(&verifier)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_code_works_once_and_its_reuse_revokes_what_it_bought() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &rp, None).await;
    let (status, tokens) = exchange(&app, &rp, &code, None).await;
    assert_eq!(status, 200);
    let (status, body) = exchange(&app, &rp, &code, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&app, &rp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        status, 400,
        "the refresh token of the first exchange is revoked"
    );
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "and its access token");

    let code = code_for(&app, &b, &rp, None).await;
    app.clock.advance_ms(61_000);
    let (status, body) = exchange(&app, &rp, &code, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "expired"
    );
}

#[tokio::test]
async fn introspection_and_the_gateway_check_the_audience_and_refuse_forgeries() {
    let app = provider_app(&[]).await;
    let gw = register_client(&app, "gw", false, true).await;
    let other = register_client(&app, "other", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &gw, None).await;
    let (_, tokens) = exchange(&app, &gw, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();

    assert_eq!(introspect(&app, &gw, &access).await["active"], true);
    assert_eq!(introspect(&app, &other, &access).await["active"], false);
    assert_eq!(
        forward_auth(&app, &access).await,
        200,
        "gw is a gateway audience"
    );

    let code = code_for(&app, &b, &other, None).await;
    let (_, theirs) = exchange(&app, &other, &code, None).await;
    let theirs = theirs["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        forward_auth(&app, &theirs).await,
        401,
        "not a gateway audience"
    );

    // alg none, and HS256 keyed with the public key's bytes, with the same claims.
    let payload = access.split('.').nth(1).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"at+jwt"}"#));
    let jwks: Value = app
        .bare
        .get(app.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = jwks["keys"][0]["kid"].as_str().map(str::to_string);
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwks["keys"][0]["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    for forged in [&none, &hs] {
        assert_eq!(forward_auth(&app, forged).await, 401);
        assert_eq!(userinfo(&app, forged).await.0, 401);
        assert_eq!(introspect(&app, &gw, forged).await["active"], false);
    }
}

#[tokio::test]
async fn a_ban_or_signing_out_ends_the_grants_at_once() {
    let app = provider_app(&[]).await;
    let gw = register_client(&app, "gw", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &gw, None).await;
    let (_, tokens) = exchange(&app, &gw, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(forward_auth(&app, access).await, 200);
    let user_id: String = verified_claims(&app, access, "gw").await["sub"]
        .as_str()
        .unwrap()
        .to_string();
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::User {
                id: &user_id,
                ip: "198.51.100.7".parse().unwrap(),
            },
            "test",
            1,
            3_600_000,
        )
        .await
        .unwrap();
    // The ban revoked the grant too: refused as revoked, at once.
    assert_eq!(
        forward_auth(&app, access).await,
        401,
        "the gateway refuses it at once"
    );
    let (status, _) = refresh(&app, &gw, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "no refreshed token for a banned user");

    // Signing out of the pages ends the grants begun from that sign-in.
    let app = provider_app(&[]).await;
    let gw = register_client(&app, "gw", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &gw, None).await;
    let (_, tokens) = exchange(&app, &gw, &code, None).await;
    let html = b
        .get(app.url("/ui/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let r = b
        .post(app.url("/ui/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = refresh(&app, &gw, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(
        forward_auth(&app, tokens["access_token"].as_str().unwrap()).await,
        401
    );
}

#[tokio::test]
async fn prompt_none_consent_and_its_memory() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "third", false, false).await;
    let b = browser();
    let base = [
        ("response_type", "code"),
        ("client_id", "third"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "s"),
    ];
    let mut none = base.to_vec();
    none.push(("prompt", "none"));
    let back = authorize(&app, &b, &none).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );

    sign_in(&app, &b, EMAIL).await;
    let back = authorize(&app, &b, &none).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("consent_required")
    );

    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(&base);
    let r = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 200, "the consent page");
    let html = r.text().await.unwrap();
    assert!(html.contains("App third"), "{html}");
    assert!(html.contains("See your email address"));
    let csrf = input_value(&html, "csrf").unwrap();
    let request = input_value(&html, "request").unwrap();
    let r = b
        .post(app.url("/ui/consent"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    let code = query_param(&back, "code").expect("a code after consent");
    let (status, granted) = exchange(&app, &rp, &code, None).await;
    assert_eq!(status, 200);

    // Remembered: no page the next time, even with prompt=none.
    let back = authorize(&app, &b, &none).await;
    assert!(query_param(&back, "code").is_some(), "{back}");
    // A wider scope asks again.
    let mut wider = none.clone();
    wider[3] = ("scope", "openid email profile");
    let back = authorize(&app, &b, &wider).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("consent_required")
    );

    // The account page lists the app; withdrawing signs it out and asks again next time.
    let html = b
        .get(app.url("/ui/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("apps-table") && html.contains("App third"),
        "{html}"
    );
    let csrf = input_value(&html, "csrf").unwrap();
    let r = b
        .post(app.url("/ui/account/apps/withdraw"))
        .form(&[("csrf", csrf.as_str()), ("client_id", "third")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = refresh(&app, &rp, granted["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "its grant ended");
    let back = authorize(&app, &b, &none).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let b = browser();
    code_for(&app, &b, &rp, None).await;
    app.clock.advance_ms(120_000);
    for extra in [("prompt", "login"), ("max_age", "60")] {
        let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", "rp"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            extra,
        ]);
        let r = b.get(url.as_str()).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let to = location(&r);
        assert!(
            to.contains("/ui/login") && to.contains("prompt=login"),
            "{to}"
        );
        // The login page shows its form though the browser is signed in, and the request,
        // once signed in again, goes through.
        let back = authorize(
            &app,
            &b,
            &[
                ("response_type", "code"),
                ("client_id", "rp"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                extra,
            ],
        )
        .await;
        assert!(query_param(&back, "code").is_some(), "{extra:?}: {back}");
        app.clock.advance_ms(120_000);
    }
}

#[tokio::test]
async fn rp_initiated_logout_by_hint_alone_with_registered_return_addresses_only() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &rp, None).await;
    let (_, tokens) = exchange(&app, &rp, &code, None).await;
    let hint = tokens["id_token"].as_str().unwrap();

    let r = b
        .get(app.url("/oidc/logout"))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://evil.example.com/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get(LOCATION).is_none());

    // Open WebUI sends no client_id; the hint, expired by now, still names the client.
    app.clock.advance_ms(60 * 60 * 1000);
    let r = b
        .get(app.url("/oidc/logout"))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{LOGGED_OUT}?state=bye"));
    let (status, _) = refresh(&app, &rp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "signing out ended the grant");
    let r = b.get(app.url("/ui/account")).send().await.unwrap();
    assert_eq!(r.status(), 303, "and the browser session");
}

#[tokio::test]
async fn revocation_ends_the_grant_of_the_asking_client_only() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let other = register_client(&app, "other", false, true).await;
    let b = browser();
    let code = code_for(&app, &b, &rp, None).await;
    let (_, tokens) = exchange(&app, &rp, &code, None).await;
    let revoke = |client: &Rp, token: &str| {
        app.bare
            .post(app.url("/oidc/revoke"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", token)])
            .send()
    };
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    // Another client's attempt answers as for an unknown token, and changes nothing.
    assert_eq!(revoke(&other, refresh_token).await.unwrap().status(), 200);
    assert_eq!(revoke(&rp, "no-such-token").await.unwrap().status(), 200);
    assert_eq!(introspect(&app, &rp, refresh_token).await["active"], true);
    assert_eq!(revoke(&rp, refresh_token).await.unwrap().status(), 200);
    assert_eq!(introspect(&app, &rp, refresh_token).await["active"], false);
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "its access token ends with it");
}

#[tokio::test]
async fn the_token_endpoint_is_limited_per_client_and_ip() {
    let app = provider_app(&[("OIDC_TOKEN_MAX", "3")]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let other = register_client(&app, "other", false, true).await;
    let guess = |client: &Rp| {
        app.bare
            .post(app.url("/oidc/token"))
            .basic_auth(&client.id, Some("wrong"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", REDIRECT),
            ])
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(guess(&rp).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let r = guess(&rp).await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    assert_eq!(
        guess(&other).await.unwrap().status(),
        401,
        "another client has its own budget"
    );
}

#[tokio::test]
async fn clients_of_the_file_sign_in_with_their_hashed_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-secret-kept-by-the-operator";
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())));
    let file = dir.path().join("clients.yaml");
    std::fs::write(
        &file,
        format!(
            "clients:\n  - id: filed\n    name: Filed App\n    secret_hash: \"{hash}\"\n    first_party: true\n    redirect_uris: [\"{REDIRECT}\"]\n"
        ),
    )
    .unwrap();
    let app = provider_app(&[("OIDC_CLIENTS_FILE", file.to_str().unwrap())]).await;
    let rp = Rp {
        id: "filed".into(),
        secret: Some(secret.into()),
    };
    let b = browser();
    let code = code_for(&app, &b, &rp, None).await;
    let (status, body) = exchange(&app, &rp, &code, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_banned_user_gets_no_code_and_require_2fa_sends_to_enrolment_first() {
    let app = provider_app(&[]).await;
    let rp = register_client(&app, "rp", false, true).await;
    let b = browser();
    sign_in(&app, &b, EMAIL).await;
    let email = bouncer::accounts::Email::parse(EMAIL).unwrap();
    let user = app
        .ctx
        .accounts
        .find_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::User {
                id: &user.id,
                ip: "198.51.100.8".parse().unwrap(),
            },
            "test",
            1,
            3_600_000,
        )
        .await
        .unwrap();
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
    ]);
    let r = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(
        to.contains("/ui/login"),
        "the ban ended the session: sign in again, {to}"
    );
    let html = b
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let rd = input_value(&html, "rd").unwrap();
    let r = b
        .post(app.url("/ui/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
            ("rd", rd.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "and the sign-in is refused: no code");
    let _ = rp;

    let app = provider_app(&[("REQUIRE_2FA", "true")]).await;
    register_client(&app, "rp", false, true).await;
    let b = browser();
    sign_in(&app, &b, EMAIL).await;
    let r = b
        .get(
            url.as_str()
                .replace(&url.origin().ascii_serialization(), &app.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("/ui/account"), "{}", location(&r));
}
