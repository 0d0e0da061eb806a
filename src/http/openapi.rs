//! The OpenAPI 3.1 document of the routes this instance serves, at `GET /api/openapi.json`.
//!
//! It is not written by hand: `router.rs` registers every API route with utoipa-axum's
//! `routes!`, which takes the path and the methods from the handler's `#[utoipa::path]`, so
//! the router and the document are one table. Routes that exist only with a feature on (a
//! provider, SAML, social sign-in) are in the document exactly when they are served. Left out:
//! the sign-in pages under `PAGES_PREFIX` and the provider's browser endpoints (authorize,
//! consent, logout), which are HTML, and the gateway's proxy fallback (the backend's API).
//!
//! Adding a route: annotate its handler with `#[utoipa::path(...)]` (bodies described in
//! `openapi_schemas.rs` when they are `json!`), and register it with `.routes(routes!(h))`
//! instead of `.route(path, get(h))`; `tests/api/openapi.rs` fails for a route served outside
//! the document.
//!
//! The refusals every route shares (a malformed body, a missing token, a ban, a limiter, an
//! outage) are added to each operation here, once, rather than repeated in each annotation.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::openapi_schemas as schema;
use crate::app::AppContext;

/// The document's frame: its title, security schemes and the error shapes every route shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bouncer",
        description = "Authentication and abuse moderation for self-hosted AI chat platforms, speaking LibreChat's auth protocol."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(
        schema::Message,
        schema::BanBody,
        schema::TwoFactorSetupRequired,
        schema::ResetDomainRefused,
        schema::ConcurrentLimit,
        schema::OAuthError
    ))
)]
struct Frame;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "bearer",
            bearer(
                "JWT",
                "An access token from login, refresh or the 2FA step (`Authorization: Bearer`).",
            ),
        );
        components.add_security_scheme(
            "refreshCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "refreshToken",
                "The session's refresh token, set by login.",
            ))),
        );
        components.add_security_scheme(
            "adminApiKey",
            bearer(
                "API key",
                "An `admin`-scoped API key of an ADMIN (`Authorization: Bearer`).",
            ),
        );
        components.add_security_scheme(
            "clientBasic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A registered client's id and secret (client_secret_basic); \
                         client_secret_post and public clients send client_id in the form.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "providerBearer",
            bearer(
                "JWT",
                "An access token issued by Bouncer's OpenID provider (`/oidc/token`).",
            ),
        );
        components.add_security_scheme(
            "metricsBearer",
            bearer("opaque", "`METRICS_SECRET`, for a Prometheus scraper."),
        );
    }
}

/// The router the API routes are registered on, its document started with the frame.
pub fn api_router() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::with_openapi(Frame::openapi())
}

/// The document, serialized once when the router is built (a clone shares the bytes).
#[derive(Clone)]
pub struct Document(Bytes);

/// The layer that hands the finished document to `document`.
pub fn served(doc: utoipa::openapi::OpenApi) -> Extension<Document> {
    let doc = finish(doc);
    let json = doc.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document does not serialize");
        "{}".into()
    });
    Extension(Document(Bytes::from(json)))
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)))]
pub async fn document(Extension(doc): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0).into_response()
}

/// Completes the collected document: unique operation ids and the shared refusals.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            op.operation_id = Some(operation_id(method, path));
            add_shared_refusals(op);
        }
    }
    doc
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

/// `post /api/auth/login` → `post_api_auth_login`: unique, as handler names are not.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_string();
    let mut last_sep = false;
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
            last_sep = false;
        } else if !last_sep {
            id.push('_');
            last_sep = true;
        }
    }
    id.trim_end_matches('_').to_string()
}

fn named(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A JSON body that is any of these shapes (each a `{"message"}`, so `anyOf`, not `oneOf`).
fn any_of(names: &[&str]) -> RefOr<Schema> {
    if let [only] = names {
        return named(only);
    }
    let mut any = utoipa::openapi::schema::AnyOfBuilder::new();
    for name in names {
        any = any.item(named(name));
    }
    RefOr::T(Schema::AnyOf(any.build()))
}

fn json_response(description: &str, body: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(body)).build(),
        )
        .build()
}

