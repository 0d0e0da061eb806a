use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use bouncer::clock::SystemClock;
use bouncer::config::{Config, SecretsSource};
use bouncer::AppContext;

/// Where generated secrets are kept (beside the default SQLite database).
const DATA_DIR: &str = "data";

#[derive(Parser)]
#[command(
    name = "bouncer",
    version,
    about = "Authentication and abuse moderation for self-hosted AI chat"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server on HOST:PORT.
    Serve,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let cli = Cli::parse();
    let (config, warnings, secrets) = match Config::load(Path::new(DATA_DIR)) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("bouncer: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    match secrets {
        SecretsSource::Generated => tracing::info!(
            "JWT_SECRET / JWT_REFRESH_SECRET unset: generated new random secrets into {DATA_DIR}/secrets.env"
        ),
        SecretsSource::Reused => tracing::info!(
            "JWT_SECRET / JWT_REFRESH_SECRET unset: using the secrets kept in {DATA_DIR}/secrets.env"
        ),
        SecretsSource::Operator => {}
    }
    match cli.command {
        Command::Serve => match serve(config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bouncer: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.host, config.port);
    let ctx = AppContext::build(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "bouncer listening");
    bouncer::spawn_maintenance(ctx.clone());
    bouncer::serve(listener, ctx.clone(), shutdown_signal()).await?;
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
