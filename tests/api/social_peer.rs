//! A stand-in for the social providers' servers (their hosts cannot be reached from here): one
//! HTTP server that answers like Google's, GitHub's, Discord's, Facebook's and Apple's
//! authorize, token, profile and key endpoints, with profiles the test sets, and that records
//! the token requests it receives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

pub const CLIENT_SECRET: &str = "social-client-secret";
pub const APPLE_CLIENT_ID: &str = "com.example.chat";
pub const APPLE_TEAM_ID: &str = "TEAM123456";
pub const APPLE_KEY_ID: &str = "KEY1234567";

#[derive(Default)]
pub struct Seen {
    /// Profiles served, by provider name (`google`, `github`, ...). For GitHub, `emails` holds
    /// the `/user/emails` answer.
    pub profiles: HashMap<String, Value>,
    /// Every token request: provider and form.
    pub token_requests: Vec<(String, HashMap<String, String>)>,
    /// The nonce of the last Apple authorization, for its ID token.
    apple_nonce: Option<String>,
}

pub struct SocialPeer {
    pub origin: String,
    pub seen: Arc<Mutex<Seen>>,
    /// The team's key Bouncer signs its client secret with, as a .p8 file.
    pub apple_p8: tempfile::NamedTempFile,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWK of a P-256 public key.
fn ec_jwk(key: &rcgen::KeyPair, kid: &str) -> Value {
    let raw = key.public_key_raw();
    json!({ "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": b64(&raw[1..33]), "y": b64(&raw[33..65]) })
}

fn provider_of(path: &str) -> &'static str {
    match path {
        p if p.starts_with("/o/oauth2") || p == "/token" || p == "/v1/userinfo" => "google",
        p if p.starts_with("/login/oauth") || p.starts_with("/api/v3") => "github",
        p if p.starts_with("/oauth2/") || p.starts_with("/api/") => "discord",
        p if p.starts_with("/v18.0") => "facebook",
        _ => "apple",
    }
}

struct Peer {
    seen: Arc<Mutex<Seen>>,
    apple_id_key: Arc<rcgen::KeyPair>,
    apple_client_key: Arc<rcgen::KeyPair>,
}