/// The refusals any route may answer besides its own: documented once, with the spec's
/// shapes, where the annotation did not name the status itself.
fn add_shared_refusals(op: &mut Operation) {
    let oauth = op
        .tags
        .as_ref()
        .is_some_and(|t| t.iter().any(|t| t == "oidc"));
    let takes_json = op
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.keys().any(|k| k == "application/json"));
    let needs_token = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut shared: Vec<(&str, &str, RefOr<Schema>)> = Vec::new();
    // Every route: the request target is made canonical before routing, and refused there
    // (`http/canonical_target.rs`) in the JSON API's shape, whatever the route's own.
    let bad_request = if takes_json {
        "A request target that is not canonical, or a body that is not JSON of the documented shape"
    } else {
        "A request target that is not canonical (e.g. an encoded control character)"
    };
    shared.push(("400", bad_request, named("Message")));
    if takes_json {
        shared.push(("413", "A body over 1 MiB", named("Message")));
    }
    if oauth {
        shared.push((
            "429",
            "A limiter (`slow_down`)",
            any_of(&["OAuthError", "ConcurrentLimit"]),
        ));
    } else {
        if needs_token {
            shared.push(("401", "No valid access token", named("Message")));
        }
        shared.push((
            "403",
            "A ban, a disabled account, or 2FA to be set up first (`REQUIRE_2FA`)",
            any_of(&["Ban", "TwoFactorSetupRequired", "Message"]),
        ));
        shared.push(("429", "A limiter", any_of(&["ConcurrentLimit", "Message"])));
    }
    shared.push((
        "503",
        "The database, the directory or the password hasher is unavailable or busy (`Retry-After`)",
        named("Message"),
    ));
    shared.push(("500", "Something went wrong", named("Message")));
    for (status, description, body) in shared {
        match op.responses.responses.get_mut(status) {
            None => {
                op.responses.responses.insert(
                    status.to_string(),
                    RefOr::T(json_response(description, body)),
                );
            }
            // A route's own 400 (an OAuth error, a refused domain) or the canonical target's.
            Some(RefOr::T(own)) if status == "400" => also_message(own),
            Some(_) => {}
        }
    }
}

/// Lets a documented answer also be the JSON API's `{"message"}`.
fn also_message(response: &mut utoipa::openapi::Response) {
    let message = named("Message");
    match response.content.get_mut("application/json") {
        Some(content) => {
            let same = |a: &RefOr<Schema>| {
                serde_json::to_value(a).ok() == serde_json::to_value(&message).ok()
            };
            match content.schema.take() {
                Some(own) if !same(&own) => {
                    content.schema = Some(RefOr::T(Schema::AnyOf(
                        utoipa::openapi::schema::AnyOfBuilder::new()
                            .item(own)
                            .item(message)
                            .build(),
                    )));
                }
                own => content.schema = own.or(Some(message)),
            }
        }
        None => {
            response.content.insert(
                "application/json".into(),
                ContentBuilder::new().schema(Some(message)).build(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_the_method_and_path() {
        assert_eq!(
            operation_id("post", "/api/auth/2fa/verify-temp"),
            "post_api_auth_2fa_verify_temp"
        );
        assert_eq!(
            operation_id("get", "/api/bouncer/users/{id}/sessions/{session_id}"),
            "get_api_bouncer_users_id_sessions_session_id"
        );
    }

    /// The picture's annotated path is the provider's own constant's.
    #[test]
    fn the_picture_path_is_the_providers() {
        use utoipa::Path;
        let path = <crate::http::oidc::__path_picture as Path>::path();
        assert_eq!(
            path,
            format!("{}/{{user_id}}", crate::provider::paths::PICTURE)
        );
    }
}
