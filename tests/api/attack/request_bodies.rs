//! Class: request smuggling / body desync and oversized bodies. A body over the limit of
//! Bouncer's own routes is refused from its declared length, before any of it is read; a
//! response sent while its request body was not read to the end closes the connection, so no
//! byte of that body is ever parsed as a request. Raw TCP, since an HTTP client would hide
//! what happens on the connection.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Bound on every wait for the server, against hangs; never a timing assertion.
const GUARD: Duration = Duration::from_secs(10);

/// One client connection spoken to byte by byte.
pub(super) struct RawConnection {
    stream: TcpStream,
    /// Bytes read but not yet consumed as a response.
    pending: Vec<u8>,
}

pub(super) struct RawResponse {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

impl RawConnection {
    pub async fn open(app: &TestApp) -> Self {
        let address = app.base.trim_start_matches("http://");
        Self {
            stream: TcpStream::connect(address).await.unwrap(),
            pending: Vec::new(),
        }
    }

    /// Sends bytes; the server may already have closed its side (that is what some tests
    /// expect), so a failed write is not an error.
    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Reads more bytes; `false` at the end of the connection.
    async fn fill(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        match tokio::time::timeout(GUARD, self.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            Err(_) => panic!("the server neither answered nor closed within {GUARD:?}"),
        }
    }

    /// The next response (its body read by `Content-Length`), or `None` when the connection
    /// ends first.
    pub async fn response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(i) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8(self.pending[..head_end].to_vec()).unwrap();
        self.pending.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut response = RawResponse {
            status,
            headers,
            body: String::new(),
        };
        let length: usize = response
            .header("content-length")
            .map(|v| v.parse().unwrap())
            .unwrap_or(0);
        while self.pending.len() < length {
            assert!(
                self.fill().await,
                "the connection ended inside a response body"
            );
        }
        response.body = String::from_utf8_lossy(&self.pending[..length]).into_owned();
        self.pending.drain(..length);
        Some(response)
    }

    /// Waits for the server to close the connection; returns what it sent before.
    pub async fn until_closed(&mut self) -> String {
        while self.fill().await {}
        String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned()
    }
}

/// Class: oversized bodies. The head alone is enough for the 413: the body is never sent.
#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_sent() {
    let app = spawn_app().await;
    for length in [1024 * 1024 + 1, 100 * 1024 * 1024] {
        let mut conn = RawConnection::open(&app).await;
        conn.send(
            format!(
                "POST /api/auth/login HTTP/1.1\r\nHost: bouncer\r\nContent-Type: application/json\r\n\
                 Content-Length: {length}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        let response = conn.response().await.expect("a 413 before the body");
        assert_eq!(response.status, 413);
        assert_eq!(
            response.body,
            r#"{"message":"Request body is larger than 1 MiB"}"#
        );
        assert!(response.closes(), "the unread body must not be parsed");
        assert_eq!(conn.until_closed().await, "");
    }
    // At the limit, the body is read (and judged as a login).
    let response = app
        .bare
        .post(app.url("/api/auth/login"))
        .header("Content-Type", "application/json")
        .body(format!("{{}}{}", " ".repeat(1024 * 1024 - 2)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "a validation answer, not 413");
}

/// Class: oversized bodies. A chunked body declares no length; it gets the same 413 once it
/// passes the limit (it was a 400).
#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_the_same_413() {
    let app = spawn_app().await;
    let mut conn = RawConnection::open(&app).await;
    let mut request =
        b"POST /api/auth/login HTTP/1.1\r\nHost: bouncer\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = " ".repeat(64 * 1024);
    for _ in 0..17 {
        request.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    conn.send(&request).await;
    let response = conn.response().await.expect("an answer");
    assert_eq!(response.status, 413);
    assert_eq!(
        response.body,
        r#"{"message":"Request body is larger than 1 MiB"}"#
    );
    assert!(response.closes());
}

/// Class: request smuggling / body desync. The body of a request whose route ignores it (or
/// refuses before reading it) holds a second request; that second request must never be
/// executed, and the connection must not be reused after the first answer.
#[tokio::test]
async fn a_body_left_unread_closes_the_connection_instead_of_being_parsed() {
    let app = spawn_app().await;
    // If it ran, this would answer a second response (401).
    let hidden = "GET /api/user HTTP/1.1\r\nHost: bouncer\r\n\r\n";

    // Control: a body that is read to its end keeps the connection for the next request.
    let mut conn = RawConnection::open(&app).await;
    let login = r#"{"email":"nobody@example.com","password":"wrong password"}"#;
    conn.send(
        format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: bouncer\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{login}GET /healthz HTTP/1.1\r\nHost: bouncer\r\n\r\n",
            login.len()
        )
        .as_bytes(),
    )
    .await;
    let first = conn.response().await.unwrap();
    assert_eq!(first.status, 404);
    assert!(!first.closes());
    assert_eq!(conn.response().await.unwrap().status, 200);

    // Routes that leave the body unread: one that ignores it, one that refuses without a token.
    for (target, status) in [("POST /api/auth/logout", 200), ("GET /api/user", 401)] {
        let head =
            |framing: &str| format!("{target} HTTP/1.1\r\nHost: bouncer\r\n{framing}\r\n\r\n");
        let length = format!("Content-Length: {}", hidden.len());
        let chunked = format!(
            "{}{:x}\r\n{hidden}\r\n0\r\n\r\n",
            head("Transfer-Encoding: chunked"),
            hidden.len()
        );
        // The body with the head, the body after the answer, and a chunked body.
        let cases = [
            (format!("{}{hidden}", head(&length)), None),
            (head(&length), Some(hidden)),
            (chunked, None),
        ];
        for (request, later) in cases {
            let mut conn = RawConnection::open(&app).await;
            conn.send(request.as_bytes()).await;
            let response = conn.response().await.expect("the first answer");
            assert_eq!(response.status, status, "{target}");
            assert!(
                response.closes(),
                "{target}: Connection: close on {request:?}"
            );
            if let Some(rest) = later {
                conn.send(rest.as_bytes()).await;
            }
            let after = conn.until_closed().await;
            assert_eq!(after, "", "{target}: nothing after the first answer");
        }
    }
}
