//! The processes under test: the release `bouncer` binary and the reference server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub const JWT_SECRET: &str = "bench-access-secret-0123456789abcdef0123456789abcdef";
pub const JWT_REFRESH_SECRET: &str = "bench-refresh-secret-0123456789abcdef0123456789abcde";

/// A child process, killed when dropped.
pub struct Running {
    child: Child,
    pub base: String,
    /// From exec to the first 200 answer.
    pub ready_after: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in MiB (Linux).
    pub fn rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The release `bouncer` binary beside this example, rebuilt first when run through cargo; or
/// the one `BOUNCER_BENCH_BINARY` names (an earlier build, for a before/after on one machine
/// with the same harness).
pub fn bouncer_binary() -> anyhow::Result<PathBuf> {
    if let Some(named) = std::env::var_os("BOUNCER_BENCH_BINARY") {
        let binary = PathBuf::from(named);
        if !binary.exists() {
            bail!("BOUNCER_BENCH_BINARY: {} not found", binary.display());
        }
        return Ok(binary);
    }
    let exe = std::env::current_exe()?;
    let release_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory")?;
    if let Ok(cargo) = std::env::var("CARGO") {
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--bin", "bouncer"])
            .status()
            .context("building the bouncer binary")?;
        if !status.success() {
            bail!("building the bouncer binary failed");
        }
    }
    let binary = release_dir.join("bouncer");
    if !binary.exists() {
        bail!(
            "{} not found: run `cargo build --release` first",
            binary.display()
        );
    }
    Ok(binary)
}

async fn wait_ready(mut child: Child, url: &str, started: Instant) -> anyhow::Result<Running> {
    let client = reqwest::Client::new();
    let deadline = started + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(exit) = child.try_wait()? {
            bail!("{url}: the process exited early with {exit}");
        }
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() || r.status() == reqwest::StatusCode::UNAUTHORIZED {
                let base = url
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or_default();
                return Ok(Running {
                    child,
                    base,
                    ready_after: started.elapsed(),
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = child.kill();
    bail!("{url} did not answer within 30 s")
}

/// Starts Bouncer in `dir` on `database_url` with its limiters opened wide.
pub async fn start_bouncer(
    binary: &Path,
    dir: &Path,
    database_url: &str,
    port: u16,
) -> anyhow::Result<Running> {
    start_bouncer_with(binary, dir, database_url, port, &[]).await
}

/// As `start_bouncer`, with more variables (`UPSTREAM_URL` for the gateway).
pub async fn start_bouncer_with(
    binary: &Path,
    dir: &Path,
    database_url: &str,
    port: u16,
    extra: &[(&str, &str)],
) -> anyhow::Result<Running> {
    let started = Instant::now();
    let child = Command::new(binary)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        .env("ALLOW_REGISTRATION", "true")
        .env("LOGIN_MAX", "100000000")
        .env("REGISTER_MAX", "100000000")
        .env("API_KEY_LIMIT_MAX", "100000000")
        .env("RUST_LOG", "warn")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting bouncer")?;
    wait_ready(child, &format!("http://127.0.0.1:{port}/healthz"), started).await
}

/// Starts the reference server (this executable in its child role).
pub async fn start_reference(port: u16) -> anyhow::Result<Running> {
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .args([super::reference::CHILD_FLAG, &port.to_string(), JWT_SECRET])
        .stdout(Stdio::null())
        .spawn()
        .context("starting the reference server")?;
    wait_ready(child, &format!("http://127.0.0.1:{port}/verify"), started).await
}
