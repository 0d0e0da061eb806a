//! The relying parties registered with the provider: from the database (`bouncer client add`)
//! and from `OIDC_CLIENTS_FILE` (read at start, kept in memory; it wins over a database client
//! of the same id). Lookups are cached for a few seconds, so a client added by the command
//! while the server runs is seen within that bound and unknown ids do not reach the database
//! on every request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients_file;
use crate::error::{Error, Result};
use crate::store::oidc_clients::{self, ClientRow};
use crate::store::Db;

/// How long a lookup (found or not) is remembered.
const CACHE_FOR: Duration = Duration::from_secs(5);

/// The prefix of a stored secret hash: SHA-256 of a generated 256-bit secret (no slow hash is
/// needed for a secret nobody chose, and the token endpoint must stay fast).
pub const SHA256_PREFIX: &str = "sha256:";

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

    fn from_row(row: ClientRow) -> Self {
        let list = |json: &str| serde_json::from_str::<Vec<String>>(json).unwrap_or_default();
        Self {
            redirect_uris: list(&row.redirect_uris),
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
            audiences: list(&row.audiences),
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash,
            first_party: row.first_party != 0,
            from_file: false,
        }
    }
}

/// `[A-Za-z0-9._-]`, 1 to 64 characters.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(Error::Validation(format!(
            "client id {id:?}: 1 to 64 letters, digits, dots, dashes or underscores"
        )));
    }
    Ok(())
}

/// Whether a redirect URI's host is this machine (plain http is fine there).
pub fn is_loopback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    })
}

/// An absolute redirect URI: https, http, or a native app's private-use scheme with a dot
/// (`com.example.app:/cb`); no fragment, no credentials, at most 2048 characters.
pub fn check_redirect_uri(field: &str, uri: &str) -> Result<()> {
    let invalid = |why: &str| Err(Error::Validation(format!("{field} {uri:?}: {why}")));
    if uri.len() > 2048 {
        return invalid("longer than 2048 characters");
    }
    let Ok(url) = url::Url::parse(uri) else {
        return invalid("not an absolute URL");
    };
    if url.fragment().is_some() {
        return invalid("a redirect URI has no fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid("a redirect URI carries no credentials");
    }
    match url.scheme() {
        "https" | "http" if url.host_str().is_some() => Ok(()),
        "https" | "http" => invalid("no host"),
        scheme if scheme.contains('.') => Ok(()),
        _ => invalid("https, http, or a private-use scheme such as com.example.app"),
    }
}

fn check_audience(aud: &str) -> Result<()> {
    if aud.is_empty() || aud.len() > 256 || aud.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Validation(format!(
            "audience {aud:?}: a non-empty value without spaces"
        )));
    }
    Ok(())
}

/// Checks every field of a client about to be stored.
pub fn check(client: &RegisteredClient) -> Result<()> {
    check_id(&client.id)?;
    if client.redirect_uris.is_empty() {
        return Err(Error::Validation(format!(
            "client {}: at least one redirect URI",
            client.id
        )));
    }
    for uri in &client.redirect_uris {
        check_redirect_uri("redirect URI", uri)?;
    }
    for uri in &client.post_logout_redirect_uris {
        check_redirect_uri("post-logout redirect URI", uri)?;
    }
    for aud in &client.audiences {
        check_audience(aud)?;
    }
    if client.name.chars().count() > 100 || client.name.chars().any(char::is_control) {
        return Err(Error::Validation(format!(
            "client {}: a name of at most 100 printable characters",
            client.id
        )));
    }
    Ok(())
}

/// The stored form of a generated secret.
pub fn hash_secret(secret: &str) -> String {
    format!(
        "{SHA256_PREFIX}{}",
        hex::encode(Sha256::digest(secret.as_bytes()))
    )
}

