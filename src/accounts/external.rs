//! Users who sign in through an identity provider: LibreChat's account rules, made explicit.
//! Find the user by the provider's subject; else by email, where an account of another provider
//! is refused unless linking is allowed and the provider vouches for the email; else create the
//! user if this provider may register users.

use super::names::single_line;
use super::Accounts;
use super::Email;
use crate::sso::{ExternalProfile, SsoFailure};
use crate::store;
use crate::store::identities::{IdentityKey, NewExternalUser};
use crate::store::users::{Inserted, Provider, Role, User};

/// What the provider's configuration allows.
#[derive(Debug, Clone, Copy)]
pub struct ExternalRules {
    /// OpenID always; social providers with `ALLOW_SOCIAL_REGISTRATION=true`.
    pub may_register: bool,
    /// `<PROVIDER>_ALLOW_ACCOUNT_LINKING=true`: an existing account of another provider with the
    /// same, provider-verified email is bound to this identity.
    pub allow_linking: bool,
}

impl Accounts {
    pub async fn sign_in_external(
        &self,
        p: &ExternalProfile,
        rules: ExternalRules,
    ) -> Result<User, SsoFailure> {
        let key = IdentityKey {
            provider: p.provider.as_str(),
            issuer: &p.issuer,
            subject: &p.subject,
        };
        let now = self.clock.now_ms();
        let mut found = store::identities::find_user(&self.db, &key).await?;
        if found.is_none() && p.provider == Provider::OpenId {
            // An account imported from LibreChat before its issuer was known.
            found =
                store::identities::bind_imported_openid(&self.db, &p.issuer, &p.subject).await?;
        }
        let mut user = match found {
            Some(user) => user,
            None => {
                // Stored and compared as every email is: trimmed and lower-cased.
                let email = p
                    .email
                    .as_deref()
                    .map(Email::normalized)
                    .ok_or(SsoFailure::MissingEmail)?
                    .into_string();
                if !self.rules.yaml.email_domain_allowed(&email) {
                    return Err(SsoFailure::DomainNotAllowed(email));
                }
                match store::users::find_by_email(&self.db, &email).await? {
                    // Same provider: LibreChat binds by email. Bouncer asks that the email be
                    // verified, except from the operator's own OpenID provider: on a public
                    // provider, anyone can put an unverified copy of a victim's address on
                    // an account of their own.
                    Some(existing)
                        if (existing.provider == p.provider
                            && (p.email_verified || p.provider == Provider::OpenId))
                            || (rules.allow_linking && p.email_verified) =>
                    {
                        store::identities::link(&self.db, &key, &existing.id, now).await?;
                        tracing::info!(user_id = %existing.id, provider = %p.provider, "identity bound to an existing account");
                        existing
                    }
                    Some(existing) => {
                        return Err(SsoFailure::ProviderMismatch {
                            email,
                            owner: existing.provider.to_string(),
                        })
                    }
                    None if !rules.may_register => {
                        return Err(SsoFailure::RegistrationClosed(p.provider.to_string()))
                    }
                    None => self.create_external(p, &key, &email, now).await?,
                }
            }
        };
        if let Some(admin) = p.admin {
            let role = match (admin, &user.role) {
                (true, _) => Role::Admin,
                (false, Role::Admin) => Role::User,
                (false, other) => other.clone(),
            };
            if role != user.role {
                store::identities::set_role(&self.db, &user.id, &role, now).await?;
                tracing::warn!(user_id = %user.id, from = %user.role, to = %role, "role set by the identity provider");
                user.role = role;
            }
        }
        self.cache.invalidate(&user.id);
        Ok(user)
    }

    async fn create_external(
        &self,
        p: &ExternalProfile,
        key: &IdentityKey<'_>,
        email: &str,
        now: i64,
    ) -> Result<User, SsoFailure> {
        let id = crate::ids::new_object_id(now);
        // The provider's data is taken as it comes, but as one line: refusing the sign-in over
        // a line break in a name would lock the person out; storing it would forge mail headers.
        let username = single_line(&p.username).to_lowercase();
        let name = single_line(&p.name);
        let name = if name.is_empty() {
            username.clone()
        } else {
            name
        };
        let new = NewExternalUser {
            id: &id,
            email,
            name: &name,
            username: &username,
            avatar: p.avatar.as_deref(),
            email_verified: p.email_verified,
            role: if p.admin == Some(true) {
                &Role::Admin
            } else {
                &Role::User
            },
            now_ms: now,
            first_user_is_admin: false,
        };
        match store::identities::insert_user(&self.db, &new, key).await? {
            Inserted::Created(user) => {
                tracing::info!(user_id = %user.id, provider = %p.provider, "user registered through an identity provider");
                Ok(*user)
            }
            // A concurrent first login of the same person won the insert.
            _ => store::identities::find_user(&self.db, key)
                .await?
                .ok_or_else(|| SsoFailure::ProviderMismatch {
                    email: email.to_string(),
                    owner: "another sign-in".into(),
                }),
        }
    }
}
