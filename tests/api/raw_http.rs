//! HTTP/1.1 over a bare TCP stream, for requests an HTTP client library would rewrite before
//! sending (backslashes, dot segments, odd headers).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct RawResponse {
    pub status: u16,
    /// The head, lines as received.
    pub head: String,
    pub body: String,
}

impl RawResponse {
    /// The value of a header (name in any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request_line` and `headers` (each `Name: value`) to `base` (`http://host:port`) with
/// `Connection: close`, and reads the whole answer.
pub async fn send(base: &str, request_line: &str, headers: &[&str], body: &str) -> RawResponse {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut raw = format!("{request_line}\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    if !body.is_empty() {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut bytes),
    )
    .await;
    assert!(read.is_ok(), "no answer to {request_line:?}");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer to {request_line:?}: {text:?}"));
    RawResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}
