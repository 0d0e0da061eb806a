//! The OAuth 2.0 social providers (Google, GitHub, Discord, Facebook) through the `oauth2`
//! crate, and Apple (see `apple.rs`): the authorization code flow with `state`, then the
//! provider's profile mapped as LibreChat maps it.

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, RedirectUrl, Scope,
    TokenResponse, TokenUrl,
};
use serde_json::Value;

use super::state::{FlowState, LIFETIME_SECS};
use super::{apple, chain, ExternalProfile, SsoFailure, Started};
use crate::clock::Clock;
use crate::config::social::{SocialConfig, SocialKind};
use crate::store::users::Provider;

pub struct SocialProvider {
    config: SocialConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

/// What a provider sent to the callback besides the code (Apple's form post).
#[derive(Debug, Default)]
pub struct CallbackExtras {
    /// Apple's `user` field: the name, sent on the first sign-in only.
    pub apple_user: Option<String>,
}

impl SocialProvider {
    pub fn new(config: SocialConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(config.user_agent.clone())
            .build()?;
        Ok(Self {
            config,
            http,
            clock,
        })
    }

    pub fn kind(&self) -> SocialKind {
        self.config.kind
    }

    pub fn config(&self) -> &SocialConfig {
        &self.config
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(super) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn begin(&self) -> Result<Started, SsoFailure> {
        let c = &self.config;
        let bad = |what: &str, e: &dyn std::error::Error| {
            SsoFailure::ProviderUnavailable(format!("{what}: {}", chain(e)))
        };
        let client = BasicClient::new(ClientId::new(c.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(c.endpoints.authorize.clone())
                    .map_err(|e| bad("authorize URL", &e))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(c.callback_url.clone()).map_err(|e| bad("callback URL", &e))?,
            );
        let mut request = client.authorize_url(CsrfToken::new_random);
        for scope in &c.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let mut nonce = None;
        if c.kind == SocialKind::Apple {
            // Apple posts the result back (its `name` scope requires it) and binds the ID token
            // to this nonce.
            let n = crate::ids::random_hex(16);
            request = request
                .add_extra_param("response_mode", "form_post")
                .add_extra_param("nonce", n.clone());
            nonce = Some(n);
        }
        let (url, state) = request.url();
        Ok(Started {
            authorization_url: url.to_string(),
            flow: FlowState {
                provider: c.kind.name().into(),
                state: state.secret().clone(),
                nonce,
                pkce_verifier: None,
                exp: self.clock.now_ms().div_euclid(1000) + LIFETIME_SECS,
                return_to: None,
            },
        })
    }

    pub async fn finish(
        &self,
        code: &str,
        flow: &FlowState,
        extras: &CallbackExtras,
    ) -> Result<ExternalProfile, SsoFailure> {
        if self.config.kind == SocialKind::Apple {
            return apple::finish(self, code, flow, extras).await;
        }
        let access_token = self.exchange(code).await?;
        let profile = self
            .get_json(&self.config.endpoints.profile, &access_token)
            .await?;
        match self.config.kind {
            SocialKind::Google => Ok(google(&profile)?),
            SocialKind::Github => {
                let emails = match &self.config.endpoints.emails {
                    Some(url) => self.get_json(url, &access_token).await?,
                    None => Value::Null,
                };
                github(&profile, &emails)
            }
            SocialKind::Discord => discord(&profile),
            SocialKind::Facebook => facebook(&profile),
            SocialKind::Apple => unreachable!("handled above"),
        }
    }

    async fn exchange(&self, code: &str) -> Result<String, SsoFailure> {
        let c = &self.config;
        let bad = |e: &dyn std::error::Error| SsoFailure::CodeExchange(chain(e));
        let mut client = BasicClient::new(ClientId::new(c.client_id.clone()))
            .set_token_uri(TokenUrl::new(c.endpoints.token.clone()).map_err(|e| bad(&e))?)
            .set_redirect_uri(RedirectUrl::new(c.callback_url.clone()).map_err(|e| bad(&e))?)
            // Client id and secret in the body: what every one of these providers accepts.
            .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = &c.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| bad(&e))?;
        Ok(tokens.access_token().secret().clone())
    }

    async fn get_json(&self, url: &str, access_token: &str) -> Result<Value, SsoFailure> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| SsoFailure::ProviderError(format!("profile: {}", chain(&e))))?;
        if !response.status().is_success() {
            return Err(SsoFailure::ProviderError(format!(
                "profile request answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| SsoFailure::ProviderError(format!("profile: {}", chain(&e))))
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The provider's id, a string or a number.
fn subject(v: &Value, key: &str) -> Result<String, SsoFailure> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(SsoFailure::ProviderError(format!(
            "the profile has no `{key}`"
        ))),
    }
}

fn profile(
    kind: SocialKind,
    subject: String,
    email: Option<String>,
    email_verified: bool,
    name: String,
    username: String,
    avatar: Option<String>,
) -> ExternalProfile {
    ExternalProfile {
        provider: Provider::Social(kind),
        issuer: String::new(),
        subject,
        email: email.map(|e| e.to_lowercase()),
        email_verified,
        name,
        username,
        avatar,
        admin: None,
    }
}

/// Google: username = given name; name = given + family (LibreChat's mapping).
fn google(p: &Value) -> Result<ExternalProfile, SsoFailure> {
    let given = text(p, "given_name").unwrap_or_default();
    let family = text(p, "family_name").unwrap_or_default();
    let name = format!("{given} {family}").trim().to_string();
    let verified = matches!(p.get("email_verified"), Some(Value::Bool(true)))
        || text(p, "email_verified").as_deref() == Some("true");
    Ok(profile(
        SocialKind::Google,
        subject(p, "sub")?,
        text(p, "email"),
        verified,
        if name.is_empty() {
            text(p, "name").unwrap_or_default()
        } else {
            name
        },
        given,
        text(p, "picture"),
    ))
}

/// GitHub: the primary verified address from `/user/emails`, else any verified one, else the
/// public profile address (unverified).
fn github(p: &Value, emails: &Value) -> Result<ExternalProfile, SsoFailure> {
    let listed: Vec<(String, bool, bool)> = emails
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| {
                    Some((
                        text(e, "email")?,
                        e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                        e.get("verified").and_then(Value::as_bool).unwrap_or(false),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let chosen = listed
        .iter()
        .find(|(_, primary, verified)| *primary && *verified)
        .or_else(|| listed.iter().find(|(_, _, verified)| *verified))
        .map(|(email, _, _)| (Some(email.clone()), true))
        .unwrap_or_else(|| (text(p, "email"), false));
    let login = text(p, "login").unwrap_or_default();
    Ok(profile(
        SocialKind::Github,
        subject(p, "id")?,
        chosen.0,
        chosen.1,
        text(p, "name").unwrap_or_else(|| login.clone()),
        login,
        text(p, "avatar_url"),
    ))
}

/// Discord: LibreChat treats its addresses as verified.
fn discord(p: &Value) -> Result<ExternalProfile, SsoFailure> {
    let id = subject(p, "id")?;
    let username = text(p, "username").unwrap_or_default();
    let avatar =
        text(p, "avatar").map(|hash| format!("https://cdn.discordapp.com/avatars/{id}/{hash}.png"));
    Ok(profile(
        SocialKind::Discord,
        id,
        text(p, "email"),
        true,
        text(p, "global_name").unwrap_or_else(|| username.clone()),
        username,
        avatar,
    ))
}

/// Facebook: LibreChat treats its addresses as verified.
fn facebook(p: &Value) -> Result<ExternalProfile, SsoFailure> {
    let name = text(p, "name").unwrap_or_default();
    let avatar = p
        .pointer("/picture/data/url")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(profile(
        SocialKind::Facebook,
        subject(p, "id")?,
        text(p, "email"),
        true,
        name.clone(),
        name,
        avatar,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profiles_map_as_librechat_maps_them() {
        let g = google(
            &json!({"sub": "g1", "email": "Ada@Gmail.com", "email_verified": true,
                               "given_name": "Ada", "family_name": "Lovelace", "picture": "p"}),
        )
        .unwrap();
        assert_eq!(
            (g.subject.as_str(), g.email.as_deref(), g.email_verified),
            ("g1", Some("ada@gmail.com"), true)
        );
        assert_eq!(
            (g.username.as_str(), g.name.as_str()),
            ("Ada", "Ada Lovelace")
        );

        let emails = json!([{"email": "old@x.io", "primary": false, "verified": true},
                            {"email": "main@x.io", "primary": true, "verified": true}]);
        let h = github(
            &json!({"id": 42, "login": "octo", "name": null, "avatar_url": "a"}),
            &emails,
        )
        .unwrap();
        assert_eq!(
            (h.subject.as_str(), h.email.as_deref(), h.email_verified),
            ("42", Some("main@x.io"), true)
        );
        assert_eq!(h.name, "octo");
        let unverified = github(
            &json!({"id": 1, "login": "x", "email": "pub@x.io"}),
            &json!([]),
        )
        .unwrap();
        assert_eq!(
            (unverified.email.as_deref(), unverified.email_verified),
            (Some("pub@x.io"), false)
        );

        let d = discord(&json!({"id": "7", "username": "dd", "global_name": "Dee", "email": "d@x.io", "avatar": "h"})).unwrap();
        assert_eq!(
            d.avatar.as_deref(),
            Some("https://cdn.discordapp.com/avatars/7/h.png")
        );
        assert!(d.email_verified);
        let f = facebook(&json!({"id": "9", "name": "Fay", "email": "f@x.io", "picture": {"data": {"url": "u"}}})).unwrap();
        assert_eq!((f.name.as_str(), f.avatar.as_deref()), ("Fay", Some("u")));
        assert!(google(&json!({})).is_err(), "no subject");
    }
}
