//! What the reverse proxy checks inside a chat message (content moderation through an
//! OpenAI-compatible moderation API, the models an endpoint may name), and the account
//! deletion that goes on to the chat backend. Through the gateway with the real upstream of
//! `upstream_peer.rs`; the moderation API is a stand-in started here that flags chosen words
//! and can be made slow or be absent (OpenAI itself cannot be reached from the tests).

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::upstream_peer::Upstream;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
/// The word the stand-in flags.
const FLAGGED: &str = "forbidden-word";

/// A moderation request as the stand-in got it: its body and its Authorization header.
type Seen = (Value, Option<String>);

/// A moderation API: `{"results":[{"flagged":...}]}` for each input, flagged when it contains
/// `FLAGGED`; it waits `delay_ms` before answering.
struct StandIn {
    url: String,
    hits: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    /// The last request's body and Authorization header.
    last: Arc<Mutex<Option<Seen>>>,
}

#[derive(Clone)]
struct StandInState {
    hits: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    last: Arc<Mutex<Option<Seen>>>,
}

async fn moderate(
    axum::extract::State(s): axum::extract::State<StandInState>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    *s.last.lock().unwrap() = Some((body.clone(), auth));
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect(),
        other => panic!("input is a string or an array of strings: {other}"),
    };
    let results: Vec<Value> = inputs
        .iter()
        .map(|i| json!({ "flagged": i.contains(FLAGGED), "categories": {}, "category_scores": {} }))
        .collect();
    axum::Json(json!({ "id": "modr-1", "model": "omni-moderation-latest", "results": results }))
}

impl StandIn {
    async fn start() -> Self {
        let state = StandInState {
            hits: Arc::default(),
            delay_ms: Arc::default(),
            last: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/v1/moderations", axum::routing::post(moderate))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/moderations", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            hits: state.hits,
            delay_ms: state.delay_ms,
            last: state.last,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn last_input(&self) -> Value {
        self.last.lock().unwrap().clone().unwrap().0["input"].clone()
    }
}

/// An address where nothing listens.
async fn nothing_listening() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1/moderations")
}

async fn gateway(upstream_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("UPSTREAM_URL", upstream_url)];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

async fn moderated(upstream: &Upstream, stand_in: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("OPENAI_MODERATION", "true"),
        ("OPENAI_MODERATION_REVERSE_PROXY", stand_in),
        ("OPENAI_MODERATION_API_KEY", "sk-moderation-test"),
    ];
    vars.extend_from_slice(extra);
    gateway(&upstream.url, &vars).await
}

/// A LibreChat chat message (the echo route of the upstream answers it with what it got).
async fn ask(app: &TestApp, token: &str, body: &Value, stream: bool) -> reqwest::Response {
    let mut request = app
        .bare
        .post(app.url("/api/agents/chat/openAI"))
        .bearer_auth(token)
        .header("User-Agent", BROWSER)
        .json(body);
    if stream {
        request = request.header("Accept", "text/event-stream");
    }
    request.send().await.unwrap()
}

