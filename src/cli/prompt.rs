//! Questions at the terminal. Prompts go to stderr so stdout carries only results; passwords
//! are read without echo.

use std::io::{BufRead, IsTerminal, Write};

use super::{fail, CliResult};

/// True when a person can answer questions on stdin.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks for a line; an empty answer takes `default` when there is one.
pub fn ask(label: &str, default: Option<&str>) -> CliResult<String> {
    match default {
        Some(d) => eprint!("{label} [{d}]: "),
        None => eprint!("{label}: "),
    }
    std::io::stderr().flush()?;
    let answer = read_line()?;
    Ok(match (answer.trim(), default) {
        ("", Some(d)) => d.to_string(),
        (a, _) => a.to_string(),
    })
}

/// A yes/no question whose default is no.
pub fn confirm(question: &str) -> CliResult<bool> {
    let answer = ask(&format!("{question} [y/N]"), None)?;
    Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// Asks for a password twice without echo; they must match.
pub fn new_password(hint: &str) -> CliResult<String> {
    let first = rpassword::prompt_password(format!("Password{hint}: "))?;
    let second = rpassword::prompt_password("Repeat the password: ")?;
    if first != second {
        return fail("the passwords did not match");
    }
    Ok(first)
}

/// The first line of stdin, for `--password-stdin`.
pub fn password_from_stdin() -> CliResult<String> {
    let line = read_line()?;
    if line.is_empty() {
        return fail("--password-stdin: nothing was read from stdin");
    }
    Ok(line)
}

fn read_line() -> CliResult<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
