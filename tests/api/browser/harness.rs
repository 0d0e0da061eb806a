//! The real browser: Debian's headless Chromium driven through one ChromeDriver per test
//! process, each test with a browser session (and so a cookie jar) of its own.
//!
//! - ChromeDriver is started once, on a free port, by the first test that needs it, from a
//!   thread that lives as long as the process; it is asked to die with that thread
//!   (`PR_SET_PDEATHSIG`), so no driver outlives the test run.
//! - At most [`MAX_SESSIONS`] browsers run at once (the machine has two cores); a test waits
//!   for a place before its browser starts.
//! - A session is ended by [`Browser::close`], or when the [`Browser`] is dropped (a failed
//!   test), by a plain blocking `DELETE /session/{id}`, so that no Chromium is left behind.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use crate::helpers::{eventually, poll_for, skip};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Browsers open at once in this test process.
pub const MAX_SESSIONS: usize = 2;

static SESSIONS: Semaphore = Semaphore::const_new(MAX_SESSIONS);

/// The ChromeDriver of this process: its base URL, or `None` when it could not start.
static DRIVER: OnceCell<Option<String>> = OnceCell::const_new();

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts ChromeDriver (once per process) and waits until it listens.
async fn driver() -> Option<&'static str> {
    DRIVER
        .get_or_init(|| async {
            let port = free_port();
            let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromedriver.log");
            let (started, spawned) = std::sync::mpsc::channel();
            // The driver's parent is this thread, which never ends: the driver is killed when
            // the process ends (PR_SET_PDEATHSIG fires when the spawning *thread* exits).
            std::thread::Builder::new()
                .name("chromedriver".into())
                .spawn(move || {
                    let log = std::fs::File::create(&log).expect("chromedriver log file");
                    let mut command = Command::new(CHROMEDRIVER);
                    command
                        .arg(format!("--port={port}"))
                        .stdin(Stdio::null())
                        .stdout(log.try_clone().unwrap())
                        .stderr(log);
                    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
                    unsafe {
                        command.pre_exec(|| {
                            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                            Ok(())
                        });
                    }
                    let child = command.spawn();
                    let ok = child.is_ok();
                    let _ = started.send(child.map(|_| ()));
                    if ok {
                        loop {
                            std::thread::park();
                        }
                    }
                })
                .unwrap();
            spawned
                .recv()
                .unwrap()
                .expect("chromedriver starts (it is installed)");
            let up = eventually(|| async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            })
            .await;
            up.then(|| format!("http://127.0.0.1:{port}"))
        })
        .await
        .as_deref()
}

/// Whether this machine has Chromium and ChromeDriver; a [`skip`] of `test` when not.
pub fn browser_installed(test: &str) -> bool {
    let installed = Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file();
    if !installed {
        skip(
            test,
            "chromium and chromium-driver are not installed (.ci/run installs them)",
        );
    }
    installed
}

/// One browser session: a fresh Chromium profile (its own cookies), headless.
pub struct Browser {
    pub client: Client,
    driver: &'static str,
    session_id: String,
    closed: bool,
    _place: SemaphorePermit<'static>,
}

/// A WebDriver command of chromedriver's own: `POST /session/{id}/goog/cdp/execute`, one
/// Chrome DevTools Protocol command.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.expect("a session")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

impl Browser {
    /// A new browser, or `None` (a skip, a failure under `CI=true`) when Chromium is missing.
    pub async fn open(test: &str) -> Option<Self> {
        if !browser_installed(test) {
            return None;
        }
        let driver = driver().await.expect("chromedriver listens");
        let place = SESSIONS.acquire().await.unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-extensions",
                    "--no-first-run",
                    "--window-size=1280,1000",
                    "--lang=en-US",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(driver)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session starts for {test}: {e}"));
        let session_id = client
            .session_id()
            .await
            .unwrap()
            .expect("the session has an id");
        Some(Self {
            client,
            driver,
            session_id,
            closed: false,
            _place: place,
        })
    }

