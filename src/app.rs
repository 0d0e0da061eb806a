//! Everything a request handler needs, built once from a `Config`.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{AccountRules, Accounts, PasswordBlocklist, PasswordHasher};
use crate::change_feed::ChangeFeed;
use crate::clock::Clock;
use crate::config::social::SocialKind;
use crate::config::Config;
use crate::mail::Mailer;
use crate::moderation::redis_state::RedisState;
use crate::moderation::{MemoryState, Moderation, ModerationState};
use crate::sessions::{Sessions, TokenKeys};
use crate::sso::openid::OpenIdProvider;
use crate::sso::social::SocialProvider;
use crate::sso::state::FlowStateKeys;
use crate::store::Db;
use crate::twofactor::TwoFactor;

pub struct AppContext {
    pub config: Config,
    pub db: Db,
    pub accounts: Accounts,
    pub sessions: Arc<Sessions>,
    pub moderation: Moderation,
    pub mail: Mailer,
    pub two_factor: TwoFactor,
    /// OpenID Connect, when enabled.
    pub openid: Option<Arc<OpenIdProvider>>,
    /// The enabled social providers.
    pub social: std::collections::HashMap<SocialKind, Arc<SocialProvider>>,
    /// SAML 2.0, when enabled.
    pub saml: Option<Arc<crate::sso::saml::SamlProvider>>,
    /// The HTTP client towards `UPSTREAM_URL`.
    pub upstream: crate::upstream_client::UpstreamClient,
    /// Keys of the cookie that carries an identity-provider flow to its callback.
    pub flow_keys: FlowStateKeys,
    pub clock: Arc<dyn Clock>,
    /// The OpenID provider (its endpoints answer once a client is registered).
    pub provider: crate::provider::Provider,
    /// Cross-instance nudges about bans and revocations (Redis only).
    pub changes: Arc<ChangeFeed>,
    /// The LDAP directory that checks passwords instead of the local ones, when configured.
    pub directory: Option<crate::ldap::Directory>,
    /// The moderation API chat messages are checked with (`OPENAI_MODERATION`), when on.
    pub content_moderator: Option<crate::moderation::content::ContentModerator>,
    /// The models chat messages may name (`ALLOWED_MODELS`).
    pub allowed_models: crate::moderation::models::AllowedModels,
    /// The audit log's queue (`audit.record(...)` never waits).
    pub audit: Arc<crate::audit::Audit>,
    /// API keys and their in-memory index.
    pub api_keys: crate::api_keys::ApiKeys,
    /// Passkeys (WebAuthn), when `PASSKEYS` is on.
    pub passkeys: Option<crate::passkeys::Passkeys>,
    /// This context's Prometheus metrics (a recorder of its own; off without
    /// `METRICS_SECRET`).
    pub metrics: crate::metrics::Metrics,
}

impl AppContext {
    /// Opens and migrates the database and wires the services.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Self>> {
        let db = Db::connect(&config.database_url, config.database_max_connections).await?;
        let metrics = if config.metrics.enabled() {
            crate::metrics::Metrics::enabled()
        } else {
            crate::metrics::Metrics::disabled()
        };
        let keys = TokenKeys::new(
            config.sessions.jwt_secret.expose(),
            config.sessions.jwt_refresh_secret.expose(),
        );
        let changes = Arc::new(match &config.redis {
            Some(redis) => ChangeFeed::new(redis)?,
            None => ChangeFeed::disabled(),
        });
        let sessions = Arc::new(
            Sessions::new(
                db.clone(),
                keys,
                clock.clone(),
                config.sessions.session_expiry_ms,
                config.sessions.refresh_token_expiry_ms,
                changes.clone(),
                config.sessions.require_2fa,
            )
            .await
            .map_err(|e| anyhow::anyhow!("loading session revocations: {e}"))?,
        );
        let accounts = Accounts::new(
            db.clone(),
            PasswordHasher::per_core(
                Duration::from_millis(config.password_hash_memory_release_ms as u64),
                config.password_hash_queue_max,
            )
            .observed_by(metrics.password_hash()),
            clock.clone(),
            AccountRules::new(&config, PasswordBlocklist::load(&config.passwords)?),
            sessions.clone(),
        );
        accounts
            .sync_disabled()
            .await
            .map_err(|e| anyhow::anyhow!("loading the disabled users: {e}"))?;