/// The registry the provider reads.
pub struct Clients {
    db: Db,
    file: HashMap<String, Arc<RegisteredClient>>,
    cache: moka::sync::Cache<String, Option<Arc<RegisteredClient>>>,
    any: moka::sync::Cache<(), bool>,
    /// Slow (argon2) hashes of the file, verified once per presented secret.
    verified: moka::sync::Cache<(String, [u8; 32]), ()>,
    slow_hashes: Arc<tokio::sync::Semaphore>,
}

impl Clients {
    /// Reads `OIDC_CLIENTS_FILE` (if set) and prepares the database lookups.
    pub async fn load(db: Db, file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let mut from_file = HashMap::new();
        if let Some(path) = file {
            for client in clients_file::read(path)? {
                from_file.insert(client.id.clone(), Arc::new(client));
            }
            for row in oidc_clients::list(&db).await? {
                if from_file.contains_key(&row.id) {
                    tracing::warn!(
                        client_id = %row.id,
                        "client {} is in OIDC_CLIENTS_FILE and in the database: the file's wins",
                        row.id
                    );
                }
            }
        }
        Ok(Self {
            db,
            file: from_file,
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_FOR)
                .build(),
            any: moka::sync::Cache::builder().time_to_live(CACHE_FOR).build(),
            verified: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            slow_hashes: Arc::new(tokio::sync::Semaphore::new(2)),
        })
    }

    /// The client with this id.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<RegisteredClient>>> {
        if let Some(client) = self.file.get(id) {
            return Ok(Some(client.clone()));
        }
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        if let Some(cached) = self.cache.get(id) {
            return Ok(cached);
        }
        let found = oidc_clients::get(&self.db, id)
            .await?
            .map(|row| Arc::new(RegisteredClient::from_row(row)));
        self.cache.insert(id.to_string(), found.clone());
        Ok(found)
    }

    /// Whether any client is registered (the provider's endpoints answer only then).
    pub async fn any(&self) -> Result<bool> {
        if !self.file.is_empty() {
            return Ok(true);
        }
        if let Some(any) = self.any.get(&()) {
            return Ok(any);
        }
        let any = oidc_clients::any(&self.db).await?;
        self.any.insert((), any);
        Ok(any)
    }

    /// Drops cached lookups (tests, and the commands of this process).
    pub fn forget_cached(&self) {
        self.cache.invalidate_all();
        self.any.invalidate_all();
    }

    /// Every client: the file's, then the database's (the command's `list`).
    pub async fn all(&self) -> Result<Vec<RegisteredClient>> {
        let mut all: Vec<RegisteredClient> = self.file.values().map(|c| (**c).clone()).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        for row in oidc_clients::list(&self.db).await? {
            if !self.file.contains_key(&row.id) {
                all.push(RegisteredClient::from_row(row));
            }
        }
        Ok(all)
    }

    pub fn in_file(&self, id: &str) -> bool {
        self.file.contains_key(id)
    }

    /// Whether `presented` is the client's secret (constant time; slow hashes off the runtime).
    pub async fn check_secret(&self, client: &RegisteredClient, presented: &str) -> bool {
        let Some(stored) = client.secret_hash.as_deref() else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if let Some(hex_hash) = stored.strip_prefix(SHA256_PREFIX) {
            let Ok(expected) = hex::decode(hex_hash.trim()) else {
                return false;
            };
            return expected.ct_eq(&digest).into();
        }
        if !stored.starts_with("$argon2") {
            return false;
        }
        let key = (client.id.clone(), digest);
        if self.verified.contains_key(&key) {
            return true;
        }
        let Ok(_permit) = self.slow_hashes.clone().acquire_owned().await else {
            return false;
        };
        let (stored, presented) = (stored.to_string(), presented.to_string());
        let ok = tokio::task::spawn_blocking(move || {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            PasswordHash::new(&stored).is_ok_and(|hash| {
                argon2::Argon2::default()
                    .verify_password(presented.as_bytes(), &hash)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if ok {
            self.verified.insert(key, ());
        }
        ok
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

fn row_of(client: &RegisteredClient, created_at: i64, now_ms: i64) -> ClientRow {
    let json = |list: &Vec<String>| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    ClientRow {
        id: client.id.clone(),
        name: client.name.clone(),
        secret_hash: client.secret_hash.clone(),
        first_party: i64::from(client.first_party),
        redirect_uris: json(&client.redirect_uris),
        post_logout_redirect_uris: json(&client.post_logout_redirect_uris),
        audiences: json(&client.audiences),
        created_at,
        updated_at: now_ms,
    }
}

/// Registers a client in the database. Returns it and, for a confidential client, its
/// generated secret (shown once, stored hashed).
pub async fn add(
    db: &Db,
    new: NewClient,
    now_ms: i64,
) -> Result<(RegisteredClient, Option<String>)> {
    let secret = (!new.public).then(crate::ids::random_token);
    let client = RegisteredClient {
        name: if new.name.trim().is_empty() {
            new.id.clone()
        } else {
            new.name.trim().to_string()
        },
        id: new.id,
        secret_hash: secret.as_deref().map(hash_secret),
        first_party: new.first_party,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        audiences: new.audiences,
        from_file: false,
    };
    check(&client)?;
    if !oidc_clients::insert(db, &row_of(&client, now_ms, now_ms)).await? {
        return Err(Error::AlreadyExists(format!(
            "a client with id {:?} exists already",
            client.id
        )));
    }
    Ok((client, secret))
}

/// Every client in the database.
pub async fn list(db: &Db) -> Result<Vec<RegisteredClient>> {
    Ok(oidc_clients::list(db)
        .await?
        .into_iter()
        .map(RegisteredClient::from_row)
        .collect())
}

/// What `bouncer client update` changes.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub first_party: Option<bool>,
    pub add_redirect_uris: Vec<String>,
    pub remove_redirect_uris: Vec<String>,
    pub add_post_logout_redirect_uris: Vec<String>,
    pub remove_post_logout_redirect_uris: Vec<String>,
    pub add_audiences: Vec<String>,
    pub remove_audiences: Vec<String>,
    /// A new secret (the old one stops working at once).
    pub rotate_secret: bool,
}

fn edit(list: &mut Vec<String>, add: &[String], remove: &[String]) {
    list.retain(|v| !remove.contains(v));
    for v in add {
        if !list.contains(v) {
            list.push(v.clone());
        }
    }
}

/// Changes a database client. Returns it and a new secret when one was asked for.
pub async fn update(
    db: &Db,
    id: &str,
    changes: ClientChanges,
    now_ms: i64,
) -> Result<(RegisteredClient, Option<String>)> {
    let Some(row) = oidc_clients::get(db, id).await? else {
        return Err(Error::BadRequest(format!("no client with id {id:?}")));
    };
    let created_at = row.created_at;
    let mut client = RegisteredClient::from_row(row);
    if let Some(name) = changes.name {
        client.name = name.trim().to_string();
    }
    if let Some(first_party) = changes.first_party {
        client.first_party = first_party;
    }
    edit(
        &mut client.redirect_uris,
        &changes.add_redirect_uris,
        &changes.remove_redirect_uris,
    );
    edit(
        &mut client.post_logout_redirect_uris,
        &changes.add_post_logout_redirect_uris,
        &changes.remove_post_logout_redirect_uris,
    );
    edit(
        &mut client.audiences,
        &changes.add_audiences,
        &changes.remove_audiences,
    );
    let secret = if changes.rotate_secret {
        if client.is_public() {
            return Err(Error::BadRequest(format!(
                "client {id:?} is public: it has no secret"
            )));
        }
        let secret = crate::ids::random_token();
        client.secret_hash = Some(hash_secret(&secret));
        Some(secret)
    } else {
        None
    };
    check(&client)?;
    oidc_clients::update(db, &row_of(&client, created_at, now_ms)).await?;
    Ok((client, secret))
}

/// Removes a database client, its consents and its grants. `Ok(None)` when there is none;
/// else how many grants ended (their ids, to refuse their tokens).
pub async fn remove(
    db: &Db,
    id: &str,
    now_ms: i64,
    floor: i64,
) -> Result<Option<Vec<crate::store::sessions::Revoked>>> {
    if !oidc_clients::delete(db, id).await? {
        return Ok(None);
    }
    Ok(Some(
        crate::store::sessions::revoke_all_for_client(db, id, now_ms, floor).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_redirect_uris_are_checked() {
        assert!(check_id("librechat").is_ok());
        assert!(check_id("open-webui.prod_1").is_ok());
        for bad in ["", "with space", "ünï", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        for good in [
            "https://chat.example.com/oauth/openid/callback",
            "http://127.0.0.1:3080/cb",
            "com.example.app:/callback",
        ] {
            assert!(check_redirect_uri("redirect URI", good).is_ok(), "{good}");
        }
        for bad in [
            "/relative",
            "https://chat.example.com/cb#frag",
            "https://user:pw@chat.example.com/cb",
            "javascript:alert(1)",
            "ftp://example.com/",
        ] {
            assert!(check_redirect_uri("redirect URI", bad).is_err(), "{bad}");
        }
        assert!(is_loopback("http://localhost:3000/cb"));
        assert!(is_loopback("http://[::1]/cb"));
        assert!(!is_loopback("http://chat.example.com/cb"));
    }

    #[tokio::test]
    async fn secrets_check_in_constant_time_and_argon2_hashes_of_the_file_work() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/c.db", dir.path().display()), 2)
            .await
            .unwrap();
        let clients = Clients::load(db.clone(), None).await.unwrap();
        assert!(!clients.any().await.unwrap());
        let (client, secret) = add(
            &db,
            NewClient {
                id: "rp".into(),
                redirect_uris: vec!["https://rp.example.com/cb".into()],
                ..NewClient::default()
            },
            1,
        )
        .await
        .unwrap();
        let secret = secret.unwrap();
        assert!(clients.check_secret(&client, &secret).await);
        assert!(!clients.check_secret(&client, &format!("{secret}x")).await);
        assert!(!clients.check_secret(&client, "").await);
        clients.forget_cached();
        assert!(clients.any().await.unwrap());
        assert_eq!(clients.get("rp").await.unwrap().unwrap().name, "rp");
        assert!(add(
            &db,
            NewClient {
                id: "rp".into(),
                redirect_uris: vec!["https://rp.example.com/cb".into()],
                ..NewClient::default()
            },
            2,
        )
        .await
        .is_err());

        use argon2::password_hash::{PasswordHasher as _, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2::Argon2::default()
            .hash_password(b"file secret", &salt)
            .unwrap()
            .to_string();
        let from_file = RegisteredClient {
            secret_hash: Some(phc),
            ..client.clone()
        };
        assert!(clients.check_secret(&from_file, "file secret").await);
        assert!(
            clients.check_secret(&from_file, "file secret").await,
            "cached"
        );
        assert!(!clients.check_secret(&from_file, "other").await);

        let (_, rotated) = update(
            &db,
            "rp",
            ClientChanges {
                rotate_secret: true,
                add_redirect_uris: vec!["https://rp.example.com/other".into()],
                ..ClientChanges::default()
            },
            3,
        )
        .await
        .unwrap();
        clients.forget_cached();
        let updated = clients.get("rp").await.unwrap().unwrap();
        assert_eq!(updated.redirect_uris.len(), 2);
        assert!(!clients.check_secret(&updated, &secret).await);
        assert!(clients.check_secret(&updated, &rotated.unwrap()).await);
        assert!(remove(&db, "rp", 4, 5).await.unwrap().is_some());
        assert!(remove(&db, "rp", 4, 5).await.unwrap().is_none());
    }
}
