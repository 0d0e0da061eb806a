//! Signing in against an LDAP directory or Active Directory (`LDAP_URL`): find the user with the
//! service account, then bind as them with the submitted password. What the directory says of
//! the user becomes a `DirectoryProfile` (`profile.rs`); the account rules are
//! `accounts/directory.rs`.

mod pool;
mod profile;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ldap3::{LdapConnSettings, Scope, SearchEntry, SearchOptions};
use tokio::sync::Semaphore;

use crate::config::ldap::{LdapConfig, LdapTransport};
pub use profile::DirectoryProfile;

/// Why the directory did not vouch for a login.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No such user, more than one, or the wrong password: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The directory cannot be reached or answered too slowly: a 503, never "wrong password".
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// The entry lacks what an account needs (no id attribute): the operator's mapping is wrong.
    #[error("directory entry unusable: {0}")]
    Unusable(String),
}

impl DirectoryError {
    fn unavailable(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// RFC 4511 result codes that matter here.
const INVALID_CREDENTIALS: u32 = 49;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const BUSY: u32 = 51;
const UNAVAILABLE: u32 = 52;

/// Longest login and password sent to the directory: beyond, no directory has such a user.
const MAX_LOGIN_BYTES: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;

pub struct Directory {
    config: Arc<LdapConfig>,
    /// One per login in flight (`LDAP_POOL_SIZE`): a slow directory makes logins wait here, up
    /// to `LDAP_TIMEOUT`, instead of piling up connections.
    permits: Semaphore,
    search: pool::Pool,
    binds: pool::Pool,
}

impl Directory {
    /// Reads the CA file; the connections open at the first login.
    pub fn new(config: LdapConfig) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let settings = connection_settings(&config)?;
        Ok(Self {
            permits: Semaphore::new(config.pool_size),
            search: pool::Pool::new(pool::Role::Search, config.clone(), settings.clone()),
            binds: pool::Pool::new(pool::Role::Bind, config.clone(), settings),
            config,
        })
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// The user the directory finds for `login`, if `password` is theirs. An empty password
    /// never reaches a bind: an empty simple bind is an anonymous success on many servers.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
    ) -> Result<DirectoryProfile, DirectoryError> {
        if login.is_empty()
            || password.is_empty()
            || login.len() > MAX_LOGIN_BYTES
            || password.len() > MAX_PASSWORD_BYTES
        {
            return Err(DirectoryError::InvalidCredentials);
        }
        let timeout = self.config.timeout;
        let _permit = tokio::time::timeout(timeout, self.permits.acquire())
            .await
            .map_err(|_| {
                DirectoryError::Unavailable(format!(
                    "all {} directory connections stayed busy for {} ms",
                    self.config.pool_size,
                    timeout.as_millis()
                ))
            })?
            .map_err(DirectoryError::unavailable)?;
        let entry = self.find(login).await?;
        let Some(entry) = entry else {
            // Bind anyway, as a DN that cannot exist, so an unknown login costs the directory
            // round trip a wrong password does and the answer time tells nothing.
            let nobody = format!(
                "cn=bouncer-no-such-user-{},{}",
                crate::ids::random_hex(8),
                self.config.search_base
            );
            let _ = self.bind(&nobody, password).await?;
            return Err(DirectoryError::InvalidCredentials);
        };
        if !self.bind(&entry.dn, password).await? {
            return Err(DirectoryError::InvalidCredentials);
        }
        DirectoryProfile::from_entry(&self.config, &entry)
    }

    /// The one entry the filter finds, read with the service account.
    async fn find(&self, login: &str) -> Result<Option<SearchEntry>, DirectoryError> {
        let filter = self.config.filter_for(login);
        let attributes = self.config.search_attributes();
        let mut conn = self.search.take().await?;
        let searched = conn
            .ldap
            .with_search_options(SearchOptions::new().sizelimit(2))
            .with_timeout(self.config.timeout)
            .search(
                &self.config.search_base,
                Scope::Subtree,
                &filter,
                attributes,
            )
            .await;
        let result = match searched {
            Ok(result) => result,
            Err(e) => {
                conn.discard().await;
                return Err(DirectoryError::unavailable(e));
            }
        };
        let (entries, outcome) = (result.0, result.1);
        match outcome.rc {
            0 => self.search.give_back(conn),
            SIZE_LIMIT_EXCEEDED => {
                self.search.give_back(conn);
                tracing::warn!(
                    "LDAP_SEARCH_FILTER matches more than one directory entry for a login; \
                     refusing it (make the filter match one user)"
                );
                return Ok(None);
            }
            // The base does not exist: a configuration error, loud in the log, the same
            // refusal on the wire.
            32 => {
                self.search.give_back(conn);
                tracing::error!(base = %self.config.search_base, "LDAP_USER_SEARCH_BASE does not exist in the directory");
                return Ok(None);
            }
            rc => {
                conn.discard().await;
                return Err(DirectoryError::Unavailable(format!(
                    "the directory's search failed (LDAP result {rc}: {})",
                    outcome.text.trim()
                )));
            }
        }
        if entries.len() > 1 {
            tracing::warn!(
                "LDAP_SEARCH_FILTER matches more than one directory entry for a login; refusing it"
            );
            return Ok(None);
        }
        let Some(raw) = entries.into_iter().next() else {
            return Ok(None);
        };
        // `construct` panics on a malformed entry: a broken directory must not take the
        // request down with it.
        std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw)))
            .map(Some)
            .map_err(|_| DirectoryError::Unavailable("the directory sent a malformed entry".into()))
    }

    /// Whether `password` is `dn`'s. `Err` only when the directory could not say.
    async fn bind(&self, dn: &str, password: &str) -> Result<bool, DirectoryError> {
        let mut conn = self.binds.take().await?;
        let bound = conn
            .ldap
            .with_timeout(self.config.timeout)
            .simple_bind(dn, password)
            .await;
        let result = match bound {
            Ok(result) => result,
            Err(e) => {
                conn.discard().await;
                return Err(DirectoryError::unavailable(e));
            }
        };
        match result.rc {
            0 => {
                self.binds.give_back(conn);
                Ok(true)
            }
            BUSY | UNAVAILABLE => {
                conn.discard().await;
                Err(DirectoryError::Unavailable(format!(
                    "the directory could not check a password (LDAP result {}: {})",
                    result.rc,
                    result.text.trim()
                )))
            }
            rc => {
                self.binds.give_back(conn);
                if rc != INVALID_CREDENTIALS {
                    // Locked or expired accounts and the like (AD answers 49 with a sub-code,
                    // others 53 or 19): a refusal, with the directory's words for the operator.
                    tracing::info!(rc, text = %result.text.trim(), "the directory refused a user's bind");
                }
                Ok(false)
            }
        }
    }
}

