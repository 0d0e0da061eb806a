//! OpenID Connect through the `openidconnect` crate: discovery (retried in the background while
//! the issuer is down), the authorization code flow with state, nonce and optional PKCE, ID-token
//! validation against the injected clock with `OPENID_CLOCK_TOLERANCE`, LibreChat's claim
//! mapping and role rules, and the RP-initiated logout URL.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use super::state::{FlowState, LIFETIME_SECS};
use super::{chain, claims, ExternalProfile, SsoFailure, Started};
use crate::clock::Clock;
use crate::config::openid::{OpenIdConfig, RoleRule, TokenKind};
use crate::store::users::Provider;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Clone)]
struct Discovered {
    metadata: CoreProviderMetadata,
    end_session_endpoint: Option<String>,
}

pub struct OpenIdProvider {
    config: OpenIdConfig,
    discovered: RwLock<Option<Discovered>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl OpenIdProvider {
    pub fn new(config: OpenIdConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // No redirects: the crate's advice, so a token request cannot be bounced elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            config,
            discovered: RwLock::new(None),
            http,
            clock,
        })
    }

    pub fn config(&self) -> &OpenIdConfig {
        &self.config
    }

    /// Reads the issuer's metadata. The crate checks that the document names the configured
    /// issuer, so a wrong `OPENID_ISSUER` fails here.
    pub async fn discover(&self) -> Result<(), String> {
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| chain(&e))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| chain(&e))?;
        // The core metadata type has no end_session_endpoint; read it from the raw document.
        let document_url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let end_session_endpoint = match self.http.get(&document_url).send().await {
            Ok(r) => r.json::<Value>().await.ok().and_then(|v| {
                v.get("end_session_endpoint")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }),
            Err(_) => None,
        };
        *self.discovered.write().unwrap_or_else(|e| e.into_inner()) = Some(Discovered {
            metadata,
            end_session_endpoint,
        });
        Ok(())
    }

    /// Discovery at start, retried in the background until it works: the issuer may be down
    /// or start after Bouncer. Logins answer `auth_failed` (with the reason logged) meanwhile.
    pub fn spawn_discovery(self: &Arc<Self>) {
        let provider = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            loop {
                match provider.discover().await {
                    Ok(()) => {
                        tracing::info!(issuer = %provider.config.issuer, "OpenID provider discovered");
                        return;
                    }
                    Err(e) => tracing::error!(
                        issuer = %provider.config.issuer,
                        error = %e,
                        retry_in_secs = wait.as_secs(),
                        "OpenID discovery failed; OpenID logins fail until it succeeds"
                    ),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        });
    }

    async fn discovered(&self) -> Result<Discovered, SsoFailure> {
        let known = self
            .discovered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(d) = known {
            return Ok(d);
        }
        self.discover()
            .await
            .map_err(|e| SsoFailure::ProviderUnavailable(format!("discovery failed: {e}")))?;
        self.discovered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| SsoFailure::ProviderUnavailable("discovery failed".into()))
    }

    fn client(&self, d: &Discovered) -> Result<Client, SsoFailure> {
        let redirect = RedirectUrl::new(self.config.callback_url.clone())
            .map_err(|e| SsoFailure::ProviderUnavailable(format!("OPENID_CALLBACK_URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_string())),
        )
        .set_redirect_uri(redirect))
    }

    pub async fn begin(&self) -> Result<Started, SsoFailure> {
        let d = self.discovered().await?;
        let client = self.client(&d)?;
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self
            .config
            .scope
            .split_whitespace()
            .filter(|s| *s != "openid")
        {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        let mut pkce_verifier = None;
        if self.config.use_pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier.secret().clone());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            authorization_url: url.to_string(),
            flow: FlowState {
                provider: "openid".into(),
                state: state.secret().clone(),
                nonce: Some(nonce.secret().clone()),
                pkce_verifier,
                exp: self.clock.now_ms().div_euclid(1000) + LIFETIME_SECS,
                return_to: None,
            },
        })
    }

    /// Exchanges the code, validates the ID token (signature, issuer, audience, expiry, nonce),
    /// reads userinfo, applies the role rules and maps the claims.
    pub async fn finish(
        &self,
        code: &str,
        flow: &FlowState,
    ) -> Result<ExternalProfile, SsoFailure> {
        let d = self.discovered().await?;
        let client = self.client(&d)?;
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SsoFailure::CodeExchange(chain(&e)))?;
        if let Some(verifier) = &flow.pkce_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.clone()));
        }
        let tokens = exchange
            .request_async(&self.http)
            .await
            .map_err(|e| SsoFailure::CodeExchange(chain(&e)))?;
        let id_token = tokens.id_token().ok_or_else(|| {
            SsoFailure::InvalidIdToken("the token response has no ID token".into())
        })?;
        let clock = self.clock.clone();
        let tolerance_ms = self.config.clock_tolerance_secs * 1000;
        // The crate has no leeway setting: the tolerance is taken off the clock it compares
        // `exp` with.
        let verifier = client.id_token_verifier().set_time_fn(move || {
            chrono::DateTime::from_timestamp_millis(clock.now_ms() - tolerance_ms)
                .unwrap_or_default()
        });
        let nonce = Nonce::new(flow.nonce.clone().unwrap_or_default());
        let verified = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| SsoFailure::InvalidIdToken(chain(&e)))?;
        let subject = verified.subject().to_string();
        let id_claims = claims::jwt_payload(&id_token.to_string())
            .ok_or_else(|| SsoFailure::InvalidIdToken("unreadable payload".into()))?;
        let access_token = tokens.access_token().secret().clone();
        let userinfo = self.userinfo(&d, &access_token).await?;
        if let Some(info) = &userinfo {
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(SsoFailure::InvalidIdToken(
                    "userinfo describes another subject than the ID token".into(),
                ));
            }
        }
        let access_claims = claims::jwt_payload(&access_token).unwrap_or(Value::Null);
        let source = |kind: TokenKind| match kind {
            TokenKind::Id => &id_claims,
            TokenKind::Access => &access_claims,
            TokenKind::Userinfo => userinfo.as_ref().unwrap_or(&Value::Null),
        };
        let holds = |rule: &RoleRule| {
            claims::has_any_role(source(rule.token_kind), &rule.path, &rule.roles)
        };
        if let Some(rule) = &self.config.required_role {
            if !holds(rule) {
                return Err(SsoFailure::RoleMissing(format!(
                    "{:?} at {} of the {:?} token",
                    rule.roles, rule.path, rule.token_kind
                )));
            }
        }
        let admin = self.config.admin_role.as_ref().map(holds);

        // Userinfo completes (and overrides) the ID token's claims, as in LibreChat.
        let mut merged = id_claims.clone();
        if let (Some(Value::Object(info)), Value::Object(target)) = (&userinfo, &mut merged) {
            for (k, v) in info {
                target.insert(k.clone(), v.clone());
            }
        }
        let username = claims::username(&merged, self.config.username_claim.as_deref());
        let name = claims::name(&merged, self.config.name_claim.as_deref(), &username);
        let email_verified = match merged.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        Ok(ExternalProfile {
            provider: Provider::OpenId,
            issuer: d.metadata.issuer().to_string(),
            subject,
            email: claims::email(&merged, self.config.email_claim.as_deref()),
            email_verified,
            name,
            username,
            avatar: merged
                .get("picture")
                .and_then(Value::as_str)
                .map(str::to_string),
            admin,
        })
    }

    async fn userinfo(
        &self,
        d: &Discovered,
        access_token: &str,
    ) -> Result<Option<Value>, SsoFailure> {
        let Some(endpoint) = d.metadata.userinfo_endpoint() else {
            return Ok(None);
        };
        let response = self
            .http
            .get(endpoint.url().as_str())
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| SsoFailure::ProviderError(format!("userinfo: {}", chain(&e))))?;
        if !response.status().is_success() {
            return Err(SsoFailure::ProviderError(format!(
                "userinfo answered {}",
                response.status()
            )));
        }
        response
            .json::<Value>()
            .await
            .map(Some)
            .map_err(|e| SsoFailure::ProviderError(format!("userinfo: {}", chain(&e))))
    }

    /// Where the browser goes to end the provider's session after logout
    /// (`OPENID_USE_END_SESSION_ENDPOINT`), or `None`.
    pub fn end_session_url(&self, domain_client: &str) -> Option<String> {
        if !self.config.use_end_session_endpoint {
            return None;
        }
        let d = self
            .discovered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let mut url = url::Url::parse(d.end_session_endpoint.as_deref()?).ok()?;
        let post_logout = self
            .config
            .post_logout_redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{domain_client}/login"));
        url.query_pairs_mut()
            .append_pair("post_logout_redirect_uri", &post_logout)
            .append_pair("client_id", &self.config.client_id);
        Some(url.to_string())
    }
}