    /// Ends the session (and its Chromium).
    pub async fn close(mut self) {
        self.closed = true;
        let _ = self.client.clone().close().await;
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("the browser opens {url}: {e}"));
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.unwrap()
    }

    /// A script's result (the page's Content-Security-Policy does not apply to it).
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("the script runs: {e}\n{script}"))
    }

    /// One Chrome DevTools Protocol command on this session's page.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    /// Whether the page matches `(prefers-color-scheme: dark)`.
    pub async fn prefers_dark(&self) -> bool {
        self.eval("return matchMedia('(prefers-color-scheme: dark)').matches;")
            .await
            .as_bool()
            .unwrap()
    }

    /// Emulates a dark (or light) colour-scheme preference; checked in the page.
    pub async fn set_dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        )
        .await;
        assert_eq!(
            self.prefers_dark().await,
            dark,
            "the page sees prefers-color-scheme: {value}"
        );
    }

    /// The page, as PNG, under `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, png).unwrap();
        file
    }

    /// The element with this CSS selector, which must be there.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no element `{css}` on {} ({e}); the page:\n{}",
                self.url().await,
                self.body_text().await
            ),
        }
    }

    /// Whether an element with this CSS selector is on the page.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// Every element with this CSS selector.
    pub async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// The visible text of the element with this CSS selector.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The visible text of the whole page.
    pub async fn body_text(&self) -> String {
        self.eval("return document.body ? document.body.innerText : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Types `value` into the input whose id is `id` (cleared first).
    pub async fn fill(&self, id: &str, value: &str) {
        let input = self.find(&format!("#{id}")).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// Clicks the submit button of the form `form` (a CSS selector) and waits until the
    /// answer's page has loaded.
    pub async fn submit(&self, form: &str) {
        let button = self
            .find(&format!(
                "{form} button[type=submit], {form} input[type=submit]"
            ))
            .await;
        self.click_and_wait(button).await;
    }

    /// [`Browser::submit`] past the browser's own checks of the fields (`minlength`,
    /// `required`...), so that what the server answers to a bad value is what is tested.
    pub async fn submit_unchecked(&self, form: &str) {
        self.find(form).await;
        self.client
            .execute(
                "document.querySelector(arguments[0]).noValidate = true; return null;",
                vec![serde_json::json!(form)],
            )
            .await
            .unwrap();
        self.submit(form).await;
    }

    /// Clicks `element` and waits for the next page to load (the old document is marked, and
    /// the wait is over when a document without the mark is complete).
    pub async fn click_and_wait(&self, element: fantoccini::elements::Element) {
        self.eval("window.__bouncerOldPage = true; return null;")
            .await;
        element.click().await.unwrap();
        self.wait_for_new_page().await;
    }

    /// Waits until the marked document has been replaced by a loaded one.
    pub async fn wait_for_new_page(&self) {
        let loaded = poll_for(400, Duration::from_millis(25), || async {
            let state = self
                .client
                .execute(
                    "return window.__bouncerOldPage ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            // A script may fail while the document is being replaced: try again.
            matches!(state, Ok(Value::String(s)) if s == "complete").then_some(())
        })
        .await;
        assert!(
            loaded.is_some(),
            "a new page loaded after the click (still on {})",
            self.url().await
        );
    }

    /// The cookies of the current page's origin, as WebDriver reports them.
    pub async fn cookies(&self) -> Vec<fantoccini::cookies::Cookie<'static>> {
        self.client.get_all_cookies().await.unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        // A failed test: its runtime may be gone, so end the session with a blocking request.
        let address = self.driver.trim_start_matches("http://").to_string();
        let Ok(mut stream) = std::net::TcpStream::connect(&address) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let _ = write!(
            stream,
            "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session_id
        );
        // Read the answer's head and body (the driver may keep the connection open).
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
            if complete_http_answer(&answer) {
                break;
            }
        }
    }
}

/// Whether `answer` holds an HTTP answer's whole head and its `Content-Length` body.
fn complete_http_answer(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}
