//! The user object on the wire, in LibreChat's field names. Built from the stored user, so the
//! password hash cannot leak by accident.

use serde::Serialize;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::store::users::User;

/// `GET /api/user`, and the `user` of login and refresh answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicUser<'a> {
    #[serde(rename = "_id")]
    pub mongo_id: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub avatar: Option<&'a str>,
    pub provider: &'a str,
    pub role: &'a str,
    pub plugins: [(); 0],
    pub two_factor_enabled: bool,
    pub terms_accepted: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl<'a> From<&'a User> for PublicUser<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            mongo_id: &u.id,
            id: &u.id,
            name: &u.name,
            username: &u.username,
            email: &u.email,
            email_verified: u.email_verified,
            avatar: u.avatar.as_deref(),
            provider: u.provider.as_str(),
            role: u.role.as_str(),
            plugins: [],
            two_factor_enabled: u.two_factor_enabled,
            terms_accepted: u.terms_accepted,
            created_at: iso_time(u.created_at),
            updated_at: iso_time(u.updated_at),
        }
    }
}

/// Milliseconds since the epoch as JavaScript's `Date.toISOString()` writes them.
pub fn iso_time(ms: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_time_matches_javascript() {
        assert_eq!(
            super::iso_time(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(super::iso_time(0), "1970-01-01T00:00:00.000Z");
    }
}
