//! The bans in force (users and IP addresses or prefixes: reason, who, expiry), each with
//! Lift, and a form to ban an IP address or prefix.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::pages::layout::Chrome;
use super::gate::{AdminRequest, CsrfField, Done, Frame, Section};
use crate::error::Error;

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

async fn load(_ar: &AdminRequest) -> Result<Vec<BanRow>, Error> {
    Ok(Vec::new())
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

async fn ban(_ar: &AdminRequest, _ip: &str, _duration: &str, _reason: &str) -> Result<(), Error> {
    Err(Error::BadRequest("not yet".into()))
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

async fn lift_ban(_ar: &AdminRequest, _kind: &str, _subject: &str) -> Result<(), Error> {
    Err(Error::BadRequest("not yet".into()))
}
