//! `bouncer client add|list|update|remove`: the relying parties of the OpenID provider. Those
//! of `OIDC_CLIENTS_FILE` are listed but changed in the file only.

use super::{fail, print_table, prompt, CliResult};
use crate::app::AppContext;
use crate::provider::clients::{self, ClientChanges, NewClient, RegisteredClient};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(clap::Subcommand)]
enum ClientCommand {
    /// Register a client; prints its secret once.
    #[command(after_help = "Examples:\n  \
bouncer client add librechat --name LibreChat --first-party \\\n    \
--redirect-uri https://chat.example.com/oauth/openid/callback \\\n    \
--post-logout-redirect-uri https://chat.example.com/login\n  \
bouncer client add spa --public --redirect-uri https://spa.example.com/callback")]
    Add(AddArgs),
    /// List the clients (the database's and OIDC_CLIENTS_FILE's).
    List,
    /// Change a client registered with `client add`.
    Update(UpdateArgs),
    /// Remove a client, its consents and its grants (its users are signed out of it).
    Remove(RemoveArgs),
}

#[derive(clap::Args)]
struct AddArgs {
    /// The client id the app is configured with (letters, digits, . _ -).
    id: String,
    /// Shown on the consent page (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI, matched exactly (repeat for more).
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// A client that cannot keep a secret (single-page or native app): PKCE, no secret.
    #[arg(long)]
    public: bool,
    /// An app of this server's operator: no consent page.
    #[arg(long)]
    first_party: bool,
    /// Where the app may send the browser after signing out (repeat for more).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Another audience of its access tokens, after the client id (repeat for more).
    #[arg(long = "audience")]
    audiences: Vec<String>,
}

#[derive(clap::Args)]
struct UpdateArgs {
    id: String,
    #[arg(long)]
    name: Option<String>,
    /// `true` or `false`.
    #[arg(long)]
    first_party: Option<bool>,
    #[arg(long = "add-redirect-uri")]
    add_redirect_uris: Vec<String>,
    #[arg(long = "remove-redirect-uri")]
    remove_redirect_uris: Vec<String>,
    #[arg(long = "add-post-logout-redirect-uri")]
    add_post_logout_redirect_uris: Vec<String>,
    #[arg(long = "remove-post-logout-redirect-uri")]
    remove_post_logout_redirect_uris: Vec<String>,
    #[arg(long = "add-audience")]
    add_audiences: Vec<String>,
    #[arg(long = "remove-audience")]
    remove_audiences: Vec<String>,
    /// A new secret (printed once); the old one stops working at once.
    #[arg(long)]
    rotate_secret: bool,
}

#[derive(clap::Args)]
struct RemoveArgs {
    id: String,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

fn warn_insecure(uris: &[String]) {
    for uri in uris {
        if uri.starts_with("http://") && !clients::is_loopback(uri) {
            eprintln!(
                "warning: {uri} is plain http: codes and tokens cross the network unencrypted"
            );
        }
    }
}

fn print_secret(secret: &str) {
    println!("Client secret: {secret}");
    println!("(shown only now: keep it in the app's configuration)");
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let now = ctx.clock.now_ms();
    match args.command {
        ClientCommand::Add(a) => {
            if ctx.provider.clients.in_file(&a.id) {
                return fail(format!(
                    "client {:?} is declared in OIDC_CLIENTS_FILE",
                    a.id
                ));
            }
            warn_insecure(&a.redirect_uris);
            warn_insecure(&a.post_logout_redirect_uris);
            let (client, secret) = clients::add(
                &ctx.db,
                NewClient {
                    id: a.id,
                    name: a.name.unwrap_or_default(),
                    public: a.public,
                    first_party: a.first_party,
                    redirect_uris: a.redirect_uris,
                    post_logout_redirect_uris: a.post_logout_redirect_uris,
                    audiences: a.audiences,
                },
                now,
            )
            .await?;
            println!(
                "Registered {} client {}",
                if client.is_public() {
                    "public"
                } else {
                    "confidential"
                },
                client.id
            );
            if let Some(secret) = secret {
                print_secret(&secret);
            }
            Ok(())
        }
        ClientCommand::List => {
            let rows: Vec<[String; 6]> = ctx
                .provider
                .clients
                .all()
                .await?
                .iter()
                .map(|c: &RegisteredClient| {
                    [
                        c.id.clone(),
                        c.name.clone(),
                        if c.is_public() {
                            "public"
                        } else {
                            "confidential"
                        }
                        .into(),
                        if c.first_party { "yes" } else { "no" }.into(),
                        if c.from_file { "file" } else { "db" }.into(),
                        c.redirect_uris.join(" "),
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("No clients: the OpenID provider is off (bouncer client add …)");
                return Ok(());
            }
            print_table(
                &[
                    "ID",
                    "NAME",
                    "TYPE",
                    "FIRST-PARTY",
                    "SOURCE",
                    "REDIRECT URIS",
                ],
                &rows,
            );
            Ok(())
        }
        ClientCommand::Update(u) => {
            if ctx.provider.clients.in_file(&u.id) {
                return fail(format!(
                    "client {:?} is declared in OIDC_CLIENTS_FILE: change it there",
                    u.id
                ));
            }
            warn_insecure(&u.add_redirect_uris);
            warn_insecure(&u.add_post_logout_redirect_uris);
            let (client, secret) = clients::update(
                &ctx.db,
                &u.id,
                ClientChanges {
                    name: u.name,
                    first_party: u.first_party,
                    add_redirect_uris: u.add_redirect_uris,
                    remove_redirect_uris: u.remove_redirect_uris,
                    add_post_logout_redirect_uris: u.add_post_logout_redirect_uris,
                    remove_post_logout_redirect_uris: u.remove_post_logout_redirect_uris,
                    add_audiences: u.add_audiences,
                    remove_audiences: u.remove_audiences,
                    rotate_secret: u.rotate_secret,
                },
                now,
            )
            .await?;
            println!("Updated client {}", client.id);
            if let Some(secret) = secret {
                print_secret(&secret);
            }
            Ok(())
        }
        ClientCommand::Remove(r) => {
            if ctx.provider.clients.in_file(&r.id) {
                return fail(format!(
                    "client {:?} is declared in OIDC_CLIENTS_FILE: remove it there",
                    r.id
                ));
            }
            if !r.yes {
                if !prompt::interactive() {
                    return fail(
                        "refusing to remove without --yes: stdin is not a terminal to confirm at",
                    );
                }
                if !prompt::confirm(&format!(
                    "Remove client {} and sign its users out of it?",
                    r.id
                ))? {
                    return fail("not removed");
                }
            }
            let floor = now + ctx.config.sessions.session_expiry_ms;
            match clients::remove(&ctx.db, &r.id, now, floor).await? {
                None => fail(format!("no client with id {:?}", r.id)),
                Some(ended) => {
                    ctx.sessions.revoked_elsewhere(&ended);
                    println!(
                        "Removed client {}: {} grant{} ended",
                        r.id,
                        ended.len(),
                        if ended.len() == 1 { "" } else { "s" }
                    );
                    Ok(())
                }
            }
        }
    }
}
