//! The HTTP client towards `UPSTREAM_URL`, the chat backend behind the gateway: kept-alive
//! pooled connections, HTTP or HTTPS (the system's web PKI roots).

use std::time::Duration;

use axum::body::Body;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long an unused pooled connection to the upstream is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// The HTTP client towards the upstream: kept-alive connections, HTTP or HTTPS.
pub type UpstreamClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Body>;

pub fn client() -> anyhow::Result<UpstreamClient> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https),
    )
}