        let state: Arc<dyn ModerationState> = match &config.redis {
            Some(redis) => Arc::new(RedisState::connect(redis).await?),
            None => Arc::new(MemoryState::new(config.moderation.max_keys)),
        };
        let audit = Arc::new(crate::audit::Audit::start(db.clone(), clock.clone()));
        let moderation = Moderation::new(
            db.clone(),
            clock.clone(),
            config.moderation.clone(),
            state,
            changes.clone(),
            sessions.clone(),
            audit.clone(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("loading bans: {e}"))?
        .observed_by(metrics.clone());
        let mail = Mailer::new(&config, clock.clone())
            .map_err(|e| anyhow::anyhow!("mail: {e:#}"))?
            .observed_by(metrics.clone());
        let two_factor = TwoFactor::new(
            db.clone(),
            config.creds_key.0,
            clock.clone(),
            config.client.app_title.clone(),
            accounts.cached_users(),
        );
        let openid = config
            .openid
            .clone()
            .map(|c| OpenIdProvider::new(c, clock.clone()).map(Arc::new))
            .transpose()?;
        let saml = config.saml.clone().map(|c| {
            Arc::new(crate::sso::saml::SamlProvider::new(
                c,
                clock.clone(),
                db.clone(),
            ))
        });
        let flow_keys = FlowStateKeys::new(config.sessions.jwt_secret.expose());
        let mut social = std::collections::HashMap::new();
        for c in &config.social {
            social.insert(
                c.kind,
                Arc::new(SocialProvider::new(c.clone(), clock.clone())?),
            );
        }
        let provider = crate::provider::Provider::new(
            config.provider.clone(),
            db.clone(),
            config.creds_key.0,
            clock.clone(),
            config.sessions.session_expiry_ms,
        )
        .await?;
        let directory = config
            .ldap
            .clone()
            .map(crate::ldap::Directory::new)
            .transpose()?;
        let content_moderator = config
            .content
            .moderation
            .clone()
            .map(crate::moderation::content::ContentModerator::new)
            .transpose()?;
        let allowed_models = crate::moderation::models::AllowedModels::new(&config.content);
        let api_keys = crate::api_keys::ApiKeys::new(
            db.clone(),
            clock.clone(),
            changes.clone(),
            &config.api_keys,
        )
        .await
        .map_err(|e| anyhow::anyhow!("loading API keys: {e}"))?;
        let passkeys = config
            .passkeys
            .as_ref()
            .map(|c| {
                crate::passkeys::Passkeys::new(
                    c,
                    db.clone(),
                    clock.clone(),
                    accounts.cached_users(),
                )
            })
            .transpose()?;
        let ctx = Arc::new(Self {
            passkeys,
            metrics,
            audit,
            api_keys,
            content_moderator,
            allowed_models,
            directory,
            provider,
            upstream: crate::upstream_client::client()?,
            social,
            openid,
            saml,
            flow_keys,
            mail,
            two_factor,
            config,
            db,
            accounts,
            sessions,
            moderation,
            clock,
            changes,
        });
        if ctx.allowed_models.reads_upstream() {
            let every = Duration::from_millis(ctx.config.content.models_refresh_ms as u64);
            crate::moderation::models::keep_upstream_list(
                &ctx,
                |c| {
                    (
                        &c.allowed_models,
                        &c.upstream,
                        c.config.gateway.upstream.as_ref(),
                    )
                },
                every,
            )
            .await;
        }
        Ok(ctx)
    }
}
