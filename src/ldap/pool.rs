//! Connections to the directory, kept open between logins. Two kinds, so that no connection
//! ever changes identity in the middle of its use: *search* connections are bound as the
//! service account (or anonymous) and only search; *bind* connections only check users'
//! passwords, so whatever user they were last bound as never matters.

use std::sync::{Arc, Mutex};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};

use super::DirectoryError;
use crate::config::ldap::LdapConfig;

/// Which identity a pooled connection carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Search,
    Bind,
}

/// An open connection and the task that drives it.
pub struct Conn {
    pub ldap: Ldap,
    driver: tokio::task::JoinHandle<()>,
}

impl Conn {
    /// Closes a connection that failed or timed out, and waits until its socket is closed: a
    /// login releases its permit only then, so a stalled directory never holds more
    /// connections than the pool allows.
    pub async fn discard(self) {
        self.driver.abort();
        let _ = self.driver.await;
    }
}

/// Idle connections of one kind. Their number is bounded by the directory's login permits
/// (`LDAP_POOL_SIZE`): a login holds one connection of each kind at most.
pub struct Pool {
    role: Role,
    idle: Mutex<Vec<Conn>>,
    config: Arc<LdapConfig>,
    settings: LdapConnSettings,
}

impl Pool {
    pub fn new(role: Role, config: Arc<LdapConfig>, settings: LdapConnSettings) -> Self {
        Self {
            role,
            idle: Mutex::new(Vec::new()),
            config,
            settings,
        }
    }

    /// An open connection: an idle one that is still alive, or a new one (bound as the
    /// service account for searches).
    pub async fn take(&self) -> Result<Conn, DirectoryError> {
        loop {
            let idle = self.idle.lock().expect("ldap pool lock").pop();
            match idle {
                Some(mut conn) => {
                    if !conn.ldap.is_closed() {
                        return Ok(conn);
                    }
                    conn.discard().await;
                }
                None => return self.open().await,
            }
        }
    }

    /// Gives a connection back after an operation that left it in a known state.
    pub fn give_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().expect("ldap pool lock");
        if idle.len() < self.config.pool_size {
            idle.push(conn);
        }
    }

    async fn open(&self) -> Result<Conn, DirectoryError> {
        let (driven, ldap) = LdapConnAsync::with_settings(self.settings.clone(), &self.config.url)
            .await
            .map_err(DirectoryError::unavailable)?;
        let driver = tokio::spawn(async move {
            if let Err(e) = driven.drive().await {
                tracing::debug!(error = %e, "LDAP connection closed");
            }
        });
        let mut conn = Conn { ldap, driver };
        if self.role == Role::Search {
            if let Some((dn, password)) = &self.config.bind {
                let bound = conn
                    .ldap
                    .with_timeout(self.config.timeout)
                    .simple_bind(dn, password.expose())
                    .await;
                let result = match bound {
                    Ok(result) => result,
                    Err(e) => {
                        conn.discard().await;
                        return Err(DirectoryError::unavailable(e));
                    }
                };
                if result.rc != 0 {
                    conn.discard().await;
                    // The service account itself is refused: every login fails until the
                    // operator fixes LDAP_BIND_DN / LDAP_BIND_CREDENTIALS.
                    return Err(DirectoryError::Unavailable(format!(
                        "the directory refused the service account's bind (LDAP result {}: {})",
                        result.rc,
                        result.text.trim()
                    )));
                }
            }
        }
        Ok(conn)
    }
}
