//! The admin API's `users` routes: the list (search, filters, sort, keyset pages), one user,
//! creating, the role, disabling and enabling, signing out everywhere, resetting 2FA, mailing a
//! password reset, deleting, and a user's sessions. The rules are `usecases/admin_users.rs`.

use crate::http::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::http::extract::{AdminCaller, ApiJson};
use crate::store::identities::BoundIdentity;
use crate::store::sessions::SessionSummary;
use crate::store::users::Role;
use crate::usecases::admin::{self, Actor, AdminNewUser, Created, Order, UserQuery, UserSort};
use crate::usecases::notices::Invitation;

pub fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(detail, update, delete_user))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(sign_out))
        .routes(routes!(reset_2fa))
        .routes(routes!(password_reset))
        .routes(routes!(sessions, revoke_sessions))
        .routes(routes!(revoke_session))
}

/// A path parameter; a malformed one is the JSON 400 of every other input.
fn param<T>(path: Result<Path<T>, PathRejection>) -> Result<T> {
    path.map(|Path(p)| p)
        .map_err(|e| Error::BadRequest(format!("path: {}", e.body_text())))
}

fn flag(name: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::BadRequest(format!("{name}: must be true or false"))),
    }
}

/// Reads the list's query string; an unknown parameter or a bad value is a 400 naming it.
fn user_query(raw: Option<&str>) -> Result<UserQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Error::BadRequest("Invalid query string".into()))?;
    let mut q = UserQuery::default();
    for (key, value) in pairs {
        if value.contains('\0') {
            return Err(Error::BadRequest(format!("{key}: may not contain NUL")));
        }
        let text = || Some(value.clone()).filter(|v| !v.trim().is_empty());
        match key.as_str() {
            "search" | "q" => q.search = text(),
            "role" => q.role = text().map(|r| r.trim().to_uppercase()),
            "provider" => q.provider = text().map(|p| p.trim().to_lowercase()),
            "two_factor" | "twoFactor" => q.two_factor = Some(flag(&key, &value)?),
            "banned" => q.banned = Some(flag(&key, &value)?),
            "unverified" => q.unverified = Some(flag(&key, &value)?),
            "disabled" => q.disabled = Some(flag(&key, &value)?),
            "sort" => {
                q.sort = UserSort::parse(&value).ok_or_else(|| {
                    Error::BadRequest("sort: must be created_at, email, name or username".into())
                })?
            }
            "order" => {
                q.order = Order::parse(&value)
                    .ok_or_else(|| Error::BadRequest("order: must be asc or desc".into()))?
            }
            "cursor" => q.cursor = text(),
            "limit" => {
                q.limit = Some(value.trim().parse().map_err(|_| {
                    Error::BadRequest(format!(
                        "limit: must be a number between 1 and {}",
                        admin::PAGE_MAX
                    ))
                })?)
            }
            other => return Err(Error::BadRequest(format!("{other}: unknown parameter"))),
        }
    }
    if q.search.as_ref().is_some_and(|s| s.len() > 4 * 200) {
        return Err(Error::BadRequest("search: too long".into()));
    }
    Ok(q)
}

#[utoipa::path(get, path = "/users", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("search" = Option<String>, Query, description = "Email, name or username contains"), ("role" = Option<String>, Query, description = "ADMIN or USER"), ("provider" = Option<String>, Query, description = "local, openid, …"), ("two_factor" = Option<String>, Query, description = "true or false"), ("banned" = Option<String>, Query, description = "true or false"), ("unverified" = Option<String>, Query, description = "true or false"), ("disabled" = Option<String>, Query, description = "true or false"), ("sort" = Option<String>, Query, description = "created_at, email, name or username"), ("order" = Option<String>, Query, description = "asc or desc"), ("cursor" = Option<String>, Query, description = "The previous page's `next`"), ("limit" = Option<String>, Query, description = "1 to the page maximum")),
    responses((status = 200, description = "A page of users", body = schema::UserPage), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message)))]
async fn list(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = user_query(raw.as_deref())?;
    let page = admin::list_users(&ctx, &Actor::Admin(admin), &q).await?;
    Ok(Json(page).into_response())
}

fn session_json(s: &SessionSummary) -> Value {
    json!({
        "id": s.id,
        "kind": s.kind,
        "clientId": s.client_id,
        "userAgent": s.user_agent,
        "ip": s.ip,
        "createdAt": s.created_at,
        "lastUsedAt": s.last_used_at,
        "expiresAt": s.expires_at,
    })
}

fn identity_json(i: &BoundIdentity) -> Value {
    json!({
        "provider": i.provider,
        "issuer": i.issuer,
        "subject": i.subject,
        "createdAt": i.created_at,
    })
}

