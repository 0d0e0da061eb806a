//! Real mail peers for the tests: an SMTP server (Python's aiosmtpd, run from
//! `tests/peers/smtp/`) and a stand-in for Mailgun's HTTP API that records what it is sent.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// How long a test waits for a message before failing (a wait, not a timing assertion).
const MESSAGE_WAIT: Duration = Duration::from_secs(30);

/// A Python with the test peers' packages (aiosmtpd, openai, Authlib, pysaml2, pymongo): a virtual environment under
/// Cargo's test folder, created and filled from `tests/peers/*/requirements.txt` the first time
/// it is needed.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-peers-venv");
        let python = venv.join("bin").join("python");
        let ready = |p: &Path| {
            std::process::Command::new(p)
                .args([
                    "-c",
                    "import aiosmtpd, openai, authlib, requests, saml2, bson",
                ])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ready(&python) {
            let status = std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 runs (the SMTP peer needs Python 3)");
            assert!(status.success(), "python3 -m venv failed");
            let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
            let status = std::process::Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("-r")
                .arg(peers.join("smtp/requirements.txt"))
                .arg("-r")
                .arg(peers.join("openai/requirements.txt"))
                .arg("-r")
                .arg(peers.join("authlib/requirements.txt"))
                .arg("-r")
                .arg(peers.join("saml/requirements.txt"))
                .arg("-r")
                .arg(peers.join("librechat_export/requirements.txt"))
                .status()
                .expect("pip runs");
            assert!(
                status.success(),
                "installing the test peers' packages from PyPI failed"
            );
        }
        assert!(
            ready(&python),
            "aiosmtpd, openai, authlib, pysaml2 or pymongo is not importable from {}",
            python.display()
        );
        python
    })
}

/// A running SMTP server. Messages arrive as JSON: `to`, `subject`, `text`, `html`, `tls`,
/// `auth_user`...
pub struct SmtpPeer {
    pub port: u16,
    messages: mpsc::UnboundedReceiver<Value>,
    _child: tokio::process::Child,
    _tls_files: Option<tempfile::TempDir>,
}

/// How the SMTP peer runs.
#[derive(Default)]
pub struct SmtpOptions {
    /// Listen on this port (else any free one).
    pub port: Option<u16>,
    /// Offer STARTTLS with a fresh self-signed certificate for `localhost`, and require it.
    pub starttls: bool,
    /// Require AUTH with this user and password.
    pub credentials: Option<(&'static str, &'static str)>,
}

impl SmtpPeer {
    pub async fn start() -> Self {
        Self::start_with(SmtpOptions::default()).await
    }

    pub async fn start_with(options: SmtpOptions) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/smtp/smtp_peer.py");
        let mut cmd = tokio::process::Command::new(python());
        cmd.arg(script)
            .arg("--port")
            .arg(options.port.unwrap_or(0).to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let tls_files = options.starttls.then(|| {
            let dir = tempfile::tempdir().unwrap();
            let certified =
                rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
            std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
            std::fs::write(
                dir.path().join("key.pem"),
                certified.key_pair.serialize_pem(),
            )
            .unwrap();
            cmd.arg("--tls-cert")
                .arg(dir.path().join("cert.pem"))
                .arg("--tls-key")
                .arg(dir.path().join("key.pem"))
                .arg("--require-starttls");
            dir
        });
        if let Some((user, password)) = options.credentials {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd.spawn().expect("the SMTP peer starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(MESSAGE_WAIT, lines.next_line())
            .await
            .expect("the SMTP peer reports its port")
            .unwrap()
            .expect("the SMTP peer printed its port");
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Self {
            port,
            messages,
            _child: child,
            _tls_files: tls_files,
        }
    }

    /// The variables that point Bouncer at this server.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EMAIL_HOST", "127.0.0.1".into()),
            ("EMAIL_PORT", self.port.to_string()),
            ("EMAIL_FROM", "noreply@bouncer.test".into()),
            ("DOMAIN_CLIENT", "http://chat.test".into()),
        ]
    }

    /// The next message received; fails the test if none arrives.
    pub async fn next_message(&mut self) -> Value {
        tokio::time::timeout(MESSAGE_WAIT, self.messages.recv())
            .await
            .expect("a message arrives at the SMTP peer")
            .expect("the SMTP peer is running")
    }

    /// A message already received, if any (call after `Mailer::idle`).
    pub fn received(&mut self) -> Option<Value> {
        self.messages.try_recv().ok()
    }
}

/// One request to the Mailgun stand-in.
#[derive(Debug, Clone)]
pub struct MailgunRequest {
    pub path: String,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl MailgunRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server that answers like Mailgun's messages endpoint and records each request.
pub struct MailgunPeer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<MailgunRequest>>>,
}

impl MailgunPeer {
    pub async fn start() -> Self {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::HeaderMap;
        let requests: Arc<Mutex<Vec<MailgunRequest>>> = Arc::default();
        let app = axum::Router::new()
            .route(
                "/v3/{domain}/messages",
                axum::routing::post(
                    |State(seen): State<Arc<Mutex<Vec<MailgunRequest>>>>,
                     UrlPath(domain): UrlPath<String>,
                     headers: HeaderMap,
                     body: String| async move {
                        seen.lock().unwrap().push(MailgunRequest {
                            path: format!("/v3/{domain}/messages"),
                            authorization: headers
                                .get("authorization")
                                .map(|v| v.to_str().unwrap().to_string()),
                            form: url::form_urlencoded::parse(body.as_bytes()).into_owned().collect(),
                        });
                        axum::Json(serde_json::json!({ "id": "<1@mg.test>", "message": "Queued. Thank you." }))
                    },
                ),
            )
            .with_state(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, requests }
    }
}

/// The first link in `text` that starts with `prefix`.
pub fn link_in(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

/// A query parameter of a link, decoded.
pub fn query_param(link: &str, name: &str) -> String {
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {link}"))
        .1
        .into_owned()
}

/// A query parameter as it appears in the link, still URL-encoded (what the web client may
/// pass on).
pub fn raw_query_param(link: &str, name: &str) -> String {
    let query = link.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {link}"))
        .to_string()
}
