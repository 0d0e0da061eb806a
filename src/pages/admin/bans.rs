//! The bans in force (users and IP addresses or prefixes: reason, who, expiry), each with
//! Lift, and a form to ban an IP address or prefix.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::gate::{when, AdminRequest, CsrfField, Done, Frame, Section};
use crate::error::Error;
use crate::pages::layout::Chrome;
use crate::pages::text::ADMIN;
use crate::usecases::admin::{self, BanTarget, NewBan};

/// One ban in force.
pub struct BanRow {
    /// `user` or `ip`, as the lift form sends it back.
    pub kind: String,
    /// The user id or the address or prefix, as the lift form sends it back.
    pub subject: String,
    /// What a person reads: the user's email, or the address.
    pub label: String,
    pub user_id: Option<String>,
    pub reason: String,
    pub by: String,
    pub created: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "pages/admin/bans.html")]
pub struct BansPage {
    pub c: Chrome,
    pub f: Frame,
    pub bans: Vec<BanRow>,
    /// The ban form as sent, when it is shown again with its refusal.
    pub form_ip: String,
    pub form_duration: String,
    pub form_reason: String,
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /ui/admin/bans`.
pub async fn page(
    ar: AdminRequest,
    query: Result<Query<DoneQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let notice = query.ok().and_then(|q| Done::notice(q.0.done.as_deref()));
    show(&ar, notice, None, StatusCode::OK, BanIpForm::default()).await
}

async fn show(
    ar: &AdminRequest,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
    form: BanIpForm,
) -> Response {
    let mut f = ar.frame(Section::Bans);
    f.notice = notice;
    f.error = error;
    let (bans, status) = match load(ar).await {
        Ok(bans) => (bans, status),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            f.error = Some(message);
            (Vec::new(), status)
        }
    };
    let page = BansPage {
        c: ar.page.chrome(),
        f,
        bans,
        form_ip: form.ip.unwrap_or_default(),
        form_duration: form.duration.unwrap_or_else(|| "1h".into()),
        form_reason: form.reason.unwrap_or_default(),
    };
    ar.page.render(status, &page)
}

async fn load(ar: &AdminRequest) -> Result<Vec<BanRow>, Error> {
    let bans = admin::list_bans(&ar.page.ctx, &ar.actor()).await?;
    Ok(bans
        .into_iter()
        .map(|b| {
            let is_user = b.kind == "user";
            BanRow {
                label: match (&b.email, is_user) {
                    (Some(email), true) => email.clone(),
                    _ => b.subject.clone(),
                },
                user_id: is_user.then(|| b.subject.clone()),
                reason: match b.reason {
                    Some(reason) if !reason.is_empty() => reason,
                    _ => b.violation_type,
                },
                by: b.created_by.unwrap_or_else(|| ADMIN.automatic.into()),
                created: when(Some(b.created_at)),
                expires: when(Some(b.expires_at)),
                kind: b.kind,
                subject: b.subject,
            }
        })
        .collect())
}

#[derive(Deserialize, Default)]
pub struct BanIpForm {
    csrf: Option<String>,
    ip: Option<String>,
    duration: Option<String>,
    reason: Option<String>,
}

impl CsrfField for BanIpForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /ui/admin/bans`: ban an IP address or prefix.
pub async fn ban_ip(ar: AdminRequest, form: Result<Form<BanIpForm>, FormRejection>) -> Response {
    let mut form = match ar.form(form) {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    form.csrf = None;
    let ip = form.ip.as_deref().unwrap_or("").trim().to_string();
    let duration = form.duration.as_deref().unwrap_or("").trim().to_string();
    let reason = form.reason.as_deref().unwrap_or("").trim().to_string();
    match ban(&ar, &ip, &duration, &reason).await {
        Ok(()) => ar.done("/bans", Done::Banned),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            show(&ar, None, Some(message), status, form).await
        }
    }
}

async fn ban(ar: &AdminRequest, ip: &str, duration: &str, reason: &str) -> Result<(), Error> {
    if ip.is_empty() {
        return Err(Error::BadRequest(
            "ip: an address or prefix is required".into(),
        ));
    }
    let ban = NewBan {
        target: BanTarget::Ip(ip.to_string()),
        duration_ms: admin::parse_duration(duration)?,
        reason: (!reason.is_empty()).then(|| reason.to_string()),
    };
    admin::ban(&ar.page.ctx, &ar.actor(), ban).await.map(drop)
}

#[derive(Deserialize)]
pub struct LiftForm {
    csrf: Option<String>,
    kind: Option<String>,
    subject: Option<String>,
}

impl CsrfField for LiftForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /ui/admin/bans/lift`.
pub async fn lift(ar: AdminRequest, form: Result<Form<LiftForm>, FormRejection>) -> Response {
    let form = match ar.form(form) {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    let kind = form.kind.unwrap_or_default();
    let subject = form.subject.unwrap_or_default();
    match lift_ban(&ar, &kind, &subject).await {
        Ok(()) => ar.done("/bans", Done::Lifted),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            show(&ar, None, Some(message), status, BanIpForm::default()).await
        }
    }
}

async fn lift_ban(ar: &AdminRequest, kind: &str, subject: &str) -> Result<(), Error> {
    let target = match kind {
        "user" => BanTarget::User(subject.to_string()),
        "ip" => BanTarget::Ip(subject.to_string()),
        _ => return Err(Error::BadRequest("kind: must be user or ip".into())),
    };
    if subject.is_empty() {
        return Err(Error::BadRequest("subject: required".into()));
    }
    admin::lift(&ar.page.ctx, &ar.actor(), target)
        .await
        .map(drop)
}
