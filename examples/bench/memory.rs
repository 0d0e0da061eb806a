//! The memory row: resident memory of a fresh server at start, right after a burst of logins,
//! and after the hash workers' quiet spell has passed (`PASSWORD_HASH_MEMORY_RELEASE`, short
//! here so the quick mode stays quick; a minute by default).

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use serde_json::json;

use super::processes;

/// The quiet spell the measured server is started with.
pub const QUIET_SPELL: Duration = Duration::from_secs(2);
/// After the quiet spell, time for the workers to wake and give their areas back.
const MARGIN: Duration = Duration::from_secs(1);
const PASSWORD: &str = "memory benchmark passphrase";

/// Resident memory (MiB) at the three moments.
pub struct MemoryProfile {
    pub start_mib: f64,
    pub after_burst_mib: f64,
    pub after_quiet_mib: f64,
    pub logins: usize,
}

/// Starts its own server on a fresh database, signs one user in `logins` times, `parallel` at
/// a time (enough to give every hash worker its work area), and reads `/proc/<pid>/status`.
pub async fn profile(
    binary: &Path,
    client: &reqwest::Client,
    parallel: usize,
    logins: usize,
) -> anyhow::Result<MemoryProfile> {
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}/bouncer.db", dir.path().display());
    let release_ms = QUIET_SPELL.as_millis().to_string();
    let server = processes::start_bouncer_with(
        binary,
        dir.path(),
        &database_url,
        processes::free_port(),
        &[("PASSWORD_HASH_MEMORY_RELEASE", release_ms.as_str())],
    )
    .await?;
    let start_mib = server.rss_mib();
    let base = server.base.clone();
    let email = "memory@example.com";
    let registered = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({
            "name": "Memory Bench", "email": email, "password": PASSWORD, "confirm_password": PASSWORD
        }))
        .send()
        .await?;
    if !registered.status().is_success() {
        bail!(
            "registering the memory benchmark user: {}",
            registered.status()
        );
    }
    for batch in 0..logins.div_ceil(parallel.max(1)) {
        let size = parallel.min(logins - batch * parallel);
        let answers = futures::future::join_all((0..size).map(|_| {
            client
                .post(format!("{base}/api/auth/login"))
                .json(&json!({ "email": email, "password": PASSWORD }))
                .send()
        }))
        .await;
        for answer in answers {
            let status = answer?.status();
            if !status.is_success() {
                bail!("a login of the memory benchmark failed: {status}");
            }
        }
    }
    let after_burst_mib = server.rss_mib();
    tokio::time::sleep(QUIET_SPELL + MARGIN).await;
    let after_quiet_mib = server.rss_mib();
    Ok(MemoryProfile {
        start_mib,
        after_burst_mib,
        after_quiet_mib,
        logins,
    })
}
