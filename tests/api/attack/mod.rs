//! The attack suite: one file per class of attack an outside test found, each test naming the
//! class it guards. Run on SQLite and on PostgreSQL + Redis like the rest of the suite.

mod database_outage;
mod forward_auth_headers;
mod gateway_paths;
mod identity_headers;
mod ipv6_clients;
mod mail_injection;
mod request_bodies;
mod slow_clients;
