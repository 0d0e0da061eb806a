//! Passkeys through the JSON API and the pages, driven by a software authenticator written
//! here (attestation `none`, ES256 with ring): registration, sign-in with a discoverable
//! credential, the second factor, and the assertions that must be refused (replayed, counter
//! gone backwards, wrong origin, wrong RP id, lapsed or used ceremony, another's ceremony).

use base64::Engine;
use bouncer::clock::Clock;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;

/// The origin and RP id of the test server's default `DOMAIN_SERVER`.
const ORIGIN: &str = "http://localhost:3080";
const RP_ID: &str = "localhost";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// The few CBOR items an attestation object and a COSE key need.
mod cbor {
    fn head(major: u8, len: u64, out: &mut Vec<u8>) {
        let m = major << 5;
        match len {
            0..=23 => out.push(m | len as u8),
            24..=0xff => out.extend([m | 24, len as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((len as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 26);
                out.extend((len as u32).to_be_bytes());
            }
        }
    }
    pub fn int(v: i64, out: &mut Vec<u8>) {
        if v >= 0 {
            head(0, v as u64, out)
        } else {
            head(1, (-1 - v) as u64, out)
        }
    }
    pub fn bytes(b: &[u8], out: &mut Vec<u8>) {
        head(2, b.len() as u64, out);
        out.extend_from_slice(b);
    }
    pub fn text(t: &str, out: &mut Vec<u8>) {
        head(3, t.len() as u64, out);
        out.extend_from_slice(t.as_bytes());
    }
    pub fn map(entries: u64, out: &mut Vec<u8>) {
        head(5, entries, out)
    }
}

/// A platform authenticator holding one discoverable ES256 credential.
struct Authenticator {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
    origin: String,
    rp_id: String,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl Authenticator {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            key,
            credential_id: bouncer::ids::random_hex(16).into_bytes(),
            user_handle: Vec::new(),
            counter: 0,
            origin: ORIGIN.into(),
            rp_id: RP_ID.into(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, flags: u8, counter: u32) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(counter.to_be_bytes());
        data
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let mut out = Vec::new();
        cbor::map(5, &mut out);
        cbor::int(1, &mut out);
        cbor::int(2, &mut out);
        cbor::int(3, &mut out);
        cbor::int(-7, &mut out);
        cbor::int(-1, &mut out);
        cbor::int(1, &mut out);
        cbor::int(-2, &mut out);
        cbor::bytes(&point[1..33], &mut out);
        cbor::int(-3, &mut out);
        cbor::bytes(&point[33..65], &mut out);
        out
    }

    /// `navigator.credentials.create` for the options' `publicKey`.
    fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        self.user_handle = pk["user"]["id"].as_str().map(unb64).unwrap_or_default();
        let challenge = pk["challenge"].as_str().unwrap();
        let mut auth_data = self.auth_data(UP | UV | AT, 0);
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        cbor::map(3, &mut attestation);
        cbor::text("fmt", &mut attestation);
        cbor::text("none", &mut attestation);
        cbor::text("attStmt", &mut attestation);
        cbor::map(0, &mut attestation);
        cbor::text("authData", &mut attestation);
        cbor::bytes(&auth_data, &mut attestation);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&self.client_data("webauthn.create", challenge)),
            },
        })
    }

    /// `navigator.credentials.get`, with the next counter value.
    fn get(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.get_with_counter(options, self.counter)
    }

    fn get_with_counter(&self, options: &Value, counter: u32) -> Value {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let auth_data = self.auth_data(UP | UV, counter);
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle),
            },
        })
    }
}

