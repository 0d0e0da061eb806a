//! The pages' one stylesheet, with the accent colour of `PAGES_ACCENT_COLOR` (a file of its
//! own: the Content-Security-Policy allows no inline style).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::AppContext;

const STYLESHEET: &str = include_str!("../../templates/pages/style.css");

pub async fn get(State(ctx): State<Arc<AppContext>>) -> Response {
    let css = format!(
        ":root {{ --accent: {}; }}\n{STYLESHEET}",
        ctx.config.pages.accent_color
    );
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        css,
    )
        .into_response()
}