/// TLS as configured: the operator's CA when given (and only it), the system's roots otherwise,
/// no verification only when `LDAP_TLS_REJECT_UNAUTHORIZED=false`.
fn connection_settings(config: &LdapConfig) -> anyhow::Result<LdapConnSettings> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(config.timeout)
        .set_starttls(config.transport == LdapTransport::StartTls);
    if config.transport == LdapTransport::Plain {
        return Ok(settings);
    }
    if !config.verify_tls {
        return Ok(settings.set_no_tls_verify(true));
    }
    if let Some(path) = &config.ca_cert_path {
        settings = settings.set_config(Arc::new(client_config_trusting(path)?));
    }
    Ok(settings)
}

fn client_config_trusting(path: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    use anyhow::Context;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let pem = std::fs::read(path)
        .with_context(|| format!("LDAP_CA_CERT_PATH: cannot read {}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.with_context(|| {
            format!(
                "LDAP_CA_CERT_PATH: {} is not PEM certificates",
                path.display()
            )
        })?;
        roots.add(cert).with_context(|| {
            format!(
                "LDAP_CA_CERT_PATH: a certificate in {} is unusable",
                path.display()
            )
        })?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "LDAP_CA_CERT_PATH: {} holds no certificate",
        path.display()
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS settings for the directory")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
