//! The `bouncer` command line: the server and the user-management commands. Every command
//! reads the same configuration as the server and goes through the same services.

pub mod api_keys;
pub mod audit;
pub mod ban_user;
pub mod client;
pub mod create_user;
pub mod delete_user;
pub mod disable_user;
pub mod enable_user;
pub mod export;
pub mod import_librechat;
pub mod invite_user;
pub mod list_bans;
pub mod list_users;
mod prompt;
pub mod reset_password;
pub mod rotate_signing_key;
pub mod serve;
pub mod sessions;
pub mod unban;

use clap::{Parser, Subcommand};

use crate::error::Error;

#[derive(Parser)]
#[command(
    name = "bouncer",
    version,
    about = "Authentication and abuse moderation for self-hosted AI chat, speaking LibreChat's auth protocol",
    after_help = "Every command reads the same configuration as the server (environment, .env, librechat.yaml)\n\
                  and may run while the server runs.\n\n\
                  Examples:\n  \
                  bouncer serve\n  \
                  bouncer create-user ada@example.com \"Ada Lovelace\" ada\n  \
                  bouncer invite-user grace@example.com\n  \
                  bouncer list-users\n  \
                  bouncer reset-password ada@example.com\n  \
                  bouncer delete-user ada@example.com --yes\n  \
                  bouncer ban-user spammer@example.com 2h\n  \
                  bouncer list-bans\n  \
                  bouncer disable-user mallory@example.com\n  \
                  bouncer sessions ada@example.com --all\n  \
                  bouncer api-keys create ada@example.com --name laptop --expires-days 90\n  \
                  bouncer client add librechat --first-party --redirect-uri https://chat.example.com/oauth/openid/callback\n  \
                  bouncer client list\n  \
                  bouncer rotate-signing-key\n  \
                  bouncer import-librechat users.json --dry-run\n  \
                  bouncer export backup.json\n  \
                  bouncer audit export --kind sign_in.failed"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server on HOST:PORT.
    Serve,
    /// Add a user, even with registration closed.
    CreateUser(create_user::Args),
    /// Invite an email to register, even with registration closed.
    InviteUser(invite_user::Args),
    /// Remove a user and everything that lets them in.
    DeleteUser(delete_user::Args),
    /// List every user.
    ListUsers(list_users::Args),
    /// Set a user's password and sign them out everywhere.
    ResetPassword(reset_password::Args),
    /// Ban a user for a while and end their sessions.
    BanUser(ban_user::Args),
    /// Lift the ban of a user or an IP address.
    Unban(unban::Args),
    /// List the bans in force.
    ListBans(list_bans::Args),
    /// Stop a user from signing in by any route, and end their sessions.
    DisableUser(disable_user::Args),
    /// Let a disabled user sign in again.
    EnableUser(enable_user::Args),
    /// List a user's sessions, or end one (--revoke ID) or all (--all).
    Sessions(sessions::Args),
    /// Register, list, change or remove the OpenID provider's clients.
    Client(client::Args),
    /// Sign the OpenID provider's tokens with a new key (the old one stays published).
    RotateSigningKey(rotate_signing_key::Args),
    /// Import LibreChat's users (mongoexport's output) with their passwords, 2FA and provider accounts.
    ImportLibrechat(import_librechat::Args),
    /// Write every user as LibreChat's users documents (Extended JSON), for backups or going back.
    Export(export::Args),
    /// List, make or revoke API keys of programmatic clients of the gateway.
    ApiKeys(api_keys::Args),
    /// Read the audit log (sign-ins, resets, 2FA, sessions, bans, operators' actions).
    Audit(audit::Args),
}

impl Command {
    /// The server logs what it does; the other commands print their results and log only
    /// problems.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Serve => "info",
            _ => "warn",
        }
    }
}

/// A command's failure: one line for stderr.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError(match e {
            Error::Validation(message)
            | Error::BadRequest(message)
            | Error::Forbidden(message)
            | Error::AlreadyExists(message) => message,
            Error::DomainNotAllowed => {
                "the email's domain is not in registration.allowedDomains of librechat.yaml".into()
            }
            Error::UserNotFound => "no such user".into(),
            Error::Conflict(message) | Error::NotFound(message) => message,
            Error::Unavailable(e) => format!("database unavailable: {e}"),
            Error::Internal(e) => format!("{e:#}"),
            other => other.to_string(),
        })
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(format!("terminal: {e}"))
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// A lookup's user, `None` when there is none (for the command's own message).
pub fn found<T>(result: crate::error::Result<T>) -> CliResult<Option<T>> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(Error::UserNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `Err` with a one-line message.
pub fn fail<T>(message: impl Into<String>) -> CliResult<T> {
    Err(CliError(message.into()))
}

/// Prints rows under a header, columns padded to their widest cell.
pub fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        cells
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(&mut header.iter().copied()));
    for row in rows {
        println!("{}", line(&mut row.iter().map(String::as_str)));
    }
}