/// The SSE events of a body: (event, data).
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = String::new();
            let mut data = Value::Null;
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn librechat_messages_are_moderated_before_the_upstream_sees_them() {
    let upstream = Upstream::start().await;
    let stand_in = StandIn::start().await;
    let app = moderated(&upstream, &stand_in.url, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;

    // Passing: forwarded byte for byte, after the stand-in saw the text with the key.
    let body = json!({ "text": "hello there", "endpoint": "openAI", "model": "gpt-4o",
                       "conversationId": "c1", "parentMessageId": "p1", "messageId": "m1" });
    let passed = ask(&app, &s.token, &body, false).await;
    assert_eq!(passed.status(), 200);
    let echoed: Value = passed.json().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(echoed["_body"].as_str().unwrap()).unwrap(),
        body
    );
    assert_eq!(stand_in.last_input(), "hello there");
    assert_eq!(
        stand_in.last.lock().unwrap().clone().unwrap().1.as_deref(),
        Some("Bearer sk-moderation-test")
    );
    assert_eq!(upstream.hits(), 1);

    // Flagged: refused here, never forwarded.
    let flagged = json!({ "text": format!("please {FLAGGED}"), "conversationId": "c1",
                          "parentMessageId": "p1", "messageId": "m2" });
    let refused = ask(&app, &s.token, &flagged, false).await;
    assert_eq!(refused.status(), 403);
    let refusal: Value = refused.json().await.unwrap();
    assert_eq!(refusal["type"], "moderation");
    assert_eq!(
        refusal["message"],
        "Your message was flagged by content moderation."
    );
    assert_eq!(
        upstream.hits(),
        1,
        "a flagged message never reaches the upstream"
    );

    // A stream client gets LibreChat's denyRequest: its message echoed, then the error.
    let refused = ask(&app, &s.token, &flagged, true).await;
    assert_eq!(refused.status(), 200);
    assert_eq!(refused.headers()["content-type"], "text/event-stream");
    let frames = events(&refused.text().await.unwrap());
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].0, "message");
    assert_eq!(frames[0].1["created"], true);
    assert_eq!(frames[0].1["message"]["messageId"], "m2");
    assert_eq!(frames[0].1["message"]["isCreatedByUser"], true);
    assert_eq!(frames[0].1["message"]["text"], flagged["text"]);
    assert_eq!(frames[1].0, "error");
    assert_eq!(frames[1].1["text"], r#"{"type":"moderation"}"#);
    assert_eq!(frames[1].1["error"], true);
    assert_eq!(frames[1].1["final"], true);
    assert_eq!(frames[1].1["conversationId"], "c1");
    assert_eq!(frames[1].1["parentMessageId"], "m2");

    // Quotes are moderated, alone and merged with the text, as LibreChat sends them.
    let quoted = json!({ "text": "what about this?", "quotes": [format!("they said {FLAGGED}")] });
    assert_eq!(ask(&app, &s.token, &quoted, false).await.status(), 403);
    assert_eq!(
        stand_in.last_input(),
        json!([
            "what about this?",
            format!("they said {FLAGGED}"),
            format!("> they said {FLAGGED}\n\nwhat about this?")
        ])
    );
    // An ask-user resume's answers and a tool decision's texts too.
    let answers = json!({ "answers": { "q1": "fine", "q2": FLAGGED } });
    assert_eq!(ask(&app, &s.token, &answers, false).await.status(), 403);
    let decision = json!({ "decisions": [{ "type": "reject", "reason": FLAGGED }] });
    assert_eq!(ask(&app, &s.token, &decision, false).await.status(), 403);
    // Nothing typed: nothing asked, and the message goes on.
    let asked = stand_in.hits();
    let approval = json!({ "decisions": [{ "type": "approve" }] });
    assert_eq!(ask(&app, &s.token, &approval, false).await.status(), 200);
    assert_eq!(stand_in.hits(), asked);
    assert_eq!(upstream.hits(), 2);

    // Not a message route: not read, not moderated.
    let other = app
        .bare
        .post(app.url("/api/convos/update"))
        .bearer_auth(&s.token)
        .json(&json!({ "text": FLAGGED }))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(stand_in.hits(), asked);
}

#[tokio::test]
async fn flagged_messages_score_moderation_violations_and_ban() {
    let upstream = Upstream::start().await;
    let stand_in = StandIn::start().await;
    let app = moderated(
        &upstream,
        &stand_in.url,
        &[("BAN_INTERVAL", "4"), ("MODERATION_VIOLATION_SCORE", "2")],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let flagged = json!({ "text": FLAGGED });
    assert_eq!(ask(&app, &s.token, &flagged, false).await.status(), 403);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bans", &[]).await,
        0,
        "score 2 of 4"
    );
    let second = ask(&app, &s.token, &flagged, false).await;
    assert_eq!(second.status(), 403);
    assert_eq!(second.json::<Value>().await.unwrap()["type"], "moderation");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM bans WHERE kind = 'user' AND subject = $1 AND violation_type = 'moderation'",
            &[&s.user_id],
        )
        .await,
        1,
        "the second flag brings the score to BAN_INTERVAL"
    );
    let hits = upstream.hits();
    let banned = ask(&app, &s.token, &json!({ "text": "hello" }), false).await;
    assert_eq!(banned.status(), 403);
    assert_eq!(
        banned.json::<Value>().await.unwrap()["message"],
        "Your account has been temporarily banned due to violations of our service."
    );
    assert_eq!(upstream.hits(), hits);
}

