//! A document of LibreChat's `users` collection and the whole user Bouncer stores for it.
//!
//! What is kept: `_id` (the user id), `email` (trimmed, lower-cased), `name`, `username`,
//! `avatar`, `role`, `provider`, `emailVerified`, `password` (LibreChat's bcrypt hash; checked
//! and upgraded to argon2id at the next sign-in), `twoFactorEnabled` with `totpSecret` (read
//! with `CREDS_KEY` in each of LibreChat's formats, stored in Bouncer's) and `backupCodes`,
//! `termsAccepted`/`termsAcceptedAt`, `createdAt`/`updatedAt`, `expiresAt`, and each provider
//! id as an identity (`googleId` → `google`, …, `openidId` → `openid` under `openidIssuer`).
//! Everything else (sessions, plugins, personalization, …) is LibreChat's business.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::extjson;
use crate::accounts::names::single_line;
use crate::accounts::Email;
use crate::store::migration::{IdentityRecord, UserRecord};
use crate::twofactor::backup_codes::StoredCode;
use crate::twofactor::cipher::SecretCipher;

/// LibreChat's provider-id fields and the provider names Bouncer's sign-ins store them under.
pub const PROVIDER_IDS: [(&str, &str); 8] = [
    ("googleId", "google"),
    ("githubId", "github"),
    ("discordId", "discord"),
    ("facebookId", "facebook"),
    ("appleId", "apple"),
    ("openidId", "openid"),
    ("ldapId", "ldap"),
    ("samlId", "saml"),
];

/// A document that was not imported: the line it starts on and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub line: usize,
    pub reason: String,
}

/// Reads the documents of one import, remembering which ids, emails and provider accounts the
/// file already used, so that a duplicate in the file is refused as one against the database.
pub struct Importer {
    cipher: SecretCipher,
    /// `OPENID_ISSUER`, when configured: the issuer Bouncer's OpenID sign-in compares.
    openid_issuer: Option<String>,
    now_ms: i64,
    ids: HashMap<String, usize>,
    emails: HashMap<String, usize>,
    identities: HashMap<(String, String, String), usize>,
}

fn text<'a>(doc: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

fn flag(doc: &Map<String, Value>, field: &str) -> Result<bool, String> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{field} is not a boolean")),
    }
}

fn date(doc: &Map<String, Value>, field: &str) -> Result<Option<i64>, String> {
    extjson::date(doc.get(field)).map_err(|_| format!("{field} is not an Extended JSON date"))
}

/// A name of the kind LibreChat gives roles and providers.
fn is_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_password_hash(hash: &str) -> bool {
    let bcrypt = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) && hash.len() == 60;
    bcrypt || hash.starts_with("$argon2id$")
}

fn normalized_issuer(issuer: &str) -> &str {
    issuer.trim().trim_end_matches('/')
}

impl Importer {
    pub fn new(creds_key: [u8; 32], openid_issuer: Option<String>, now_ms: i64) -> Self {
        Self {
            cipher: SecretCipher::new(creds_key),
            openid_issuer,
            now_ms,
            ids: HashMap::new(),
            emails: HashMap::new(),
            identities: HashMap::new(),
        }
    }

    /// The user a document stands for, or why it cannot be imported.
    pub fn read(&mut self, line: usize, document: &Value) -> Result<UserRecord, String> {
        let record = self.record(document)?;
        if let Some(first) = self.ids.get(&record.id) {
            return Err(format!(
                "_id {} already appeared on line {first}",
                record.id
            ));
        }
        if let Some(first) = self.emails.get(&record.email) {
            return Err(format!(
                "email {} already appeared on line {first}",
                record.email
            ));
        }
        let keys: Vec<_> = record
            .identities
            .iter()
            .map(|i| (i.provider.clone(), i.issuer.clone(), i.subject.clone()))
            .collect();
        for key in &keys {
            if let Some(first) = self.identities.get(key) {
                return Err(format!(
                    "the {} account {} already appeared on line {first}",
                    key.0, key.2
                ));
            }
        }
        self.ids.insert(record.id.clone(), line);
        self.emails.insert(record.email.clone(), line);
        for key in keys {
            self.identities.insert(key, line);
        }
        Ok(record)
    }

