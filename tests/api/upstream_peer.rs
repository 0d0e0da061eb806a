//! A chat backend for the gateway tests: an HTTP server that streams OpenAI-style SSE chunks,
//! holding each stream open until the test lets it finish, and that echoes and counts what
//! reaches it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

pub struct Upstream {
    pub url: String,
    /// Requests that reached the upstream.
    pub hits: Arc<AtomicUsize>,
    /// The headers of the last request.
    pub last_headers: Arc<Mutex<Option<HeaderMap>>>,
    /// Each stream sends its first chunk, then waits for a permit here before the rest.
    pub gate: Arc<Semaphore>,
    /// The request targets the echo route received, in order.
    pub targets: Arc<Mutex<Vec<String>>>,
}

fn chunk(text: &str) -> String {
    let data = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "test",
                       "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }] });
    format!("data: {data}\n\n")
}

#[derive(Clone)]
struct State {
    hits: Arc<AtomicUsize>,
    last_headers: Arc<Mutex<Option<HeaderMap>>>,
    gate: Arc<Semaphore>,
    targets: Arc<Mutex<Vec<String>>>,
}

async fn stream(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    *s.last_headers.lock().unwrap() = Some(headers);
    let gate = s.gate.clone();
    let first = futures::stream::once(async { Ok::<_, std::io::Error>(chunk("Hello")) });
    let rest = futures::stream::once(async move {
        gate.acquire().await.unwrap().forget();
        Ok::<_, std::io::Error>(format!("{}data: [DONE]\n\n", chunk(" world")))
    });
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        axum::body::Body::from_stream(first.chain(rest)),
    )
        .into_response()
}

async fn echo(
    axum::extract::State(s): axum::extract::State<State>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    *s.last_headers.lock().unwrap() = Some(headers.clone());
    let mut map: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    // The body and the request target as received, so tests see what went through.
    map.insert("_body".into(), json!(body));
    map.insert("_uri".into(), json!(uri.to_string()));
    s.targets.lock().unwrap().push(uri.to_string());
    axum::Json(Value::Object(map))
}

impl Upstream {
    pub async fn start() -> Self {
        let state = State {
            hits: Arc::default(),
            last_headers: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
            targets: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(stream))
            .route("/api/agents/chat/openAI", axum::routing::post(echo))
            .fallback(echo)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            hits: state.hits,
            last_headers: state.last_headers,
            gate: state.gate,
            targets: state.targets,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
