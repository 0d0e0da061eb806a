//! SIGTERM to the real binary: it stops accepting at once, lets the request in flight finish,
//! sends the mail it had promised, stores the audit events of what it answered, and exits 0.
//! The backend and the mail server are held behind gates the test opens only once the
//! shutdown has visibly begun, so each of those can only succeed if the drain waits for it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use crate::binary::start;
use crate::helpers::poll_for;
use crate::mail_peers::SmtpPeer;

/// A gate: connections wait at it until it is opened.
#[derive(Clone)]
struct Gate(watch::Sender<bool>);

impl Gate {
    fn new() -> Self {
        Self(watch::channel(false).0)
    }

    fn open(&self) {
        self.0.send_replace(true);
    }

    async fn passed(&self) {
        let mut open = self.0.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

/// A backend that reads a request, says so, waits for the gate, then answers `200 ok`.
async fn held_backend(gate: Gate, arrived: Arc<Notify>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (gate, arrived) = (gate.clone(), arrived.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                arrived.notify_one();
                gate.passed().await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    port
}

/// A relay in front of the real SMTP peer that holds each connection at the gate first.
async fn held_relay(gate: Gate, smtp_port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.passed().await;
                if let Ok(mut server) = TcpStream::connect(("127.0.0.1", smtp_port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_drains_mail_and_the_audit_log() {
    let mut smtp = SmtpPeer::start().await;
    let (backend_gate, mail_gate) = (Gate::new(), Gate::new());
    let arrived = Arc::new(Notify::new());
    let backend = held_backend(backend_gate.clone(), arrived.clone()).await;
    let relay = held_relay(mail_gate.clone(), smtp.port).await;

    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("http://127.0.0.1:{backend}");
    let relay = relay.to_string();
    let running = start(
        dir.path(),
        &[
            ("ALLOW_REGISTRATION", "true"),
            ("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true"),
            ("UPSTREAM_URL", &upstream),
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", &relay),
            ("EMAIL_FROM", "noreply@bouncer.test"),
            ("DOMAIN_CLIENT", "http://chat.test"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{}/api/auth/register", running.base))
        .json(&json!({
            "name": "Ada Lovelace", "email": "ada@example.com",
            "password": "correct horse battery", "confirm_password": "correct horse battery"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status(),
        200,
        "the verification mail is promised"
    );
    let login = client
        .post(format!("{}/api/auth/login", running.base))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // A chat request reaches the backend and is held there.
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), running.base.clone());
        async move {
            client
                .get(format!("{base}/api/convos"))
                .bearer_auth(token)
                .send()
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(30), arrived.notified())
        .await
        .expect("the request reaches the backend");

    // SIGTERM; the shutdown has begun once new connections are refused.
    let base = running.base.clone();
    let stopping = tokio::task::spawn_blocking(move || running.stop());
    let refused = poll_for(600, Duration::from_millis(50), || {
        let url = format!("{base}/healthz");
        async move {
            match reqwest::Client::new().get(url).send().await {
                Err(e) if e.is_connect() => Some(()),
                _ => None,
            }
        }
    })
    .await;
    assert!(refused.is_some(), "the listener closes at SIGTERM");

    // Now the held work may go on; each finishes only because the process waits for it.
    backend_gate.open();
    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok");
    mail_gate.open();
    let log = stopping.await.unwrap();
    let mail = smtp.next_message().await;
    assert_eq!(mail["rcpt_tos"], json!(["ada@example.com"]), "{log}");

    // What was answered is in the audit log, written before the database closed.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("data/bouncer.db").display()
    ))
    .await
    .unwrap();
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM audit_events ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(
        kinds.iter().any(|k| k == "registered") && kinds.iter().any(|k| k == "sign_in.succeeded"),
        "{kinds:?}"
    );
    assert!(log.contains("bouncer stopped"), "{log}");
}

#[tokio::test]
async fn a_request_that_outlasts_shutdown_timeout_does_not_hold_the_stop_forever() {
    let gate = Gate::new();
    let arrived = Arc::new(Notify::new());
    let backend = held_backend(gate, arrived.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("http://127.0.0.1:{backend}");
    let running = start(
        dir.path(),
        &[
            ("ALLOW_REGISTRATION", "true"),
            ("UPSTREAM_URL", &upstream),
            ("SHUTDOWN_TIMEOUT", "500"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let body = json!({
        "name": "Ada Lovelace", "email": "ada@example.com",
        "password": "correct horse battery", "confirm_password": "correct horse battery"
    });
    let registered = client
        .post(format!("{}/api/auth/register", running.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);
    let login = client
        .post(format!("{}/api/auth/login", running.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), running.base.clone());
        async move {
            client
                .get(format!("{base}/api/convos"))
                .bearer_auth(token)
                .send()
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(30), arrived.notified())
        .await
        .expect("the request reaches the backend");

    // The backend never answers; the stop still ends, exit 0, and says what it cut short.
    let stopping = tokio::task::spawn_blocking(move || running.stop());
    let log = tokio::time::timeout(Duration::from_secs(120), stopping)
        .await
        .expect("the stop ends despite the request held at the backend")
        .unwrap();
    assert!(log.contains("SHUTDOWN_TIMEOUT"), "{log}");
    assert!(log.contains("bouncer stopped"), "{log}");
    assert!(
        in_flight.await.unwrap().is_err(),
        "the held request's connection was closed"
    );
}