#[utoipa::path(get, path = "/users/{id}", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user, their sessions, identities and bans", body = schema::UserDetail), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn detail(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let id = param(id)?;
    let d = admin::user_detail(&ctx, &Actor::Admin(admin), &id).await?;
    let bans: Vec<admin::BanEntry> = d.bans.into_iter().map(Into::into).collect();
    Ok(Json(json!({
        "user": d.user,
        "sessions": d.sessions.iter().map(session_json).collect::<Vec<_>>(),
        "identities": d.identities.iter().map(identity_json).collect::<Vec<_>>(),
        "bans": bans,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewUserBody {
    email: Option<String>,
    name: Option<String>,
    username: Option<String>,
    password: Option<String>,
    role: Option<String>,
    email_verified: Option<bool>,
}

/// `ADMIN` or `USER`, in any case.
fn role(text: &str) -> Result<Role> {
    match text.trim().to_uppercase().as_str() {
        "ADMIN" => Ok(Role::Admin),
        "USER" => Ok(Role::User),
        _ => Err(Error::BadRequest("role: must be ADMIN or USER".into())),
    }
}

#[utoipa::path(post, path = "/users", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    request_body = schema::NewUserRequest,
    responses((status = 201, description = "Created", body = schema::UserCreated), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 202, description = "Invited (`REQUIRE_INVITE`)", body = schema::UserInvited), (status = 400, description = "A bad parameter, named", body = schema::Message), (status = 409, description = "The email or username is taken", body = schema::Message)))]
async fn create(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<Response> {
    let email = body
        .email
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::BadRequest("email: required".into()))?;
    let new = AdminNewUser {
        name: body.name.unwrap_or_default(),
        username: body.username.unwrap_or_default(),
        password: body.password.filter(|p| !p.is_empty()),
        role: match body.role.as_deref() {
            Some(r) => role(r)?,
            None => Role::User,
        },
        email_verified: body.email_verified.unwrap_or(true),
        email,
    };
    let created = admin::create_user(&ctx, &Actor::Admin(admin), new)
        .await
        .map_err(validation_as_bad_request)?;
    Ok(match created {
        Created::User {
            user,
            verification_mail,
        } => (
            StatusCode::CREATED,
            Json(json!({
                "user": user,
                "verificationMail": verification_mail.map(|sent| if sent.is_ok() { "sent" } else { "failed" }),
            })),
        )
            .into_response(),
        Created::Invited(invitation) => (
            StatusCode::ACCEPTED,
            Json(match invitation {
                Invitation::Sent => json!({ "invited": true, "inviteMail": "sent" }),
                Invitation::Link(link) => json!({ "invited": true, "inviteLink": link }),
            }),
        )
            .into_response(),
    })
}

/// The registration rules answer `Validation` with LibreChat's 404 on the public route; an
/// admin's bad input is a 400.
fn validation_as_bad_request(e: Error) -> Error {
    match e {
        Error::Validation(m) => Error::BadRequest(m),
        Error::DomainNotAllowed => {
            Error::BadRequest("email: the domain is not in registration.allowedDomains".into())
        }
        other => other,
    }
}

#[derive(Deserialize)]
struct UpdateBody {
    role: Option<String>,
}

#[utoipa::path(patch, path = "/users/{id}", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    request_body = schema::RoleRequest,
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The role is set", body = schema::OneUser), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message), (status = 404, description = "User not found", body = schema::Message), (status = 409, description = "The last admin", body = schema::Message)))]
async fn update(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Response> {
    let id = param(id)?;
    let Some(new_role) = body.role.as_deref() else {
        return Err(Error::BadRequest("role: required".into()));
    };
    let user = admin::set_role(&ctx, &Actor::Admin(admin), &id, role(new_role)?).await?;
    Ok(Json(json!({ "user": user })).into_response())
}

#[utoipa::path(post, path = "/users/{id}/disable", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Disabled", body = schema::OneUser), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message), (status = 409, description = "The last admin, or oneself", body = schema::Message)))]
async fn disable(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let user = admin::disable(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "user": user })).into_response())
}

#[utoipa::path(post, path = "/users/{id}/enable", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Enabled", body = schema::OneUser), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn enable(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let user = admin::enable(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "user": user })).into_response())
}

#[utoipa::path(post, path = "/users/{id}/sign-out", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Every session ended", body = schema::SessionsRevoked), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn sign_out(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let n = admin::sign_out_everywhere(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "sessionsRevoked": n })).into_response())
}

#[utoipa::path(post, path = "/users/{id}/reset-2fa", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "2FA is off", body = schema::SessionsRevoked), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn reset_2fa(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let n = admin::reset_two_factor(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "message": "2FA reset", "sessionsRevoked": n })).into_response())
}

#[utoipa::path(post, path = "/users/{id}/password-reset", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The mail is sent", body = schema::Message), (status = 403, description = "Not an admin (JSON), or password reset is off (`ALLOW_PASSWORD_RESET`, LibreChat's text)", content((schema::Message = "application/json"), (String = "text/plain"))), (status = 404, description = "User not found", body = schema::Message), (status = 409, description = "Not a local account", body = schema::Message)))]
async fn password_reset(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    admin::send_password_reset(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "message": "Password reset email sent" })).into_response())
}

#[utoipa::path(delete, path = "/users/{id}", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Deleted", body = schema::SessionsRevoked), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message), (status = 409, description = "The last admin, or oneself", body = schema::Message)))]
async fn delete_user(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let n = admin::delete_user(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "message": "User deleted", "sessionsRevoked": n })).into_response())
}

#[utoipa::path(get, path = "/users/{id}/sessions", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user's sessions", body = schema::Sessions), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn sessions(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let list = admin::list_sessions(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(
        Json(json!({ "sessions": list.iter().map(session_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Every session ended", body = schema::SessionsRevoked), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn revoke_sessions(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let n = admin::sign_out_everywhere(&ctx, &Actor::Admin(admin), &param(id)?).await?;
    Ok(Json(json!({ "sessionsRevoked": n })).into_response())
}

#[utoipa::path(delete, path = "/users/{id}/sessions/{session_id}", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The user's id"), ("session_id" = String, Path, description = "The session's id")),
    responses((status = 200, description = "The session ended", body = schema::Message), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "No such user or session", body = schema::Message)))]
async fn revoke_session(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response> {
    let (id, session_id) = param(ids)?;
    admin::revoke_session(&ctx, &Actor::Admin(admin), &id, &session_id).await?;
    Ok(Json(json!({ "message": "Session revoked" })).into_response())
}
