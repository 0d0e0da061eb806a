//! `OIDC_CLIENTS_FILE`: relying parties declared in YAML, for operators who keep their
//! configuration in git. Secrets are given as hashes (`sha256:<hex>` of a generated secret, or
//! an argon2id PHC string); unknown keys are refused, and every error names the file, the
//! client and the field.
//!
//! ```yaml
//! clients:
//!   - id: librechat
//!     name: LibreChat
//!     secret_hash: "sha256:…"
//!     first_party: true
//!     redirect_uris: [https://chat.example.com/oauth/openid/callback]
//!     post_logout_redirect_uris: [https://chat.example.com/login]
//! ```

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::clients::{self, RegisteredClient, SHA256_PREFIX};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    clients: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    secret_hash: Option<String>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    first_party: bool,
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
}

fn valid_hash(hash: &str) -> bool {
    match hash.strip_prefix(SHA256_PREFIX) {
        Some(hex_part) => hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()),
        None => hash.starts_with("$argon2"),
    }
}

/// The clients the file declares.
pub fn read(path: &Path) -> anyhow::Result<Vec<RegisteredClient>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("OIDC_CLIENTS_FILE {}: cannot be read", path.display()))?;
    parse(&text).with_context(|| format!("OIDC_CLIENTS_FILE {}", path.display()))
}

pub fn parse(text: &str) -> anyhow::Result<Vec<RegisteredClient>> {
    let file: File = serde_yaml::from_str(text)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(file.clients.len());
    for entry in file.clients {
        let id = entry.id.clone();
        anyhow::ensure!(seen.insert(id.clone()), "client {id:?} is declared twice");
        match (&entry.secret_hash, entry.public) {
            (Some(_), true) => anyhow::bail!("client {id:?}: a public client has no secret_hash"),
            (None, false) => anyhow::bail!(
                "client {id:?}: secret_hash is required (or public: true for a client without a secret)"
            ),
            (Some(hash), false) if !valid_hash(hash) => anyhow::bail!(
                "client {id:?}: secret_hash must be sha256:<64 hex digits> or an argon2id PHC string"
            ),
            _ => {}
        }
        let client = RegisteredClient {
            name: entry.name.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            secret_hash: entry
                .secret_hash
                .map(|h| h.trim().to_ascii_lowercase_if_sha()),
            first_party: entry.first_party,
            redirect_uris: entry.redirect_uris,
            post_logout_redirect_uris: entry.post_logout_redirect_uris,
            audiences: entry.audiences,
            from_file: true,
        };
        clients::check(&client).map_err(|e| anyhow::anyhow!("client {id:?}: {e}"))?;
        out.push(client);
    }
    Ok(out)
}

trait LowerSha {
    fn to_ascii_lowercase_if_sha(&self) -> String;
}

impl LowerSha for str {
    /// Hex digests compare in lower case; PHC strings are kept as written.
    fn to_ascii_lowercase_if_sha(&self) -> String {
        if self.starts_with(SHA256_PREFIX) {
            self.to_ascii_lowercase()
        } else {
            self.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn reads_clients_and_names_what_is_wrong() {
        let ok = parse(&format!(
            "clients:\n  - id: librechat\n    secret_hash: \"{HASH}\"\n    first_party: true\n    redirect_uris: [https://chat.example.com/oauth/openid/callback]\n  - id: spa\n    public: true\n    redirect_uris: [https://spa.example.com/cb]\n"
        ))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert!(ok[0].first_party && !ok[0].is_public() && ok[0].from_file);
        assert!(ok[1].is_public());
        for (yaml, needle) in [
            ("clients:\n  - id: a\n    redirect_uris: [https://a/cb]\n", "secret_hash is required"),
            (
                "clients:\n  - id: a\n    public: true\n    secret_hash: \"x\"\n    redirect_uris: [https://a/cb]\n",
                "public client",
            ),
            (
                "clients:\n  - id: a\n    secret_hash: \"plain\"\n    redirect_uris: [https://a/cb]\n",
                "sha256:",
            ),
            (
                "clients:\n  - id: a\n    public: true\n    redirect_uri: [https://a/cb]\n",
                "unknown field",
            ),
            (
                "clients:\n  - id: a\n    public: true\n    redirect_uris: [\"https://a/cb#x\"]\n",
                "fragment",
            ),
        ] {
            let err = format!("{:#}", parse(yaml).err().unwrap());
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }
}
