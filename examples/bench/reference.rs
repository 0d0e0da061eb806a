//! The reference for token-authenticated requests: a minimal axum server that only verifies
//! the same HS256 JWT and answers 200. It runs as a child process of the benchmark (the
//! benchmark's own executable, started with `CHILD_FLAG`), like Bouncer does.

use std::process::ExitCode;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

pub const CHILD_FLAG: &str = "--reference-server";

#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    id: String,
    exp: i64,
}

/// `--reference-server <port> <secret>`
pub fn run_child(args: &[String]) -> ExitCode {
    let (Some(port), Some(secret)) = (args.first(), args.get(1)) else {
        return ExitCode::from(2);
    };
    let key = DecodingKey::from_secret(secret.as_bytes());
    let validation = Validation::new(Algorithm::HS256);
    // GET and POST alike: the gateway's message limiters count POSTs.
    let verify = move |headers: HeaderMap| {
        let key = key.clone();
        let validation = validation.clone();
        async move {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            match token.map(|t| jsonwebtoken::decode::<Claims>(t, &key, &validation)) {
                Some(Ok(_)) => StatusCode::OK,
                _ => StatusCode::UNAUTHORIZED,
            }
        }
    };
    let app = Router::new().route("/verify", get(verify.clone()).post(verify));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
    ExitCode::SUCCESS
}
