//! Chat messages through the reverse proxy with content moderation on (`OPENAI_MODERATION`)
//! against a local stand-in moderation API, and the same messages through the same kind of
//! proxy with it off, in the same run: the moderation round trip's added latency.
//!
//! The upstream and the stand-in are one small axum server in this process: the upstream
//! answers `POST /v1/chat/completions` with a short completion, the stand-in reads the input
//! and answers "not flagged".

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::load::{self, LoadResult, Op};
use super::processes;
use super::scenarios::{latency, Row, AUTH_CONNECTIONS};

async fn completion(axum::Json(_): axum::Json<Value>) -> axum::Json<Value> {
    axum::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Hello" },
                      "finish_reason": "stop" }]
    }))
}

async fn moderation(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    let inputs = match &body["input"] {
        Value::Array(items) => items.len(),
        _ => 1,
    };
    let results: Vec<Value> = (0..inputs)
        .map(|_| json!({ "flagged": false, "categories": {}, "category_scores": {} }))
        .collect();
    axum::Json(json!({ "id": "modr-1", "model": "omni-moderation-latest", "results": results }))
}

fn chat(client: &reqwest::Client, url: String, token: String) -> Op {
    let client = client.clone();
    let body = json!({ "model": "test", "messages": [
        { "role": "system", "content": "You are brief." },
        { "role": "user", "content": "Say hello, please." }
    ] });
    Arc::new(move |_| {
        let request = client.post(&url).bearer_auth(&token).json(&body);
        Box::pin(async move { request.send().await.is_ok_and(|r| r.status().is_success()) })
    })
}

pub async fn rows(
    binary: &std::path::Path,
    client: &reqwest::Client,
    token: &str,
    d: Duration,
) -> anyhow::Result<Vec<Row>> {
    let app = Router::new()
        .route("/v1/chat/completions", post(completion))
        .route("/v1/moderations", post(moderation));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let local = format!("http://{}", listener.local_addr()?);
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let stand_in = format!("{local}/v1/moderations");

    let measure = |extra: Vec<(&'static str, String)>| {
        let local = local.clone();
        async move {
            let dir = tempfile::tempdir()?;
            let db = format!("sqlite://{}/bouncer.db", dir.path().display());
            let mut vars: Vec<(&str, &str)> = vec![("UPSTREAM_URL", local.as_str())];
            vars.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            let proxy = processes::start_bouncer_with(
                binary,
                dir.path(),
                &db,
                processes::free_port(),
                &vars,
            )
            .await?;
            let url = format!("{}/v1/chat/completions", proxy.base);
            let result = load::run(AUTH_CONNECTIONS, d, chat(client, url, token.to_string())).await;
            drop(proxy);
            anyhow::Ok(result)
        }
    };
    let plain: LoadResult = measure(Vec::new()).await?;
    let moderated: LoadResult = measure(vec![
        ("OPENAI_MODERATION", "true".into()),
        ("OPENAI_MODERATION_REVERSE_PROXY", stand_in.clone()),
        ("OPENAI_MODERATION_API_KEY", "sk-bench".into()),
    ])
    .await?;
    served.abort();
    Ok(vec![Row {
        scenario: format!(
            "gateway chat message `POST /v1/chat/completions` with content moderation (local stand-in), {AUTH_CONNECTIONS} connections"
        ),
        bouncer: format!(
            "{}; adds p50 {:.2} ms",
            latency(&moderated),
            moderated.quantile_ms(0.5) - plain.quantile_ms(0.5)
        ),
        limit: format!("the same messages, moderation off: {}", latency(&plain)),
        ratio: Some(moderated.rate() / plain.rate()),
        // A run where the moderated messages failed has no number.
        value: if moderated.failed == 0 && plain.failed == 0 {
            moderated.rate()
        } else {
            0.0
        },
    }])
}