/// Registers a passkey for the signed-in user through the JSON API.
async fn register_passkey(app: &TestApp, token: &str, name: &str) -> (Authenticator, Value) {
    let mut authenticator = Authenticator::new();
    let (status, options) = app
        .post_json_bearer("/api/auth/passkey/register/options", token, &json!({}))
        .await;
    assert_eq!(status, 200, "{options}");
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(options["publicKey"]["rp"]["id"], RP_ID);
    let credential = authenticator.create(&options);
    let (status, body) = app
        .post_json_bearer(
            "/api/auth/passkey/register",
            token,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": credential, "name": name }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (authenticator, body["passkey"].clone())
}

async fn sign_in_options(app: &TestApp) -> Value {
    let (status, options) = app
        .post_json("/api/auth/passkey/login/options", &json!({}))
        .await;
    assert_eq!(status, 200, "{options}");
    options
}

async fn sign_in_with(app: &TestApp, options: &Value, credential: &Value) -> reqwest::Response {
    app.post(
        "/api/auth/passkey/login",
        &json!({ "ceremonyId": options["ceremonyId"], "credential": credential }),
    )
    .await
}

async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app
        .bare
        .get(app.url("/api/auth/passkey"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    body["passkeys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn register_then_sign_in_with_the_passkey_as_a_login_does() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (mut authenticator, passkey) = register_passkey(&app, &s.token, "Laptop").await;
    assert_eq!(passkey["name"], "Laptop");
    assert!(passkey["lastUsedAt"].is_null());
    assert!(passkey.get("credential").is_none());

    let options = sign_in_options(&app).await;
    // Discoverable: no credential list, nothing said about any account.
    assert!(options["publicKey"]["allowCredentials"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
    let response = sign_in_with(&app, &options, &authenticator.get(&options)).await;
    assert_eq!(response.status(), 200);
    assert!(cookie_value(response.headers(), "refreshToken").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["id"], s.user_id.as_str());
    let token = body["token"].as_str().unwrap();
    assert_eq!(app.get_user(token).await.status(), 200);

    let listed = list(&app, &s.token).await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["lastUsedAt"].is_string(), "{listed:?}");
    app.ctx.audit.flush().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in.succeeded' AND detail LIKE $1",
            &["%passkey%"]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_replayed_assertion_and_a_counter_gone_backwards_are_refused() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (mut authenticator, _) = register_passkey(&app, &s.token, "Key").await;

    let options = sign_in_options(&app).await;
    let assertion = authenticator.get(&options);
    assert_eq!(sign_in_with(&app, &options, &assertion).await.status(), 200);
    // The same answer again: its ceremony is used up.
    let (status, message) =
        status_and_message(sign_in_with(&app, &options, &assertion).await).await;
    assert_eq!(
        (status, message.as_str()),
        (401, "Invalid or expired passkey challenge")
    );
    // The same answer to a new ceremony: the challenge differs.
    let fresh = sign_in_options(&app).await;
    let (status, message) = status_and_message(sign_in_with(&app, &fresh, &assertion).await).await;
    assert_eq!(
        (status, message.as_str()),
        (401, "The passkey was not accepted")
    );
    // A genuine signature over a counter that did not move on: a clone.
    let fresh = sign_in_options(&app).await;
    let stale = authenticator.get_with_counter(&fresh, authenticator.counter);
    let (status, _) = status_and_message(sign_in_with(&app, &fresh, &stale).await).await;
    assert_eq!(status, 401);
    let stored = app
        .count(
            "SELECT counter FROM passkeys WHERE user_id = $1",
            &[&s.user_id],
        )
        .await;
    assert_eq!(stored, 1, "the refused assertion did not move the counter");
    // The authenticator itself still works.
    let fresh = sign_in_options(&app).await;
    assert_eq!(
        sign_in_with(&app, &fresh, &authenticator.get(&fresh))
            .await
            .status(),
        200
    );
    app.ctx.audit.flush().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in.failed' AND detail LIKE $1",
            &["%passkey_counter%"]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_wrong_origin_or_rp_id_is_refused() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;

    // Registration from another origin.
    let mut foreign = Authenticator::new();
    foreign.origin = "http://evil.example:3080".into();
    let (_, options) = app
        .post_json_bearer("/api/auth/passkey/register/options", &s.token, &json!({}))
        .await;
    let (status, _) = app
        .post_json_bearer(
            "/api/auth/passkey/register",
            &s.token,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": foreign.create(&options) }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(list(&app, &s.token).await.is_empty());

    let (mut authenticator, _) = register_passkey(&app, &s.token, "Key").await;
    authenticator.origin = "http://evil.example:3080".into();
    let options = sign_in_options(&app).await;
    let (status, _) =
        status_and_message(sign_in_with(&app, &options, &authenticator.get(&options)).await).await;
    assert_eq!(status, 401);

    authenticator.origin = ORIGIN.into();
    authenticator.rp_id = "evil.example".into();
    let options = sign_in_options(&app).await;
    let (status, _) =
        status_and_message(sign_in_with(&app, &options, &authenticator.get(&options)).await).await;
    assert_eq!(status, 401);
    app.ctx.audit.flush().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in.failed' AND user_id = $1",
            &[&s.user_id]
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_lapsed_or_foreign_ceremony_is_refused() {
    let app = spawn_app().await;
    let ada = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let (mut authenticator, _) = register_passkey(&app, &ada.token, "Key").await;

    let options = sign_in_options(&app).await;
    app.clock.advance_ms(7 * 60 * 1000);
    let (status, message) =
        status_and_message(sign_in_with(&app, &options, &authenticator.get(&options)).await).await;
    assert_eq!(
        (status, message.as_str()),
        (401, "Invalid or expired passkey challenge")
    );

    // Ada's registration ceremony cannot be finished by Bob.
    let (_, options) = app
        .post_json_bearer("/api/auth/passkey/register/options", &ada.token, &json!({}))
        .await;
    let mut other = Authenticator::new();
    let (status, body) = app
        .post_json_bearer(
            "/api/auth/passkey/register",
            &bob.token,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": other.create(&options) }),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(list(&app, &bob.token).await.is_empty());

    // Nor is a sign-in ceremony a registration one.
    let options = sign_in_options(&app).await;
    let (status, _) = app
        .post_json_bearer(
            "/api/auth/passkey/register",
            &bob.token,
            &json!({ "ceremonyId": options["ceremonyId"], "credential": other.create(&options) }),
        )
        .await;
    assert_eq!(status, 401);

    // Garbage is a 400, never a 500.
    let options = sign_in_options(&app).await;
    let (status, _) = app
        .post_json(
            "/api/auth/passkey/login",
            &json!({ "ceremonyId": options["ceremonyId"], "credential": {"id": 3} }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn rename_and_remove_are_the_owners_only() {
    let app = spawn_app().await;
    let ada = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let (mut authenticator, passkey) = register_passkey(&app, &ada.token, "Old").await;
    let id = passkey["id"].as_str().unwrap();
    let path = format!("/api/auth/passkey/{id}");

    let rename = |token: &str, name: &str| {
        app.bare
            .patch(app.url(&path))
            .bearer_auth(token)
            .json(&json!({ "name": name }))
            .send()
    };
    assert_eq!(rename(&bob.token, "Mine").await.unwrap().status(), 404);
    assert_eq!(
        rename(&ada.token, &"x".repeat(65)).await.unwrap().status(),
        400
    );
    assert_eq!(rename(&ada.token, "Phone").await.unwrap().status(), 200);
    assert_eq!(list(&app, &ada.token).await[0]["name"], "Phone");

    let delete = |token: &str| app.bare.delete(app.url(&path)).bearer_auth(token).send();
    assert_eq!(delete(&bob.token).await.unwrap().status(), 404);
    assert_eq!(delete(&ada.token).await.unwrap().status(), 200);
    assert!(list(&app, &ada.token).await.is_empty());
    // A removed passkey signs no one in.
    let options = sign_in_options(&app).await;
    let (status, _) =
        status_and_message(sign_in_with(&app, &options, &authenticator.get(&options)).await).await;
    assert_eq!(status, 401);
    app.ctx.audit.flush().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind IN ('passkey.registered', 'passkey.removed') AND user_id = $1",
            &[&ada.user_id]
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_a_passkey() {
    let app = spawn_app().await;
    // The first account is the ADMIN, which may not be the last enabled one disabled.
    app.signed_in_user("admin@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    let (mut authenticator, _) = register_passkey(&app, &s.token, "Key").await;
    app.ctx.accounts.disable(&s.user_id).await.unwrap();
    let options = sign_in_options(&app).await;
    let (status, message) =
        status_and_message(sign_in_with(&app, &options, &authenticator.get(&options)).await).await;
    assert_eq!(status, 403, "{message}");
}

/// The code an authenticator app shows for this Base32 secret at the app's current time.
fn code_at(secret: &str, app: &TestApp) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
        .generate((app.clock.now_ms() / 1000) as u64)
}

async fn enable_totp(app: &TestApp, token: &str) {
    let (status, body) = app.enable_2fa(token).await;
    assert_eq!(status, 200, "{body}");
    let url = url::Url::parse(body["otpauthUrl"].as_str().unwrap()).unwrap();
    let secret = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(app.confirm_2fa(token, &code_at(&secret, app)).await.0, 200);
    app.clock.advance_ms(30_000);
}

#[tokio::test]
async fn a_passkey_completes_a_password_sign_in_as_the_second_factor() {
    let app = spawn_app().await;
    let ada = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let (mut authenticator, _) = register_passkey(&app, &ada.token, "Key").await;
    let (mut bobs, _) = register_passkey(&app, &bob.token, "Bob's").await;
    enable_totp(&app, &ada.token).await;

    let body: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["twoFAPending"], true);
    let temp = body["tempToken"].as_str().unwrap();
    let (status, options) = app
        .post_json(
            "/api/auth/passkey/2fa/options",
            &json!({ "tempToken": temp }),
        )
        .await;
    assert_eq!(status, 200, "{options}");
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], b64(&authenticator.credential_id));

    // Bob's passkey is not Ada's second factor.
    let (status, _) = app
        .post_json(
            "/api/auth/passkey/2fa",
            &json!({ "tempToken": temp, "ceremonyId": options["ceremonyId"], "credential": bobs.get(&options) }),
        )
        .await;
    assert_eq!(status, 401);

    let (_, options) = app
        .post_json(
            "/api/auth/passkey/2fa/options",
            &json!({ "tempToken": temp }),
        )
        .await;
    let (status, _) = app
        .post_json(
            "/api/auth/passkey/2fa",
            &json!({ "tempToken": "forged", "ceremonyId": options["ceremonyId"], "credential": authenticator.get(&options) }),
        )
        .await;
    assert_eq!(status, 401);

    let (_, options) = app
        .post_json(
            "/api/auth/passkey/2fa/options",
            &json!({ "tempToken": temp }),
        )
        .await;
    let response = app
        .post(
            "/api/auth/passkey/2fa",
            &json!({ "tempToken": temp, "ceremonyId": options["ceremonyId"], "credential": authenticator.get(&options) }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(cookie_value(response.headers(), "refreshToken").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
}

#[tokio::test]
async fn the_pages_offer_passkeys_and_sign_in_with_one() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (mut authenticator, _) = register_passkey(&app, &s.token, "Key").await;

    let page = app.browser.get(app.url("/ui/login")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"passkey-login-form\""));
    assert!(html.contains("autocomplete=\"username webauthn\""));
    let script = app
        .browser
        .get(app.url("/ui/passkeys.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let options = sign_in_options(&app).await;
    let credential = authenticator.get(&options).to_string();
    let response = app
        .browser
        .post(app.url("/ui/login/passkey"))
        .header("origin", ORIGIN)
        .form(&[
            ("csrf", csrf.as_str()),
            ("rd", ""),
            ("ceremony", options["ceremonyId"].as_str().unwrap()),
            ("credential", credential.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert!(
        location(&response).ends_with("/ui/account"),
        "{}",
        location(&response)
    );
    let account = app
        .browser
        .get(app.url("/ui/account"))
        .send()
        .await
        .unwrap();
    let html = account.text().await.unwrap();
    assert!(html.contains("id=\"passkeys-section\""), "{html}");
    assert!(html.contains("data-passkey-id="));
}

#[tokio::test]
async fn without_a_domain_passkeys_are_off() {
    let app = spawn_app_with(&[("DOMAIN_SERVER", "http://127.0.0.1:3080")]).await;
    let (status, body) = app
        .post_json("/api/auth/passkey/login/options", &json!({}))
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Passkeys are not enabled"))
    );
    let html = app
        .browser
        .get(app.url("/ui/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("passkey-login-form"));
    let _ = app.clock.now_ms();
}

#[tokio::test]
async fn a_passkey_alone_is_a_second_factor_after_a_password() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let (mut authenticator, passkey) = register_passkey(&app, &s.token, "Key").await;

    // A password alone no longer signs in: the passkey is asked for.
    let body: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["twoFAPending"], true, "{body}");
    assert!(body.get("token").is_none());
    let temp = body["tempToken"].as_str().unwrap();
    // No TOTP to complete it with.
    let (status, _) = app
        .post_json(
            "/api/auth/2fa/verify-temp",
            &json!({ "tempToken": temp, "token": "123456" }),
        )
        .await;
    assert_eq!(status, 400);
    let (_, options) = app
        .post_json(
            "/api/auth/passkey/2fa/options",
            &json!({ "tempToken": temp }),
        )
        .await;
    let (status, body) = app
        .post_json(
            "/api/auth/passkey/2fa",
            &json!({ "tempToken": temp, "ceremonyId": options["ceremonyId"], "credential": authenticator.get(&options) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Removing the last passkey makes the password enough again.
    let id = passkey["id"].as_str().unwrap();
    let removed = app
        .bare
        .delete(app.url(&format!("/api/auth/passkey/{id}")))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let body: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert!(body["token"].is_string(), "{body}");
}

#[tokio::test]
async fn a_passkey_counts_as_enrolment_under_require_2fa() {
    let app = spawn_app_with(&[("REQUIRE_2FA", "true")]).await;
    assert_eq!(
        app.register("Ada", "ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let body: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["twoFASetupRequired"], true, "{body}");
    let token = body["token"].as_str().unwrap();
    // The enrolment-only token reaches the passkey registration, as it reaches 2FA setup.
    assert_eq!(app.get_user(token).await.status(), 403);
    let (mut authenticator, _) = register_passkey(&app, token, "Key").await;

    // Enrolled: the next sign-in asks for the passkey, and ends with a full token.
    let body: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["twoFAPending"], true, "{body}");
    let options = sign_in_options(&app).await;
    let response = sign_in_with(&app, &options, &authenticator.get(&options)).await;
    let body: Value = response.json().await.unwrap();
    assert!(body.get("twoFASetupRequired").is_none(), "{body}");
    assert_eq!(
        app.get_user(body["token"].as_str().unwrap()).await.status(),
        200
    );
}

#[tokio::test]
async fn an_administrators_2fa_reset_removes_the_passkeys_too() {
    let app = spawn_app().await;
    let admin = app.signed_in_user("root@example.com").await;
    let ada = app.signed_in_user("ada@example.com").await;
    let (mut authenticator, _) = register_passkey(&app, &ada.token, "Lost phone").await;
    let (status, body) = app
        .post_json_bearer(
            &format!("/api/bouncer/users/{}/reset-2fa", ada.user_id),
            &admin.token,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM passkeys WHERE user_id = $1",
            &[&ada.user_id]
        )
        .await,
        0
    );
    // The password alone signs in again, and the lost passkey signs no one in.
    let (status, body) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(status, 200);
    assert!(body["token"].is_string(), "{body}");
    let options = sign_in_options(&app).await;
    let (status, _) =
        status_and_message(sign_in_with(&app, &options, &authenticator.get(&options)).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_open_ceremonies() {
    let app = spawn_app().await;
    for _ in 0..100 {
        sign_in_options(&app).await;
    }
    let (status, body) = app
        .post_json("/api/auth/passkey/login/options", &json!({}))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passkey_ceremonies", &[])
            .await,
        100
    );
    // They lapse, and are dropped with the next one.
    app.clock.advance_ms(7 * 60 * 1000);
    sign_in_options(&app).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passkey_ceremonies", &[])
            .await,
        1
    );
}
