use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use bouncer::cli::{self, Cli, Command};
use bouncer::clock::SystemClock;
use bouncer::config::{Config, SecretsSource};
use bouncer::AppContext;

/// Where generated secrets are kept (beside the default SQLite database).
const DATA_DIR: &str = "data";

/// Exit codes: 0 success, 1 the command failed, 2 bad configuration or usage.
const EXIT_FAILED: u8 = 1;
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.command.default_log_filter()));
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    let logger = tracing_subscriber::fmt().with_env_filter(filter);
    match format.trim().to_ascii_lowercase().as_str() {
        // One JSON object per line for log shippers; a request's span (its `request_id`) is
        // on every line logged while it runs.
        "json" => logger
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        other => {
            logger.with_ansi(std::io::stdout().is_terminal()).init();
            if !matches!(other, "" | "text") {
                tracing::warn!(value = other, "LOG_FORMAT is `text` or `json`; using text");
            }
        }
    }

    let (config, warnings, secrets) = match Config::load(Path::new(DATA_DIR)) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("bouncer: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    match secrets {
        SecretsSource::Generated => tracing::info!(
            "secrets unset (JWT_SECRET / JWT_REFRESH_SECRET / CREDS_KEY): generated new random ones into {DATA_DIR}/secrets.env"
        ),
        SecretsSource::Reused => tracing::info!(
            "secrets unset (JWT_SECRET / JWT_REFRESH_SECRET / CREDS_KEY): using the ones kept in {DATA_DIR}/secrets.env"
        ),
        SecretsSource::Operator => {}
    }

    let mut config = config;
    if !matches!(cli.command, Command::Serve) {
        // The user-management commands touch only the database: they must work while Redis is
        // down, and they share no limiter windows or scores.
        config.redis = None;
    }
    let ctx = match AppContext::build(config, Arc::new(SystemClock)).await {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("bouncer: {e:#}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    // The commands record audit events too (`via: cli`): stored before the process ends.
    let audited = ctx.clone();
    let outcome = match cli.command {
        Command::Serve => cli::serve::run(ctx).await.map_err(|e| format!("{e:#}")),
        Command::CreateUser(args) => cli::create_user::run(&ctx, args).await.map_err(|e| e.0),
        Command::InviteUser(args) => cli::invite_user::run(&ctx, args).await.map_err(|e| e.0),
        Command::DeleteUser(args) => cli::delete_user::run(&ctx, args).await.map_err(|e| e.0),
        Command::ListUsers(args) => cli::list_users::run(&ctx, args).await.map_err(|e| e.0),
        Command::ResetPassword(args) => cli::reset_password::run(&ctx, args).await.map_err(|e| e.0),
        Command::BanUser(args) => cli::ban_user::run(&ctx, args).await.map_err(|e| e.0),
        Command::Unban(args) => cli::unban::run(&ctx, args).await.map_err(|e| e.0),
        Command::ListBans(args) => cli::list_bans::run(&ctx, args).await.map_err(|e| e.0),
        Command::DisableUser(args) => cli::disable_user::run(&ctx, args).await.map_err(|e| e.0),
        Command::EnableUser(args) => cli::enable_user::run(&ctx, args).await.map_err(|e| e.0),
        Command::Sessions(args) => cli::sessions::run(&ctx, args).await.map_err(|e| e.0),
        Command::Client(args) => cli::client::run(&ctx, args).await.map_err(|e| e.0),
        Command::ImportLibrechat(args) => cli::import_librechat::run(&ctx, args)
            .await
            .map_err(|e| e.0),
        Command::Export(args) => cli::export::run(&ctx, args).await.map_err(|e| e.0),
        Command::ApiKeys(args) => cli::api_keys::run(&ctx, args).await.map_err(|e| e.0),
        Command::Audit(args) => cli::audit::run(&ctx, args).await.map_err(|e| e.0),
        Command::RotateSigningKey(args) => cli::rotate_signing_key::run(&ctx, args)
            .await
            .map_err(|e| e.0),
    };
    audited.audit.shutdown(bouncer::audit::DRAIN_BOUND).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bouncer: {message}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
