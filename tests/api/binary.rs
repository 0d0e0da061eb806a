//! The `bouncer` binary itself: start-up with no configuration, generated secrets, `.env`,
//! and refusal of bad configuration.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::poll_for;

fn bouncer(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bouncer"));
    cmd.current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "info")
        .arg("serve");
    cmd
}

fn refusal(vars: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = bouncer(dir.path())
        .env("PORT", "1") // never reached: configuration fails first
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{vars:?} should be refused");
    assert!(
        !dir.path().join("data/bouncer.db").exists(),
        "nothing is created on refusal"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn refuses_the_public_example_secrets() {
    let err = refusal(&[
        (
            "JWT_SECRET",
            "16f8c0ef4a5d391b26034086c628469d3f9f497f08163ab9b40137092f2909ef",
        ),
        (
            "JWT_REFRESH_SECRET",
            "a-perfectly-fine-refresh-secret-of-good-length",
        ),
    ]);
    assert!(
        err.contains("JWT_SECRET is the public example value"),
        "{err}"
    );
    assert!(err.contains("openssl rand -hex 32"), "{err}");
    let err = refusal(&[(
        "JWT_REFRESH_SECRET",
        "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418",
    )]);
    assert!(
        err.contains("JWT_REFRESH_SECRET is the public example value"),
        "{err}"
    );
    let err = refusal(&[("JWT_SECRET", "short")]);
    assert!(
        err.contains("JWT_SECRET is shorter than 32 characters"),
        "{err}"
    );
}

#[test]
fn refuses_invalid_values_naming_variable_and_value() {
    for (var, value) in [
        ("PORT", "eighty"),
        ("SESSION_EXPIRY", "15 minutes"),
        ("REFRESH_TOKEN_EXPIRY", "(1000 * 60"),
        ("DATABASE_URL", "mysql://localhost/bouncer"),
        ("MIN_PASSWORD_LENGTH", "-3"),
    ] {
        let err = refusal(&[(var, value)]);
        assert!(
            err.contains(var) && err.contains(value),
            "{var}={value}: {err}"
        );
    }
}

#[test]
fn refuses_librechat_settings_it_cannot_honour_unless_acknowledged() {
    let err = refusal(&[("OPENID_REUSE_TOKENS", "true")]);
    assert!(
        err.contains("OPENID_REUSE_TOKENS") && err.contains("BOUNCER_IGNORE"),
        "{err}"
    );
    // Half an LDAP configuration would sign nobody in: refused rather than ignored.
    let err = refusal(&[("LDAP_URL", "ldaps://ldap.example.com")]);
    assert!(err.contains("LDAP_USER_SEARCH_BASE"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `bouncer serve` process; killed if dropped without `stop`.
pub struct Running {
    child: Child,
    pub base: String,
    log: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bouncer serve` in `dir` with these variables (HOST and PORT are chosen here) and
/// waits until it answers.
pub async fn start(dir: &Path, extra: &[(&str, &str)]) -> Running {
    let port = free_port();
    let log = dir.join(format!("bouncer-{port}.log"));
    let mut child = bouncer(dir)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .envs(extra.iter().copied())
        .stdout(Stdio::from(fs::File::create(&log).unwrap()))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // Wait for readiness: this polls, it asserts nothing about how long start-up takes.
    let (process, client, url, log_file) = (&mut child, &client, &base, &log);
    let answer = poll_for(300, Duration::from_millis(50), move || {
        if let Some(exit) = process.try_wait().unwrap() {
            panic!(
                "bouncer exited with {exit}: {}",
                fs::read_to_string(log_file).unwrap_or_default()
            );
        }
        async move { client.get(format!("{url}/healthz")).send().await.ok() }
    })
    .await;
    let Some(r) = answer else {
        panic!(
            "bouncer did not start: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    };
    assert_eq!(r.status(), 200);
    Running { child, base, log }
}

impl Running {
    /// SIGTERM, then the log the process wrote.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
        fs::read_to_string(&self.log).unwrap()
    }
}

#[tokio::test]
async fn starts_with_no_configuration_and_keeps_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), &[("SESSION_EXPIRE", "60000")]).await;
    let config: Value = reqwest::get(format!("{}/api/config", first.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["emailLoginEnabled"], true);
    assert_eq!(config["registrationEnabled"], false);
    let log = first.stop();
    assert!(
        log.contains("generated new random ones into data/secrets.env"),
        "{log}"
    );
    assert!(
        log.contains("SESSION_EXPIRE is not read by Bouncer; did you mean SESSION_EXPIRY?"),
        "{log}"
    );
    assert!(!log.contains(&fs::read_to_string(dir.path().join("data/secrets.env")).unwrap()[100..]));

    let secrets_path = dir.path().join("data/secrets.env");
    assert!(dir.path().join("data/bouncer.db").exists());
    let secrets = fs::read_to_string(&secrets_path).unwrap();
    let secret_line = secrets
        .lines()
        .find(|l| l.starts_with("JWT_SECRET="))
        .unwrap();
    assert_eq!(secret_line.len(), "JWT_SECRET=".len() + 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&secrets_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Second start: same secrets, and `.env` is read with the environment winning over it.
    fs::write(
        dir.path().join(".env"),
        "APP_TITLE=From Dotenv\nSESSION_EXPIRY=1000 * 60 * 5\nALLOW_REGISTRATION=true\n",
    )
    .unwrap();
    let second = start(dir.path(), &[("ALLOW_REGISTRATION", "false")]).await;
    let config: Value = reqwest::get(format!("{}/api/config", second.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["appTitle"], "From Dotenv");
    assert_eq!(config["registrationEnabled"], false);
    let log = second.stop();
    assert!(
        log.contains("using the ones kept in data/secrets.env"),
        "{log}"
    );
    assert_eq!(fs::read_to_string(&secrets_path).unwrap(), secrets);
}

#[tokio::test]
async fn the_example_env_file_starts_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example");
    fs::copy(example, dir.path().join(".env")).unwrap();
    let running = start(dir.path(), &[]).await;
    let config: Value = reqwest::get(format!("{}/api/config", running.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["appTitle"], "LibreChat");
    assert_eq!(config["minPasswordLength"], 8);
    let log = running.stop();
    assert!(
        !log.contains("WARN"),
        "the example raises no warning: {log}"
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_id_a_trusted_proxy_set_or_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[("LOG_FORMAT", "json"), ("ALLOW_REGISTRATION", "true")],
    )
    .await;
    let client = reqwest::Client::new();
    // The test's loopback peer is one of the default trusted proxies.
    let registered = client
        .post(format!("{}/api/auth/register", running.base))
        .header("X-Request-Id", "proxy-id-42")
        .json(&serde_json::json!({
            "name": "Ada", "email": "ada@example.com",
            "password": "correct horse battery", "confirm_password": "correct horse battery"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);
    assert_eq!(registered.headers()["x-request-id"], "proxy-id-42");
    // A malformed id is replaced, not echoed.
    let fresh = client
        .get(format!("{}/api/config", running.base))
        .header("X-Request-Id", "two words")
        .send()
        .await
        .unwrap();
    let id = fresh.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    let log = running.stop();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let registration = lines
        .iter()
        .find(|l| l["fields"]["message"] == "user registered")
        .unwrap_or_else(|| panic!("no registration line: {log}"));
    assert_eq!(
        registration["span"]["request_id"], "proxy-id-42",
        "{registration}"
    );
    assert!(!log.contains("correct horse battery"));
}
