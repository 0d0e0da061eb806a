//! Email addresses in the one form Bouncer compares and stores them: trimmed and lower-cased,
//! made once where the address enters (a use case, from the submitted field), so no lookup can
//! miss a user over the case of a letter.

use super::validation::is_valid_email;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The normalized form of what was submitted, valid or not (a lookup of something that is
    /// not an address finds nobody; validation is the registration rules' business).
    pub fn normalized(raw: &str) -> Self {
        Self(raw.trim().to_lowercase())
    }

    /// The normalized form, if it is an email address by LibreChat's rule (zod's `email()`).
    pub fn parse(raw: &str) -> Option<Self> {
        let email = Self::normalized(raw);
        email.is_valid().then_some(email)
    }

    pub fn is_valid(&self) -> bool {
        is_valid_email(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalized_once_and_checked_by_the_registration_rule() {
        assert_eq!(
            Email::normalized("  Ada@Example.COM ").as_str(),
            "ada@example.com"
        );
        assert_eq!(Email::normalized("ADA@x"), Email::normalized("ada@X"));
        assert!(Email::parse("Ada@Example.com").is_some());
        for bad in ["", "ada", "ada@", "x@nope", ".ada@example.com"] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
    }
}