    fn record(&self, document: &Value) -> Result<UserRecord, String> {
        let doc = document
            .as_object()
            .ok_or("not a JSON object (a users document)")?;
        let id = doc
            .get("_id")
            .and_then(extjson::object_id)
            .ok_or("_id is missing or not an ObjectId (24 hexadecimal characters)")?;
        let raw_email = text(doc, "email")?.ok_or("email is missing")?;
        let email = Email::parse(raw_email)
            .ok_or_else(|| format!("email {raw_email:?} is not an email address"))?
            .into_string();
        let name = single_line(text(doc, "name")?.unwrap_or(""));
        let username = single_line(text(doc, "username")?.unwrap_or("")).to_lowercase();
        let avatar = text(doc, "avatar")?
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        let provider = text(doc, "provider")?.unwrap_or("local").to_string();
        if !is_token(&provider, 40) {
            return Err(format!("provider {provider:?} is not a provider name"));
        }
        let role = text(doc, "role")?.unwrap_or("USER").to_string();
        if !is_token(&role, 64) {
            return Err(format!("role {role:?} is not a role name"));
        }
        let password_hash = text(doc, "password")?.map(str::trim).map(str::to_string);
        if let Some(hash) = &password_hash {
            if !is_password_hash(hash) {
                return Err("password is not a bcrypt (or argon2id) hash".into());
            }
        }

        let two_factor_enabled = flag(doc, "twoFactorEnabled")?;
        let totp_secret = match (two_factor_enabled, text(doc, "totpSecret")?) {
            (true, None) => return Err("twoFactorEnabled is true but totpSecret is missing".into()),
            (true, Some(stored)) => {
                let secret = self.cipher.decrypt(stored).map_err(|_| {
                    "totpSecret cannot be decrypted with CREDS_KEY (is it LibreChat's?)".to_string()
                })?;
                let base32 = !secret.is_empty()
                    && secret
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b) || b == b'=');
                if !base32 {
                    return Err(
                        "totpSecret does not decrypt to a Base32 secret (wrong CREDS_KEY?)".into(),
                    );
                }
                Some(self.cipher.encrypt(&secret))
            }
            // A secret of a disabled 2FA is not kept (disabling clears it in Bouncer too).
            (false, _) => None,
        };
        let backup_codes = if two_factor_enabled {
            match doc.get("backupCodes") {
                None | Some(Value::Null) => None,
                Some(Value::Array(codes)) => Some(backup_codes(codes)?),
                Some(_) => return Err("backupCodes is not an array".into()),
            }
        } else {
            None
        };

        let mut identities = Vec::new();
        for (field, provider) in PROVIDER_IDS {
            let subject = match doc.get(field) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.trim().is_empty() => continue,
                Some(Value::String(s)) => s.trim().to_string(),
                Some(Value::Number(n)) => n.to_string(),
                Some(_) => return Err(format!("{field} is not a string")),
            };
            let issuer = if provider == "openid" {
                self.openid_issuer_for(text(doc, "openidIssuer")?)
            } else {
                String::new()
            };
            identities.push(IdentityRecord {
                provider: provider.to_string(),
                issuer,
                subject,
            });
        }

        // The ObjectId's first four bytes are its creation time in seconds.
        let id_time = i64::from_str_radix(&id[..8], 16).unwrap_or(0) * 1000;
        let created_at =
            date(doc, "createdAt")?.unwrap_or(if id_time > 0 { id_time } else { self.now_ms });
        let updated_at = date(doc, "updatedAt")?.unwrap_or(created_at);
        Ok(UserRecord {
            id,
            email,
            name,
            username,
            password_hash,
            email_verified: flag(doc, "emailVerified")?,
            avatar,
            provider,
            role,
            two_factor_enabled,
            totp_secret,
            backup_codes,
            terms_accepted: flag(doc, "termsAccepted")?,
            terms_accepted_at: date(doc, "termsAcceptedAt")?,
            created_at,
            updated_at,
            expires_at: date(doc, "expiresAt")?,
            identities,
        })
    }

    /// The issuer an `openidId` is bound under: the document's `openidIssuer` (LibreChat keeps
    /// it without a trailing slash) written as the configured `OPENID_ISSUER` when they name
    /// the same issuer; the configured one when the document has none; else none yet, and the
    /// first OpenID sign-in of that subject binds its issuer.
    fn openid_issuer_for(&self, in_document: Option<&str>) -> String {
        let in_document = in_document.map(str::trim).filter(|s| !s.is_empty());
        match (in_document, self.openid_issuer.as_deref()) {
            (Some(d), Some(c)) if normalized_issuer(d) == normalized_issuer(c) => c.to_string(),
            (Some(d), _) => d.to_string(),
            (None, Some(c)) => c.to_string(),
            (None, None) => String::new(),
        }
    }
}

