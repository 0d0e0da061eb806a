//! One integration-test binary: each test boots the real server on 127.0.0.1:0 with a fresh
//! SQLite database and a manual clock, and talks to it over HTTP as a browser would.

mod attack;
mod binary;
mod browser;
mod cli;
mod config_endpoint;
mod email;
mod forward_auth_sso;
mod gateway;
mod helpers;
mod ldap;
mod ldap_peer;
mod log_capture;
mod login;
mod logout;
mod mail_peers;
mod migration;
mod moderation;
mod oidc_peer;
mod openid;
mod outage_peer;
mod pages;
mod provider;
mod provider_peers;
mod proxies;
mod raw_http;
mod refresh;
mod register;
mod saml;
mod scale;
mod social;
mod social_peer;
mod tokens;
mod two_factor;
mod upstream_peer;
mod user;
