//! Bouncer as an OpenID provider: signing keys, registered clients, authorization codes,
//! grants (provider sessions), and the tokens it issues.

pub mod clients;
pub mod keys;