fn backup_codes(codes: &[Value]) -> Result<String, String> {
    let mut stored = Vec::with_capacity(codes.len());
    for code in codes {
        let bad = || "backupCodes holds an entry that is not {codeHash, used, usedAt}".to_string();
        let entry = code.as_object().ok_or_else(bad)?;
        let hash = entry
            .get("codeHash")
            .and_then(Value::as_str)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or("backupCodes holds a codeHash that is not a SHA-256 in hex")?;
        let used = match entry.get("used") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad()),
        };
        let used_at = extjson::date(entry.get("usedAt")).map_err(|_| bad())?;
        stored.push(StoredCode {
            code_hash: hash.to_ascii_lowercase(),
            used,
            used_at: used_at.map(Value::from),
        });
    }
    Ok(crate::twofactor::backup_codes::to_json(&stored))
}

/// A stored user as a document of LibreChat's `users` collection in relaxed Extended JSON, the
/// shape the import reads back: the TOTP secret re-encrypted in LibreChat's `v3:` format, so
/// LibreChat reads it too.
pub fn to_document(record: &UserRecord, cipher: &SecretCipher) -> Result<Value, String> {
    let mut doc = Map::new();
    doc.insert("_id".into(), serde_json::json!({ "$oid": record.id }));
    doc.insert("name".into(), record.name.clone().into());
    doc.insert("username".into(), record.username.clone().into());
    doc.insert("email".into(), record.email.clone().into());
    doc.insert("emailVerified".into(), record.email_verified.into());
    if let Some(hash) = &record.password_hash {
        doc.insert("password".into(), hash.clone().into());
    }
    if let Some(avatar) = &record.avatar {
        doc.insert("avatar".into(), avatar.clone().into());
    }
    doc.insert("provider".into(), record.provider.clone().into());
    doc.insert("role".into(), record.role.clone().into());
    for identity in &record.identities {
        let Some((field, _)) = PROVIDER_IDS
            .iter()
            .find(|(_, provider)| *provider == identity.provider)
        else {
            continue;
        };
        // LibreChat has one field per provider: the first identity of each is written.
        if doc.contains_key(*field) {
            continue;
        }
        doc.insert(field.to_string(), identity.subject.clone().into());
        if identity.provider == "openid" && !identity.issuer.is_empty() {
            doc.insert("openidIssuer".into(), identity.issuer.clone().into());
        }
    }
    doc.insert("twoFactorEnabled".into(), record.two_factor_enabled.into());
    if let Some(stored) = &record.totp_secret {
        let secret = cipher.decrypt(stored).map_err(|e| {
            format!(
                "user {}: {e} (was CREDS_KEY changed since it was stored?)",
                record.id
            )
        })?;
        doc.insert("totpSecret".into(), cipher.encrypt_v3(&secret).into());
    }
    if let Some(raw) = &record.backup_codes {
        let codes: Vec<Value> = crate::twofactor::backup_codes::from_json(Some(raw))
            .into_iter()
            .map(|c| {
                let used_at = c
                    .used_at
                    .as_ref()
                    .and_then(extjson::integer)
                    .map_or(Value::Null, extjson::date_value);
                serde_json::json!({ "codeHash": c.code_hash, "used": c.used, "usedAt": used_at })
            })
            .collect();
        doc.insert("backupCodes".into(), Value::Array(codes));
    }
    doc.insert("termsAccepted".into(), record.terms_accepted.into());
    doc.insert(
        "termsAcceptedAt".into(),
        record
            .terms_accepted_at
            .map_or(Value::Null, extjson::date_value),
    );
    if let Some(at) = record.expires_at {
        doc.insert("expiresAt".into(), extjson::date_value(at));
    }
    doc.insert("createdAt".into(), extjson::date_value(record.created_at));
    doc.insert("updatedAt".into(), extjson::date_value(record.updated_at));
    Ok(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: [u8; 32] = [5; 32];
    const ISSUER: &str = "https://idp.example.com/realms/chat";

    fn importer() -> Importer {
        Importer::new(KEY, Some(ISSUER.into()), 1_700_000_000_000)
    }

    fn user() -> Value {
        json!({
            "_id": {"$oid": "65a1b2c3d4e5f60718293a4b"},
            "name": "Ada\nLovelace", "username": "Ada", "email": " Ada@Example.COM ",
            "emailVerified": true, "provider": "google", "role": "ADMIN",
            "googleId": "1234", "openidId": "sub-1", "openidIssuer": "https://idp.example.com/realms/chat/",
            "password": format!("$2a$10${}", "a".repeat(53)),
            "twoFactorEnabled": true,
            "totpSecret": SecretCipher::new(KEY).encrypt_v3("JBSWY3DPEHPK3PXP"),
            "backupCodes": [{"codeHash": "a".repeat(64), "used": true, "usedAt": {"$date": "2024-01-01T00:00:00.000Z"}}],
            "termsAccepted": true, "termsAcceptedAt": {"$date": {"$numberLong": "1700000000000"}},
            "createdAt": {"$date": "2024-01-01T00:00:00.000Z"}, "__v": {"$numberInt": "0"},
        })
    }

    #[test]
    fn reads_a_librechat_user_and_writes_it_back() {
        let mut i = importer();
        let r = i.read(1, &user()).unwrap();
        assert_eq!(r.id, "65a1b2c3d4e5f60718293a4b");
        assert_eq!(r.email, "ada@example.com");
        assert_eq!(r.name, "Ada Lovelace");
        assert_eq!(r.username, "ada");
        assert_eq!(r.updated_at, r.created_at);
        assert!(r.totp_secret.as_deref().unwrap().starts_with("gcm:"));
        assert_eq!(
            r.identities,
            vec![
                IdentityRecord {
                    provider: "google".into(),
                    issuer: "".into(),
                    subject: "1234".into()
                },
                IdentityRecord {
                    provider: "openid".into(),
                    issuer: ISSUER.into(),
                    subject: "sub-1".into()
                },
            ]
        );
        let cipher = SecretCipher::new(KEY);
        let doc = to_document(&r, &cipher).unwrap();
        assert!(doc["totpSecret"].as_str().unwrap().starts_with("v3:"));
        assert_eq!(
            doc["backupCodes"][0]["usedAt"],
            json!({"$date": "2024-01-01T00:00:00.000Z"})
        );
        let again = importer().read(1, &doc).unwrap();
        assert_eq!(
            cipher
                .decrypt(again.totp_secret.as_deref().unwrap())
                .unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert_eq!(
            UserRecord {
                totp_secret: None,
                ..again
            },
            UserRecord {
                totp_secret: None,
                ..r
            }
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        let reason = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut doc = user();
            edit(doc.as_object_mut().unwrap());
            importer().read(1, &doc).unwrap_err()
        };
        assert!(reason(&|d| {
            d.remove("email");
        })
        .contains("email is missing"));
        assert!(reason(&|d| {
            d.insert("email".into(), "nobody".into());
        })
        .contains("not an email"));
        assert!(reason(&|d| {
            d.insert("_id".into(), json!({"$oid": "123"}));
        })
        .contains("_id"));
        assert!(reason(&|d| {
            d.insert("role".into(), "ADMIN; DROP".into());
        })
        .contains("role"));
        assert!(reason(&|d| {
            d.insert("password".into(), "hunter2hunter2".into());
        })
        .contains("bcrypt"));
        assert!(reason(&|d| {
            d.insert(
                "totpSecret".into(),
                SecretCipher::new([6; 32])
                    .encrypt_v3("JBSWY3DPEHPK3PXP")
                    .into(),
            );
        })
        .contains("CREDS_KEY"));
        assert!(reason(&|d| {
            d.insert("createdAt".into(), "yesterday".into());
        })
        .contains("createdAt"));

        let mut i = importer();
        i.read(1, &user()).unwrap();
        let mut other = user();
        other["_id"] = json!({"$oid": "65a1b2c3d4e5f60718293a4c"});
        assert!(i.read(2, &other).unwrap_err().contains("line 1"));
        assert!(i.read(3, &user()).unwrap_err().contains("_id"));
    }

    #[test]
    fn openid_issuer_without_configuration_waits_for_the_first_sign_in() {
        let mut doc = user();
        doc.as_object_mut().unwrap().remove("openidIssuer");
        let r = Importer::new(KEY, None, 0).read(1, &doc).unwrap();
        assert_eq!(r.identities[1].issuer, "");
        let r = importer().read(1, &doc).unwrap();
        assert_eq!(r.identities[1].issuer, ISSUER);
    }
}
