//! A real OpenID provider for the tests: `oidc-provider` under Node, from
//! `tests/peers/oidc/` (installed with `npm ci` on first use), and a browser's walk through its
//! login and consent pages.

use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

/// Where the provider sends the browser back; the tests replace this origin by the app's.
pub const CALLBACK: &str = "http://bouncer.test/oauth/openid/callback";

fn peer_dir() -> &'static Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/oidc");
        if !dir.join("node_modules/oidc-provider").is_dir() {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm runs (the OpenID peer needs Node.js and npm)");
            assert!(status.success(), "npm ci in tests/peers/oidc failed");
        }
        dir
    })
}

pub struct OidcPeer {
    pub issuer: String,
    _child: tokio::process::Child,
}

impl OidcPeer {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// On this port (0: any free one).
    pub async fn start_on(port: u16) -> Self {
        let mut child = tokio::process::Command::new("node")
            .arg("provider.mjs")
            .current_dir(peer_dir())
            .env("PORT", port.to_string())
            .env("REDIRECT_URI", CALLBACK)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts the OpenID peer");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the OpenID peer reports its issuer")
            .unwrap()
            .expect("the OpenID peer printed its issuer");
        let issuer = serde_json::from_str::<serde_json::Value>(&first).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_string();
        // Keep reading what it prints: a closed pipe would kill it at its next line.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            issuer,
            _child: child,
        }
    }
}

/// Signs in at the provider as `account`, as a fresh browser would: follows its redirects, submits
/// the login form and the consent form. Returns the callback URL the provider sends the browser
/// to (on `CALLBACK`'s origin).
pub async fn sign_in_at_provider(authorization_url: &str, account: &str) -> String {
    // A browser of its own for the provider's pages, so each sign-in starts without a
    // provider session (the app's cookies stay with the caller's client).
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = url::Url::parse(authorization_url).unwrap();
    let mut form: Option<Vec<(&str, String)>> = None;
    for _ in 0..12 {
        if url.as_str().starts_with(CALLBACK) {
            return url.to_string();
        }
        let request = match form.take() {
            Some(fields) => browser.post(url.clone()).form(&fields),
            None => browser.get(url.clone()),
        };
        let response = request.send().await.unwrap();
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().unwrap().to_string();
            url = url.join(&location).unwrap();
            continue;
        }
        let status = response.status();
        let page = response.text().await.unwrap();
        assert!(status.is_success(), "provider answered {status}: {page}");
        form = if page.contains(r#"name="prompt" value="login""#) {
            Some(vec![
                ("prompt", "login".into()),
                ("login", account.into()),
                ("password", "any".into()),
            ])
        } else if page.contains(r#"name="prompt" value="consent""#) {
            Some(vec![("prompt", "consent".into())])
        } else {
            panic!("unexpected provider page: {page}");
        };
    }
    panic!("the provider never sent the browser back");
}
