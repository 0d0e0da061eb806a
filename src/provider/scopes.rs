//! The scopes the provider knows. Unknown scopes are dropped (Core §5.4 lets a provider ignore
//! them); the granted ones are said back in the token response.

/// Scopes in the order they are written back.
pub const SUPPORTED: &[&str] = &["openid", "profile", "email", "offline_access"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub offline_access: bool,
}

impl Scopes {
    /// The known scopes of a space-separated `scope` parameter.
    pub fn parse(raw: &str) -> Self {
        let mut scopes = Scopes::default();
        for scope in raw.split(' ').filter(|s| !s.is_empty()) {
            match scope {
                "openid" => scopes.openid = true,
                "profile" => scopes.profile = true,
                "email" => scopes.email = true,
                "offline_access" => scopes.offline_access = true,
                _ => {}
            }
        }
        scopes
    }

    fn flags(&self) -> [bool; 4] {
        [self.openid, self.profile, self.email, self.offline_access]
    }

    /// Whether every scope of `self` is also in `other`.
    pub fn within(&self, other: &Scopes) -> bool {
        self.flags()
            .iter()
            .zip(other.flags())
            .all(|(mine, theirs)| !mine || theirs)
    }

    /// The scopes a user is asked to allow (never `openid` alone: it releases only `sub`).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        SUPPORTED
            .iter()
            .zip(self.flags())
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().collect::<Vec<_>>().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scopes_are_kept_in_order_and_others_dropped() {
        let s = Scopes::parse("email  openid foo profile");
        assert_eq!(s.to_string(), "openid profile email");
        assert!(Scopes::parse("openid").within(&s));
        assert!(!Scopes::parse("openid offline_access").within(&s));
        assert_eq!(Scopes::parse("").to_string(), "");
    }
}
