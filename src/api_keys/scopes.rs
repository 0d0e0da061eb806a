//! What a key opens: `gateway` (the chat gateway and forward-auth; every key) and `admin`
//! (also the admin API `/api/bouncer/*`; only an ADMIN may hold one). Stored as a JSON array.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    pub admin: bool,
}

pub const GATEWAY: &str = "gateway";
pub const ADMIN: &str = "admin";

impl Scopes {
    /// The scopes a caller asked for: none means `gateway`; `admin` brings `gateway` with it.
    pub fn requested(names: Option<&[String]>) -> Result<Self> {
        let mut admin = false;
        for name in names.unwrap_or_default() {
            match name.as_str() {
                GATEWAY => {}
                ADMIN => admin = true,
                other => {
                    return Err(Error::BadRequest(format!(
                        "Unknown scope {other:?}: the scopes are \"gateway\" and \"admin\""
                    )))
                }
            }
        }
        Ok(Self { admin })
    }

    pub fn names(self) -> Vec<&'static str> {
        if self.admin {
            vec![GATEWAY, ADMIN]
        } else {
            vec![GATEWAY]
        }
    }

    pub fn to_json(self) -> String {
        serde_json::Value::from(self.names()).to_string()
    }

    /// As stored; anything unreadable opens nothing beyond the gateway.
    pub fn from_json(text: &str) -> Self {
        let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
        Self {
            admin: names.iter().any(|n| n == ADMIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_by_default_admin_brings_gateway_unknown_refused() {
        assert_eq!(Scopes::requested(None).unwrap().names(), vec![GATEWAY]);
        let admin = Scopes::requested(Some(&["admin".into()])).unwrap();
        assert_eq!(admin.names(), vec![GATEWAY, ADMIN]);
        assert_eq!(Scopes::from_json(&admin.to_json()), admin);
        assert!(matches!(
            Scopes::requested(Some(&["root".into()])),
            Err(Error::BadRequest(_))
        ));
    }
}
