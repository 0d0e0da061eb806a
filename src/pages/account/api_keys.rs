//! The account page's "API keys" section: make a key (shown once, on the answer to the form),
//! see one's keys with their last use, revoke one. The rules are `usecases::api_keys`.

use axum::extract::rejection::FormRejection;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{account_page_with, enrolment_only, refused, signed_in_form, when};
use crate::api_keys::scopes::Scopes;
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::pages::layout::PageRequest;
use crate::pages::text::EN;
use crate::usecases::api_keys::{self, Acting, KeyRequest};

const SECTION: &str = "api-keys";

/// One row of the keys table.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

/// The user's keys that are not revoked, newest first.
pub(super) async fn rows(ctx: &AppContext, user_id: &str, now_ms: i64) -> Result<Vec<KeyRow>> {
    let keys = api_keys::list(ctx, Some(user_id)).await?;
    Ok(keys
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| KeyRow {
            scopes: Scopes::from_json(&k.scopes).names().join(", "),
            created: when(Some(k.created_at)),
            expires: match k.expires_at {
                None => EN.api_key_never.to_string(),
                Some(at) if at <= now_ms => EN.api_key_expired.to_string(),
                Some(at) => when(Some(at)),
            },
            last_used: when(k.last_used_at),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
        })
        .collect())
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    name: Option<String>,
    /// Empty: the key does not expire.
    expires_in_days: Option<String>,
}

/// `POST /ui/account/api-keys`: the answer shows the new key, this once.
pub async fn create(req: PageRequest, form: Result<Form<CreateForm>, FormRejection>) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let expires_in_days = match form.expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(days) => match days.parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                let e = Error::BadRequest("expires_in_days must be a whole number of days".into());
                return refused(&req, &claims, e, SECTION).await;
            }
        },
    };
    let request = KeyRequest {
        name: form.name,
        expires_in_days,
        scopes: None,
    };
    let acting = Acting {
        actor_id: Some(&claims.id),
        client: Some(&req.client),
    };
    match api_keys::create(&req.ctx, &claims.id, request, acting).await {
        Ok(created) => {
            account_page_with(
                &req,
                &claims,
                Some(EN.api_key_created.into()),
                None,
                StatusCode::CREATED,
                Some(created.key),
            )
            .await
        }
        Err(e) => refused(&req, &claims, e, SECTION).await,
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    key_id: Option<String>,
}

/// `POST /ui/account/api-keys/revoke`.
pub async fn revoke(req: PageRequest, form: Result<Form<RevokeForm>, FormRejection>) -> Response {
    let (claims, form) = match signed_in_form(&req, form, |f| f.csrf.as_deref()) {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(answer) = enrolment_only(&req, &claims).await {
        return answer;
    }
    let acting = Acting {
        actor_id: Some(&claims.id),
        client: Some(&req.client),
    };
    let id = form.key_id.unwrap_or_default();
    if let Err(e) = api_keys::revoke(&req.ctx, &id, Some(&claims.id), acting).await {
        return refused(&req, &claims, e, SECTION).await;
    }
    account_page_with(
        &req,
        &claims,
        Some(EN.api_key_revoked.into()),
        None,
        StatusCode::OK,
        None,
    )
    .await
}
