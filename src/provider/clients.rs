//! INTERFACE STUB (to be replaced by the implementation): the relying parties registered with
//! the provider, from the database (`bouncer client add`) and from `OIDC_CLIENTS_FILE`.

use std::sync::Arc;

use crate::store::Db;

/// A registered relying party.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub id: String,
    pub name: String,
    /// `None` for a public client (no secret; PKCE required).
    pub secret_hash: Option<String>,
    /// Skips the consent page.
    pub first_party: bool,
    /// Matched exactly.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Audiences added to its access tokens' `aud`, after its own id.
    pub audiences: Vec<String>,
    /// Declared in `OIDC_CLIENTS_FILE` (read-only for the commands).
    pub from_file: bool,
}

impl RegisteredClient {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn redirect_uri_registered(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn post_logout_uri_registered(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

/// The registry the provider reads (cached; a client added while the server runs is seen
/// within seconds).
pub struct Clients {
    _db: Db,
}

impl Clients {
    /// Reads `OIDC_CLIENTS_FILE` (if set) and prepares the database lookups.
    pub async fn load(db: Db, file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let _ = file;
        Ok(Self { _db: db })
    }

    /// The client with this id.
    pub async fn get(&self, id: &str) -> crate::error::Result<Option<Arc<RegisteredClient>>> {
        let _ = id;
        Ok(None)
    }

    /// Drops cached lookups (tests, and the commands of this process).
    pub fn forget_cached(&self) {}

    /// Whether any client is registered (the provider's endpoints answer only then).
    pub async fn any(&self) -> crate::error::Result<bool> {
        Ok(false)
    }

    /// Whether `presented` is the client's secret (constant time; slow hashes off the runtime).
    pub async fn check_secret(&self, client: &RegisteredClient, presented: &str) -> bool {
        let _ = (client, presented);
        false
    }
}

/// A client about to be registered (`bouncer client add`).
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// The client id (`[A-Za-z0-9._-]`, 1-64 characters), unique.
    pub id: String,
    /// Shown on the consent page; the id when empty.
    pub name: String,
    pub public: bool,
    pub first_party: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub audiences: Vec<String>,
}

/// Registers a client in the database. Returns it and, for a confidential client, its
/// generated secret (shown once, stored hashed).
pub async fn add(
    db: &Db,
    new: NewClient,
    now_ms: i64,
) -> crate::error::Result<(RegisteredClient, Option<String>)> {
    let _ = (db, now_ms);
    Ok((
        RegisteredClient {
            id: new.id,
            name: new.name,
            secret_hash: None,
            first_party: new.first_party,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            audiences: new.audiences,
            from_file: false,
        },
        None,
    ))
}