#[tokio::test]
async fn openai_messages_are_moderated_every_text_the_client_wrote() {
    let upstream = Upstream::start().await;
    upstream.gate.add_permits(100);
    let stand_in = StandIn::start().await;
    let app = moderated(&upstream, &stand_in.url, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let chat = |messages: Value| {
        app.bare
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&s.token)
            .json(&json!({ "model": "test", "stream": true, "messages": messages }))
            .send()
    };
    let passing = chat(json!([
        { "role": "system", "content": "be brief" },
        { "role": "user", "content": [{ "type": "text", "text": "hello" },
                                       { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } }] }
    ]))
    .await
    .unwrap();
    assert_eq!(passing.status(), 200);
    assert!(passing.text().await.unwrap().contains("[DONE]"));
    assert_eq!(stand_in.last_input(), json!(["be brief", "hello"]));
    assert_eq!(upstream.hits(), 1);

    for messages in [
        json!([{ "role": "user", "content": format!("say {FLAGGED}") }]),
        json!([{ "role": "user", "content": [{ "type": "text", "text": FLAGGED }] }]),
        // Every role: an API client writes the whole conversation.
        json!([{ "role": "assistant", "content": FLAGGED }, { "role": "user", "content": "go on" }]),
    ] {
        let refused = chat(messages).await.unwrap();
        assert_eq!(refused.status(), 403);
        assert_eq!(refused.json::<Value>().await.unwrap()["type"], "moderation");
    }
    // The Responses API's input.
    let responses = app
        .bare
        .post(app.url("/v1/responses"))
        .bearer_auth(&s.token)
        .json(&json!({ "model": "test", "input": [{ "role": "user", "content": [{ "type": "input_text", "text": FLAGGED }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(responses.status(), 403);
    assert_eq!(
        upstream.hits(),
        1,
        "no refused message reached the upstream"
    );

    // A stream client reading SSE gets the frames instead.
    let sse = app
        .bare
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&s.token)
        .header("Accept", "text/event-stream")
        .json(&json!({ "model": "test", "stream": true, "messages": [{ "role": "user", "content": FLAGGED }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let frames = events(&sse.text().await.unwrap());
    assert_eq!(frames.last().unwrap().0, "error");
    assert_eq!(frames.last().unwrap().1["text"], r#"{"type":"moderation"}"#);
}

#[tokio::test]
async fn the_openai_python_client_is_refused_a_flagged_message() {
    let upstream = Upstream::start().await;
    upstream.gate.add_permits(100);
    let stand_in = StandIn::start().await;
    let app = moderated(&upstream, &stand_in.url, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/openai/moderated_chat.py");
    let run = |text: &str| {
        let command = tokio::process::Command::new(crate::mail_peers::python())
            .arg(&script)
            .arg(app.url("/v1"))
            .arg(&s.token)
            .arg(text)
            .output();
        async move {
            let out = command.await.unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    assert_eq!(run("Say hello").await, "REPLY:Hello world");
    assert_eq!(
        run(&format!("Say {FLAGGED}")).await,
        "ERROR:PermissionDeniedError:403:Your message was flagged by content moderation."
    );
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_slow_or_absent_moderation_api_fails_closed_or_open_as_configured() {
    let upstream = Upstream::start().await;
    let stand_in = StandIn::start().await;
    // Slower than the timeout, which is small: the request is answered at the timeout.
    stand_in.delay_ms.store(10_000, Ordering::SeqCst);
    let absent = nothing_listening().await;
    for (url, why) in [(stand_in.url.as_str(), "slow"), (absent.as_str(), "down")] {
        let closed = moderated(&upstream, url, &[("OPENAI_MODERATION_TIMEOUT", "200")]).await;
        let s = closed.signed_in_user("ada@example.com").await;
        let hits = upstream.hits();
        let refused = ask(&closed, &s.token, &json!({ "text": "hello" }), false).await;
        assert_eq!(refused.status(), 503, "{why}, closed (the default)");
        assert_eq!(
            refused.json::<Value>().await.unwrap()["message"],
            "error in moderation check"
        );
        let sse = ask(&closed, &s.token, &json!({ "text": "hello" }), true).await;
        assert_eq!(sse.status(), 200);
        let frames = events(&sse.text().await.unwrap());
        assert_eq!(frames[1].1["text"], "error in moderation check", "{why}");
        assert_eq!(upstream.hits(), hits, "{why}: nothing went upstream");
        assert_eq!(
            closed.count("SELECT COUNT(*) FROM bans", &[]).await,
            0,
            "a failed check is no violation"
        );

        let open = moderated(
            &upstream,
            url,
            &[
                ("OPENAI_MODERATION_TIMEOUT", "200"),
                ("OPENAI_MODERATION_FAIL", "open"),
            ],
        )
        .await;
        let s = open.signed_in_user("ada@example.com").await;
        let through = ask(&open, &s.token, &json!({ "text": "hello" }), false).await;
        assert_eq!(through.status(), 200, "{why}, open");
        assert_eq!(upstream.hits(), hits + 1, "{why}: went on unchecked");
    }

    // An answer that is not a moderation result counts as a failure too.
    let upstream_as_moderation = format!("{}/not-moderation", upstream.url);
    let app = moderated(&upstream, &upstream_as_moderation, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let refused = ask(&app, &s.token, &json!({ "text": "hello" }), false).await;
    assert_eq!(refused.status(), 503);
}

#[tokio::test]
async fn bodies_are_bounded_and_must_be_json_while_checks_are_on() {
    let upstream = Upstream::start().await;
    let stand_in = StandIn::start().await;
    let app = moderated(&upstream, &stand_in.url, &[("CHAT_BODY_MAX", "2048")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let big = json!({ "text": "a".repeat(4096) });
    let refused = ask(&app, &s.token, &big, false).await;
    assert_eq!(refused.status(), 413);
    assert!(refused.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("CHAT_BODY_MAX"));
    // Without a declared length (chunked): the same bound, counted as it arrives.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"text\":\"".to_vec()),
        Ok(vec![b'a'; 4096]),
        Ok(b"\"}".to_vec()),
    ];
    let chunked = app
        .bare
        .post(app.url("/api/agents/chat/openAI"))
        .bearer_auth(&s.token)
        .header("User-Agent", BROWSER)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 413);
    // Under the bound, chunked: read whole and forwarded.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(b"{\"text\":".to_vec()), Ok(b"\"hi\"}".to_vec())];
    let small = app
        .bare
        .post(app.url("/api/agents/chat/openAI"))
        .bearer_auth(&s.token)
        .header("User-Agent", BROWSER)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    let echoed: Value = small.json().await.unwrap();
    assert_eq!(echoed["_body"], r#"{"text":"hi"}"#);
    // Not a JSON object: refused, not passed unchecked.
    for body in [
        "text=forbidden-word",
        "[\"forbidden-word\"]",
        "{\"text\":",
        // Which of two keys counts differs between parsers: refused.
        "{\"text\":\"hi\",\"text\":\"forbidden-word\"}",
    ] {
        let refused = app
            .bare
            .post(app.url("/api/agents/chat/openAI"))
            .bearer_auth(&s.token)
            .header("User-Agent", BROWSER)
            .header("Content-Type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{body}");
    }
    assert_eq!(upstream.hits(), 1);

    // With both checks off, nothing is read: the same big body streams to the upstream.
    let plain = gateway(&upstream.url, &[("CHAT_BODY_MAX", "2048")]).await;
    let s = plain.signed_in_user("ada@example.com").await;
    assert_eq!(ask(&plain, &s.token, &big, false).await.status(), 200);
}

#[tokio::test]
async fn models_outside_an_endpoints_list_are_refused_and_scored() {
    let upstream = Upstream::start().await;
    let app = gateway(
        &upstream.url,
        &[
            (
                "ALLOWED_MODELS",
                "openAI=gpt-4o|gpt-4o-mini;anthropic=claude-3-5-sonnet",
            ),
            ("ILLEGAL_MODEL_REQ_SCORE", "10"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let body = |endpoint: &str, model: Value| json!({ "text": "hi", "endpoint": endpoint, "model": model });
    assert_eq!(
        ask(&app, &s.token, &body("openAI", json!("gpt-4o")), false)
            .await
            .status(),
        200
    );
    assert_eq!(
        ask(
            &app,
            &s.token,
            &body("anthropic", json!("claude-3-5-sonnet")),
            false
        )
        .await
        .status(),
        200
    );
    // An endpoint without a list is not checked.
    assert_eq!(
        ask(&app, &s.token, &body("google", json!("gemini")), false)
            .await
            .status(),
        200
    );
    assert_eq!(upstream.hits(), 3);

    for (model, status, message) in [
        (Value::Null, 400, "Model not provided"),
        (json!(""), 400, "Model not provided"),
        (json!(" gpt-4o"), 400, "Invalid model identifier"),
        (json!("gpt 4o"), 400, "Invalid model identifier"),
        (json!("gpt-5"), 403, "Illegal model request"),
    ] {
        let refused = ask(&app, &s.token, &body("openAI", model.clone()), false).await;
        assert_eq!(refused.status(), status, "{model}");
        let refusal: Value = refused.json().await.unwrap();
        assert_eq!(refusal["message"], message, "{model}");
    }
    // Stopping a generation names no model, and is not checked.
    let abort = app
        .bare
        .post(app.url("/api/agents/chat/abort"))
        .bearer_auth(&s.token)
        .header("User-Agent", BROWSER)
        .json(&json!({ "endpoint": "openAI", "conversationId": "c1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(abort.status(), 200);
    assert_eq!(upstream.hits(), 4);
    // On a stream, LibreChat's handleError frame.
    let sse = ask(
        &app,
        &s.token,
        &body("anthropic", json!("claude-opus")),
        true,
    )
    .await;
    assert_eq!(sse.status(), 200);
    assert_eq!(
        sse.text().await.unwrap(),
        "event: error\ndata: {\"text\":\"Illegal model request\"}\n\n"
    );
    assert_eq!(
        upstream.hits(),
        4,
        "no refused request reached the upstream"
    );
    // Two illegal requests of score 10: the score crosses BAN_INTERVAL (20).
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM bans WHERE kind = 'user' AND violation_type = 'illegal_model_request'",
            &[],
        )
        .await,
        1
    );
    assert_eq!(
        ask(&app, &s.token, &body("openAI", json!("gpt-4o")), false)
            .await
            .status(),
        403,
        "banned"
    );
}

/// A chat backend with a model list and an account deletion whose answer the test picks.
struct Backend {
    url: String,
    models: Arc<Mutex<Vec<String>>>,
    /// How many times `GET /v1/models` was answered.
    lists_served: Arc<AtomicU16>,
    delete_status: Arc<AtomicU16>,
    /// Requests that reached it (other than `GET /v1/models`), with their headers.
    seen: Arc<Mutex<Vec<(String, HeaderMap, String)>>>,
}

#[derive(Clone)]
struct BackendState {
    models: Arc<Mutex<Vec<String>>>,
    lists_served: Arc<AtomicU16>,
    delete_status: Arc<AtomicU16>,
    seen: Arc<Mutex<Vec<(String, HeaderMap, String)>>>,
}

impl Backend {
    async fn start(models: &[&str]) -> Self {
        let state = BackendState {
            models: Arc::new(Mutex::new(models.iter().map(|m| m.to_string()).collect())),
            lists_served: Arc::default(),
            delete_status: Arc::new(AtomicU16::new(200)),
            seen: Arc::default(),
        };
        async fn list(
            axum::extract::State(s): axum::extract::State<BackendState>,
        ) -> axum::Json<Value> {
            let data: Vec<Value> = s
                .models
                .lock()
                .unwrap()
                .iter()
                .map(|id| json!({ "id": id, "object": "model", "owned_by": "test" }))
                .collect();
            s.lists_served.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({ "object": "list", "data": data }))
        }
        async fn any(
            axum::extract::State(s): axum::extract::State<BackendState>,
            method: axum::http::Method,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: String,
        ) -> axum::response::Response {
            s.seen
                .lock()
                .unwrap()
                .push((format!("{method} {uri}"), headers, body));
            if method == axum::http::Method::DELETE {
                let status = StatusCode::from_u16(s.delete_status.load(Ordering::SeqCst)).unwrap();
                return (
                    status,
                    axum::Json(json!({ "message": format!("backend says {status}") })),
                )
                    .into_response();
            }
            axum::Json(json!({ "ok": true })).into_response()
        }
        let app = axum::Router::new()
            .route("/v1/models", axum::routing::get(list))
            .fallback(any)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            models: state.models,
            lists_served: state.lists_served,
            delete_status: state.delete_status,
            seen: state.seen,
        }
    }

    fn seen(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[tokio::test]
async fn the_v1_routes_may_name_only_the_upstreams_models_read_at_start_and_refreshed() {
    let backend = Backend::start(&["test-model", "other-model"]).await;
    let app = gateway(
        &backend.url,
        &[
            ("ALLOWED_MODELS_FROM_UPSTREAM", "true"),
            ("ALLOWED_MODELS_REFRESH", "1000"),
        ],
    )
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let chat = |model: &str| {
        app.bare
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&s.token)
            .json(&json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] }))
            .send()
    };
    assert_eq!(chat("test-model").await.unwrap().status(), 200);
    let refused = chat("gpt-4o").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["type"],
        "illegal_model_request"
    );
    assert_eq!(backend.seen(), 1);
    // LibreChat's own routes are not the upstream list's business.
    let librechat = ask(
        &app,
        &s.token,
        &json!({ "endpoint": "openAI", "model": "gpt-4o", "text": "hi" }),
        false,
    )
    .await;
    assert_eq!(librechat.status(), 200);

    // The list is read again: a model added upstream becomes usable, a removed one not.
    // Refreshes run one after another, so once a second read has begun after the change, the
    // first one's answer is in force. (Polling with chat requests instead would score each
    // refusal and ban the user before the refresh on a slow machine.)
    *backend.models.lock().unwrap() = vec!["new-model".into()];
    let read_before = backend.lists_served.load(Ordering::SeqCst);
    let refreshed =
        eventually(|| async { backend.lists_served.load(Ordering::SeqCst) >= read_before + 2 })
            .await;
    assert!(refreshed, "the upstream's list is read again");
    assert_eq!(chat("new-model").await.unwrap().status(), 200);
    assert_eq!(chat("test-model").await.unwrap().status(), 403);
}

#[tokio::test]
async fn an_upstream_without_a_model_list_refuses_until_one_is_read() {
    // The Upstream peer answers GET /v1/models with no list: "Models not loaded", 503.
    let upstream = Upstream::start().await;
    let app = gateway(&upstream.url, &[("ALLOWED_MODELS_FROM_UPSTREAM", "true")]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let refused = app
        .bare
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&s.token)
        .json(&json!({ "model": "test", "messages": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["message"],
        "Models not loaded"
    );
}

async fn delete(app: &TestApp, token: &str) -> reqwest::Response {
    app.bare
        .delete(app.url("/api/user/delete"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn account_deletion_goes_to_the_backend_first_and_happens_here_only_if_it_succeeded() {
    let backend = Backend::start(&[]).await;
    let app = gateway(&backend.url, &[]).await;
    app.signed_in_user("admin@example.com").await;
    let s = app.signed_in_user("ada@example.com").await;
    let users = || {
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            &["ada@example.com"],
        )
    };

    // The backend fails: the account stays whole here, the client hears the backend.
    backend.delete_status.store(500, Ordering::SeqCst);
    let failed = delete(&app, &s.token).await;
    assert_eq!(failed.status(), 500);
    assert_eq!(
        failed.json::<Value>().await.unwrap()["message"],
        "backend says 500 Internal Server Error"
    );
    assert_eq!(users().await, 1);
    assert_eq!(
        app.get_user(&s.token).await.status(),
        200,
        "the session lives on"
    );
    {
        let seen = backend.seen.lock().unwrap();
        let (what, headers, _) = seen.last().unwrap();
        assert_eq!(what, "DELETE /api/user/delete");
        assert_eq!(headers["x-auth-user-id"], s.user_id.as_str());
        assert_eq!(
            headers["authorization"],
            format!("Bearer {}", s.token).as_str(),
            "LibreChat checks Bouncer's token itself"
        );
    }

    // The backend deletes: then Bouncer does.
    backend.delete_status.store(200, Ordering::SeqCst);
    let deleted = delete(&app, &s.token).await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        deleted.json::<Value>().await.unwrap()["message"],
        "User deleted"
    );
    assert_eq!(users().await, 0);
    assert_eq!(app.get_user(&s.token).await.status(), 401);
    assert_eq!(backend.seen(), 2);

    // Bouncer's own refusals stop it before the backend hears of it.
    let refused = app
        .bare
        .delete(app.url("/api/user/delete"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(backend.seen(), 2);
}

#[tokio::test]
async fn an_unreachable_backend_keeps_the_account() {
    let absent = nothing_listening().await;
    let origin = absent.trim_end_matches("/v1/moderations");
    let app = gateway(origin, &[]).await;
    let s = app.signed_in_user("ada@example.com").await;
    let failed = delete(&app, &s.token).await;
    assert_eq!(failed.status(), 502);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            &["ada@example.com"]
        )
        .await,
        1
    );
    assert_eq!(app.get_user(&s.token).await.status(), 200);
}
