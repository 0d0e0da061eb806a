//! Class: connection exhaustion by slow or half-sent requests. A client must send its request
//! head within `HEADER_READ_TIMEOUT`, an idle keep-alive connection is closed after
//! `KEEP_ALIVE_TIMEOUT`, and no more than `MAX_CONNECTIONS` are served at once, so holding
//! connections open costs an attacker a steady effort and cannot lock others out.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::request_bodies::RawConnection;
use crate::helpers::*;
use crate::upstream_peer::Upstream;

const HALF_SENT: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: bouncer\r\nX-Slow: ";
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: bouncer\r\n\r\n";

/// Class: connection exhaustion by half-sent requests. Whether the head stalls at once or
/// trickles in, the connection ends once the head deadline passes.
#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(&[("HEADER_READ_TIMEOUT", "300")]).await;
    let mut stalled = RawConnection::open(&app).await;
    stalled.send(HALF_SENT).await;
    let answer = stalled.until_closed().await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // One byte at a time, each well within the deadline: the deadline is for the whole head,
    // not for each read.
    let mut trickling = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    trickling.write_all(HALF_SENT).await.unwrap();
    let guard = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = trickling.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            },
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                let _ = trickling.write_all(b"a").await;
            }
            _ = tokio::time::sleep_until(guard) => panic!("a trickled head was never cut off"),
        }
    }
}

/// Class: connection exhaustion by idle keep-alive connections. A connection that has had its
/// answer and sends nothing more is closed after `KEEP_ALIVE_TIMEOUT` (far below the head
/// deadline here, so this is the idle timer at work).
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(&[
        ("HEADER_READ_TIMEOUT", "1000 * 60"),
        ("KEEP_ALIVE_TIMEOUT", "300"),
    ])
    .await;
    let mut conn = RawConnection::open(&app).await;
    for _ in 0..2 {
        conn.send(HEALTHZ).await;
        let response = conn.response().await.unwrap();
        assert_eq!(response.status, 200);
        assert!(!response.closes(), "kept alive between requests");
    }
    assert_eq!(conn.until_closed().await, "");
}

/// Class: connection exhaustion. At `MAX_CONNECTIONS`, a further connection waits (in the
/// accept backlog) and is served as soon as a slot frees.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = spawn_app_with(&[
        ("MAX_CONNECTIONS", "20"),
        ("HEADER_READ_TIMEOUT", "1000 * 60"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut conn = RawConnection::open(&app).await;
        conn.send(HALF_SENT).await;
        held.push(conn);
    }
    // Every slot is taken once each held connection has been accepted; one answer on a held
    // connection proves they all were (they are accepted in order).
    let mut last = held.pop().unwrap();
    last.send(b"x\r\n\r\n").await;
    assert_eq!(last.response().await.unwrap().status, 200);
    // `last` is now idle keep-alive and still holds its slot.
    let mut waiting = RawConnection::open(&app).await;
    waiting.send(HEALTHZ).await;
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.response()).await;
    assert!(
        early.is_err(),
        "the 21st connection was served while 20 were open"
    );
    drop(held.pop());
    let response = waiting.response().await.expect("served once a slot freed");
    assert_eq!(response.status, 200);
}

/// Class: connection exhaustion by half-sent requests. With the cap filled twice over by
/// half-open connections, a health check from a new client still gets its answer: the head
/// deadline frees the slots.
#[tokio::test]
async fn healthz_answers_while_half_open_connections_fill_the_cap() {
    let app = spawn_app_with(&[("MAX_CONNECTIONS", "20"), ("HEADER_READ_TIMEOUT", "300")]).await;
    let mut held = Vec::new();
    for _ in 0..40 {
        let mut conn = RawConnection::open(&app).await;
        conn.send(HALF_SENT).await;
        held.push(conn);
    }
    let health = tokio::time::timeout(
        Duration::from_secs(10),
        app.bare.get(app.url("/healthz")).send(),
    )
    .await
    .expect("/healthz answers within the guard")
    .unwrap();
    assert_eq!(health.status(), 200);
    for mut conn in held {
        conn.until_closed().await;
    }
}

/// Class: connection exhaustion. The timeouts are about reading request heads and idle time:
/// a long SSE answer through the gateway runs past both and is not cut.
#[tokio::test]
async fn a_long_stream_outlives_the_connection_timeouts() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&[
        ("UPSTREAM_URL", upstream.url.as_str()),
        ("HEADER_READ_TIMEOUT", "300"),
    ])
    .await;
    let s = app.signed_in_user("ada@example.com").await;
    let mut stream = app
        .bare
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&s.token)
        .header("Accept", "text/event-stream")
        .json(&json!({ "model": "test", "stream": true, "messages": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("Hello"));
    // A connection opened now is closed by the timeouts; the stream, opened before it, is
    // still running afterwards.
    let mut idle = RawConnection::open(&app).await;
    idle.until_closed().await;
    upstream.gate.add_permits(1);
    let mut rest = String::new();
    while let Some(c) = stream.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(rest.contains("world") && rest.contains("[DONE]"), "{rest}");
}
