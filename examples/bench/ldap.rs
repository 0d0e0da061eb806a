//! LDAP sign-ins (`POST /api/auth/login` with `LDAP_URL`) against a local slapd, started as the
//! tests start it. The limit, measured in the same run: the same directory work (a search with
//! the service account and a bind as the user, on pooled connections) done straight against
//! slapd with ldap3 from this process, at the same concurrency. What a login adds to it is
//! Bouncer's own work: the account lookup and the session it starts.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, Scope};
use tokio::sync::Mutex;

#[path = "../../tests/api/ldap_peer.rs"]
#[allow(dead_code)]
mod ldap_peer;

use super::load::{self, Op};
use super::processes;
use super::scenarios::Row;
use ldap_peer::{Slapd, ALICE, PEOPLE, SERVICE_DN, SERVICE_PASSWORD};

fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    Arc::new(move |worker| Box::pin(f(worker)))
}

/// A search connection (bound as the service account) and a bind connection, per worker.
async fn worker_connections(url: &str) -> anyhow::Result<(Ldap, Ldap)> {
    let (conn, mut search) = LdapConnAsync::new(url).await?;
    ldap3::drive!(conn);
    search
        .simple_bind(SERVICE_DN, SERVICE_PASSWORD)
        .await?
        .success()?;
    let (conn, bind) = LdapConnAsync::new(url).await?;
    ldap3::drive!(conn);
    Ok((search, bind))
}

pub async fn rows(binary: &std::path::Path, cores: usize, d: Duration) -> anyhow::Result<Vec<Row>> {
    anyhow::ensure!(ldap_peer::available(), "slapd is not installed");
    let slapd = Slapd::start();
    let connections = 2 * cores;

    // The directory alone: search + bind, as Bouncer does them, plain ldap:// on loopback.
    let mut pairs = Vec::new();
    for _ in 0..connections {
        pairs.push(Mutex::new(worker_connections(&slapd.ldap_url).await?));
    }
    let pairs = Arc::new(pairs);
    let direct = load::run(connections, d, {
        let pairs = pairs.clone();
        op(move |worker| {
            let pairs = pairs.clone();
            async move {
                let mut pair = pairs[worker].lock().await;
                let (search, bind) = &mut *pair;
                let filter = format!("(mail={})", ldap3::ldap_escape(ALICE.0));
                let Ok(found) = search
                    .search(PEOPLE, Scope::Subtree, &filter, vec!["uid", "mail", "cn"])
                    .await
                else {
                    return false;
                };
                let Ok((entries, _)) = found.success() else {
                    return false;
                };
                let Some(entry) = entries.into_iter().next() else {
                    return false;
                };
                let dn = ldap3::SearchEntry::construct(entry).dn;
                matches!(bind.simple_bind(&dn, ALICE.1).await, Ok(r) if r.rc == 0)
            }
        })
    })
    .await;

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/bouncer.db", dir.path().display());
    let pool = connections.to_string();
    let server = processes::start_bouncer_with(
        binary,
        dir.path(),
        &url,
        processes::free_port(),
        &[
            ("LDAP_URL", &slapd.ldap_url),
            ("LDAP_USER_SEARCH_BASE", PEOPLE),
            ("LDAP_BIND_DN", SERVICE_DN),
            ("LDAP_BIND_CREDENTIALS", SERVICE_PASSWORD),
            ("LDAP_POOL_SIZE", &pool),
        ],
    )
    .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let login_url = format!("{}/api/auth/login", server.base);
    let body = serde_json::json!({ "email": ALICE.0, "password": ALICE.1 });
    // The account exists before the load: the row measures sign-ins, not the first one.
    let first = client.post(&login_url).json(&body).send().await?;
    anyhow::ensure!(
        first.status().is_success(),
        "the first LDAP sign-in failed: {}",
        first.status()
    );
    let logins = load::run(connections, d, {
        op(move |_| {
            let (client, login_url, body) = (client.clone(), login_url.clone(), body.clone());
            async move {
                matches!(
                    client.post(&login_url).json(&body).send().await,
                    Ok(r) if r.status().is_success()
                )
            }
        })
    })
    .await;
    drop(server);
    Ok(vec![Row {
        scenario: format!(
            "LDAP sign-in `POST /api/auth/login` against a local slapd, {connections} connections, SQLite"
        ),
        bouncer: format!(
            "{:.0} logins/s (p99 {:.1} ms, {} failed)",
            logins.rate(),
            logins.quantile_ms(0.99),
            logins.failed
        ),
        limit: format!(
            "search + bind straight to slapd, {connections} connections: {:.0}/s",
            direct.rate()
        ),
        ratio: Some(logins.rate() / direct.rate()),
        value: if logins.failed == 0 { logins.rate() } else { 0.0 },
    }])
}
