//! The JSON API on the wire: handlers, cookies, extractors and the wire form of errors. Rules
//! live in the use cases (`usecases/`); this layer only translates between HTTP and them. The
//! routing table that joins it with the gateway is `router.rs`.

pub mod admin;
pub mod auth;
pub mod body_limit;
pub mod canonical_target;
pub mod cookies;
pub mod error_response;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod metrics_layer;
pub mod oauth;
pub mod oidc;
pub mod openapi;
pub mod openapi_schemas;
pub mod passkeys;
pub mod password_reset;
pub mod request_id;
pub mod startup_config;
pub mod two_factor;
pub mod user;
pub mod verification;