async fn answer(
    State(peer): State<Arc<Peer>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let provider = provider_of(path);
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let authorized = bearer == format!("Bearer at-{provider}");
    match (method, path) {
        // Authorize: consent is given at once; back to the redirect URI with a code.
        (
            Method::GET,
            "/o/oauth2/v2/auth"
            | "/login/oauth/authorize"
            | "/oauth2/authorize"
            | "/v18.0/dialog/oauth"
            | "/auth/authorize",
        ) => {
            if provider == "apple" {
                peer.seen.lock().unwrap().apple_nonce = query.get("nonce").cloned();
            }
            let mut to = url::Url::parse(&query["redirect_uri"]).unwrap();
            to.query_pairs_mut()
                .append_pair("code", &format!("code-{provider}"))
                .append_pair("state", &query["state"]);
            (StatusCode::FOUND, [("location", to.to_string())]).into_response()
        }
        (
            Method::POST,
            "/token"
            | "/login/oauth/access_token"
            | "/api/oauth2/token"
            | "/v18.0/oauth/access_token"
            | "/auth/token",
        ) => {
            peer.seen
                .lock()
                .unwrap()
                .token_requests
                .push((provider.to_string(), form.clone()));
            if form.get("code") != Some(&format!("code-{provider}")) {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            if provider == "apple" {
                return apple_token(&peer, &form);
            }
            if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_client"})),
                )
                    .into_response();
            }
            axum::Json(json!({ "access_token": format!("at-{provider}"), "token_type": "bearer" }))
                .into_response()
        }
        (Method::GET, "/auth/keys") => {
            axum::Json(json!({ "keys": [ec_jwk(&peer.apple_id_key, "apple-key")] })).into_response()
        }
        (Method::GET, _) if !authorized => StatusCode::UNAUTHORIZED.into_response(),
        (Method::GET, "/api/v3/user/emails") => {
            let emails = peer
                .seen
                .lock()
                .unwrap()
                .profiles
                .get("github")
                .and_then(|p| p.get("emails").cloned())
                .unwrap_or(json!([]));
            axum::Json(emails).into_response()
        }
        (Method::GET, _) => match peer.seen.lock().unwrap().profiles.get(provider) {
            Some(profile) => axum::Json(profile.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Apple's token endpoint: checks the client secret JWT Bouncer signed with the team key, and
/// answers with an ID token signed with Apple's key.
fn apple_token(peer: &Peer, form: &HashMap<String, String>) -> Response {
    let raw = peer.apple_client_key.public_key_raw();
    let key = jsonwebtoken::DecodingKey::from_ec_components(&b64(&raw[1..33]), &b64(&raw[33..65]))
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["https://appleid.apple.com"]);
    validation.set_issuer(&[APPLE_TEAM_ID]);
    let secret = form.get("client_secret").cloned().unwrap_or_default();
    let header = jsonwebtoken::decode_header(&secret);
    let valid = jsonwebtoken::decode::<Value>(&secret, &key, &validation)
        .map(|t| t.claims["sub"] == APPLE_CLIENT_ID)
        .unwrap_or(false);
    if !valid || header.map(|h| h.kid).ok().flatten().as_deref() != Some(APPLE_KEY_ID) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let seen = peer.seen.lock().unwrap();
    let profile = seen.profiles.get("apple").cloned().unwrap_or(json!({}));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({ "iss": "https://appleid.apple.com", "aud": APPLE_CLIENT_ID, "iat": now, "exp": now + 600,
                             "nonce": seen.apple_nonce.clone() });
    for (k, v) in profile.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(
        profile
            .get("_kid")
            .and_then(Value::as_str)
            .unwrap_or("apple-key")
            .to_string(),
    );
    let signing =
        jsonwebtoken::EncodingKey::from_ec_pem(peer.apple_id_key.serialize_pem().as_bytes())
            .unwrap();
    let id_token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    axum::Json(json!({ "access_token": "at-apple", "token_type": "bearer", "id_token": id_token }))
        .into_response()
}

impl SocialPeer {
    pub async fn start() -> Self {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let apple_id_key = Arc::new(rcgen::KeyPair::generate().unwrap());
        let apple_client_key = Arc::new(rcgen::KeyPair::generate().unwrap());
        let apple_p8 = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(apple_p8.path(), apple_client_key.serialize_pem()).unwrap();
        let peer = Arc::new(Peer {
            seen: seen.clone(),
            apple_id_key,
            apple_client_key,
        });
        let app = axum::Router::new().fallback(answer).with_state(peer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            origin,
            seen,
            apple_p8,
        }
    }

    pub fn set_profile(&self, provider: &str, profile: Value) {
        self.seen
            .lock()
            .unwrap()
            .profiles
            .insert(provider.into(), profile);
    }

    /// The variables that enable every provider against this server.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![("ALLOW_SOCIAL_LOGIN".to_string(), "true".to_string())];
        for p in ["GOOGLE", "GITHUB", "DISCORD", "FACEBOOK"] {
            v.push((
                format!("{p}_CLIENT_ID"),
                format!("{}-client", p.to_lowercase()),
            ));
            v.push((format!("{p}_CLIENT_SECRET"), CLIENT_SECRET.into()));
        }
        for p in ["GOOGLE", "DISCORD", "FACEBOOK", "APPLE"] {
            v.push((format!("{p}_ENDPOINT_ORIGIN"), self.origin.clone()));
        }
        v.push(("GITHUB_ENTERPRISE_BASE_URL".into(), self.origin.clone()));
        v.push(("APPLE_CLIENT_ID".into(), APPLE_CLIENT_ID.into()));
        v.push(("APPLE_TEAM_ID".into(), APPLE_TEAM_ID.into()));
        v.push(("APPLE_KEY_ID".into(), APPLE_KEY_ID.into()));
        v.push((
            "APPLE_PRIVATE_KEY_PATH".into(),
            self.apple_p8.path().display().to_string(),
        ));
        v.push(("DOMAIN_CLIENT".into(), "http://chat.test".into()));
        v
    }
}
