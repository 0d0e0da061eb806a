//! `bouncer serve`: the HTTP server until SIGINT or SIGTERM.

use std::sync::Arc;

use crate::app::AppContext;

pub async fn run(ctx: Arc<AppContext>) -> anyhow::Result<()> {
    crate::server::raise_descriptor_limit();
    let addr = format!("{}:{}", ctx.config.host, ctx.config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "bouncer listening");
    let maintenance = crate::spawn_maintenance(ctx.clone());
    if let Some(openid) = &ctx.openid {
        openid.spawn_discovery();
    }
    crate::serve(listener, ctx.clone(), shutdown_signal()).await?;
    // Messages already promised to someone (a verification, a reset link) still go out.
    let _ = tokio::time::timeout(crate::mail::SEND_TIMEOUT, ctx.mail.idle()).await;
    // Purges under way would meet the closed database and warn about it.
    maintenance.abort();
    let _ = maintenance.await;
    ctx.db.close().await;
    tracing::info!("bouncer stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
