//! `bouncer create-user`: adds a user under the registration rules of the API, even with
//! registration closed (`usecases::operator::create_user`); this file asks for what is missing
//! and prints the outcome.

use rand::distributions::{Alphanumeric, DistString};

use super::{fail, prompt, CliResult};
use crate::app::AppContext;
use crate::store::users::Role;
use crate::usecases::operator::{self, NewUser};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum RoleArg {
    Admin,
    User,
}

#[derive(clap::Args)]
#[command(
    after_help = "Missing values are asked for at a terminal (the password twice, hidden); a blank password \
generates a strong one, printed once. Without a terminal, missing values are an error; pass the password \
with --password-stdin to keep it out of the process list.\n\n\
Examples:\n  \
bouncer create-user ada@example.com \"Ada Lovelace\" ada\n  \
echo 'a long passphrase' | bouncer create-user ada@example.com \"Ada Lovelace\" ada --password-stdin\n  \
bouncer create-user ops@example.com \"Ops Team\" ops '' --role ADMIN"
)]
pub struct Args {
    /// Email address (the login).
    email: Option<String>,
    /// Full name, 3 to 80 characters.
    name: Option<String>,
    /// Username, 2 to 80 characters (an empty string for none).
    username: Option<String>,
    /// Password; an empty string generates one. Prefer --password-stdin or the prompt.
    #[arg(conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Whether the email counts as verified. With mail configured, an unverified user is sent
    /// a verification email.
    #[arg(long, value_name = "true|false", default_value_t = true, action = clap::ArgAction::Set)]
    email_verified: bool,
    /// Role; by default the first user ever is ADMIN and later ones USER.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

/// Length of generated passwords: 24 alphanumerics, about 143 bits.
const GENERATED_PASSWORD_LEN: usize = 24;

fn value(
    given: Option<String>,
    label: &str,
    default: Option<&str>,
    interactive: bool,
) -> CliResult<String> {
    match given {
        Some(v) => Ok(v),
        None if interactive => prompt::ask(label, default),
        None => fail(format!(
            "missing {}: give it as an argument (stdin is not a terminal, so it cannot be asked for)",
            label.to_lowercase()
        )),
    }
}

pub async fn run(ctx: &AppContext, args: Args) -> CliResult {
    let interactive = prompt::interactive() && !args.password_stdin;
    let email = value(args.email, "Email", None, interactive)?
        .trim()
        .to_string();
    if !email.contains('@') {
        return fail(format!("{email:?} is not an email address"));
    }
    let local_part = email.split('@').next().unwrap_or("").to_string();
    let name = value(args.name, "Name", Some(&local_part), interactive)?;
    let username = value(args.username, "Username", Some(&local_part), interactive)?;
    // Before the password is asked for.
    operator::check_available(ctx, &email, &username).await?;

    let password = match args.password {
        Some(p) => p,
        None if args.password_stdin => prompt::password_from_stdin()?,
        None if interactive => prompt::new_password(" (blank to generate one)")?,
        None => return fail(
            "missing password: give it as an argument, use --password-stdin, or run at a terminal",
        ),
    };
    let generated = password.is_empty();
    let password = if generated {
        Alphanumeric.sample_string(&mut rand::rngs::OsRng, GENERATED_PASSWORD_LEN)
    } else {
        password
    };

    let new = NewUser {
        email,
        name,
        username,
        password: password.clone(),
        email_verified: args.email_verified,
        role: args.role.map(|r| match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::User => Role::User,
        }),
    };
    let created = operator::create_user(ctx, new).await?;
    let user = &created.user;
    println!(
        "Created user {} (id {}, role {}, email {}verified)",
        user.email,
        user.id,
        user.role,
        if user.email_verified { "" } else { "not " }
    );
    if generated {
        println!("Generated password (shown only now): {password}");
    }
    match created.verification_mail {
        Some(Ok(())) => println!("Verification email sent to {}", user.email),
        // The user can ask for another from the login page.
        Some(Err(e)) => {
            return fail(format!(
                "the user was created, but the verification email could not be sent: {e:#}"
            ))
        }
        None => {}
    }
    Ok(())
}
