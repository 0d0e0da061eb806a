//! Users of the LDAP directory: LibreChat's rules, made explicit. The directory's id (`ldapId`)
//! names the account; the first sign-in creates it (the first user ever becomes ADMIN, as a
//! local one does); every later one writes the directory's email, username and name over the
//! stored ones. An account of another provider is never taken over.

use super::names::single_line;
use super::{Accounts, Email};
use crate::error::{Error, Result};
use crate::ldap::DirectoryProfile;
use crate::store;
use crate::store::identities::{IdentityKey, NewExternalUser};
use crate::store::users::{Inserted, Provider, Role, User};

/// LibreChat's `ErrorTypes.AUTH_FAILED`: the directory vouched for the person, but the account
/// belongs to another way of signing in.
const AUTH_FAILED: &str = "auth_failed";
const DOMAIN_NOT_ALLOWED: &str = "Email domain not allowed";

impl Accounts {
    pub async fn sign_in_directory(&self, p: &DirectoryProfile) -> Result<User> {
        let email = Email::normalized(&p.email).into_string();
        if !self.rules.yaml.email_domain_allowed(&email) {
            tracing::warn!(%email, "LDAP sign-in refused: the email domain is not in allowedDomains");
            return Err(Error::SignInRefused(DOMAIN_NOT_ALLOWED));
        }
        // One line each, as every provider's data: a line break in a directory attribute would
        // otherwise forge mail headers.
        let username = single_line(&p.username).to_lowercase();
        let name = match single_line(&p.name) {
            name if name.is_empty() => username.clone(),
            name => name,
        };
        let key = IdentityKey {
            provider: Provider::Ldap.as_str(),
            issuer: "",
            subject: &p.id,
        };
        let now = self.clock.now_ms();
        if let Some(mut user) = store::identities::find_user(&self.db, &key).await? {
            if user.provider != Provider::Ldap {
                tracing::info!(user_id = %user.id, provider = %user.provider, "LDAP sign-in refused: the account belongs to another provider");
                return Err(Error::SignInRefused(AUTH_FAILED));
            }
            let unchanged = user.email == email && user.username == username && user.name == name;
            if unchanged {
                return Ok(user);
            }
            if !store::identities::update_profile(&self.db, &user.id, &email, &username, &name, now)
                .await?
            {
                tracing::warn!(user_id = %user.id, %email, "LDAP sign-in refused: the directory's email for this user belongs to another account");
                return Err(Error::SignInRefused(AUTH_FAILED));
            }
            self.cache.invalidate(&user.id);
            user.email = email;
            user.username = username;
            user.name = name;
            return Ok(user);
        }
        if let Some(existing) = store::users::find_by_email(&self.db, &email).await? {
            // A concurrent first sign-in of the same person created it a moment ago.
            if let Some(user) = store::identities::find_user(&self.db, &key).await? {
                return Ok(user);
            }
            // A local (or other) account with this email, or an LDAP account under another
            // `ldapId` (LDAP_ID changed): taking it over would hand a password account to
            // whoever controls the directory entry.
            tracing::info!(user_id = %existing.id, provider = %existing.provider, "LDAP sign-in refused: an account with this email already exists");
            return Err(Error::SignInRefused(AUTH_FAILED));
        }
        let id = crate::ids::new_object_id(now);
        let new = NewExternalUser {
            id: &id,
            email: &email,
            name: &name,
            username: &username,
            avatar: None,
            // LibreChat: "The ldap server administrator should verify the email".
            email_verified: true,
            role: &Role::User,
            now_ms: now,
            first_user_is_admin: true,
        };
        match store::identities::insert_user(&self.db, &new, &key).await? {
            Inserted::Created(user) => {
                tracing::info!(user_id = %user.id, role = %user.role, "user registered through the LDAP directory");
                Ok(*user)
            }
            // A concurrent first sign-in of the same person won the insert.
            _ => store::identities::find_user(&self.db, &key)
                .await?
                .ok_or(Error::SignInRefused(AUTH_FAILED)),
        }
    }
}
