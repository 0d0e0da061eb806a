//! Bouncer's benchmark: measures Bouncer against this machine's limits, each measured in the
//! same run, and prints one table.
//!
//!     cargo run --release --example bench -- --quick    # a few seconds: every scenario once
//!     cargo run --release --example bench -- --full     # 10 s per scenario, for BENCHMARKS.md
//!     cargo run --release --example bench -- --admin-users   # the admin user list at 100,000 users
//!     cargo run --release --example bench -- --metrics   # the token GET with and without metrics
//!
//! It builds and starts the release `bouncer` binary on a fresh database (limiters opened wide),
//! starts a minimal reference server that only verifies the same HS256 JWT, and drives both
//! from this process on loopback only, for a bounded time.

mod admin_users;
mod content;
mod ldap;
mod load;
mod memory;
mod metrics;
mod migration;
mod moderation;
mod nginx;
mod processes;
mod provider;
mod reference;
mod scenarios;

use std::process::ExitCode;
use std::time::Duration;

/// How long each scenario runs.
#[derive(Clone, Copy)]
pub struct Mode {
    pub name: &'static str,
    pub duration: Duration,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(reference::CHILD_FLAG) {
        return reference::run_child(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--admin-users") {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        return match runtime.block_on(admin_users::run()) {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("--metrics") {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let full = Mode {
            name: "full, metrics rows",
            duration: Duration::from_secs(10),
        };
        return match runtime.block_on(metrics::rows(full)) {
            Ok(rows) => {
                println!("{}", scenarios::report(full, rows));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let mode = match args.first().map(String::as_str) {
        Some("--quick") => Mode {
            name: "quick",
            duration: Duration::from_millis(1500),
        },
        Some("--full") => Mode {
            name: "full",
            duration: Duration::from_secs(10),
        },
        _ => {
            eprintln!("usage: cargo run --release --example bench -- --quick|--full");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(scenarios::run_all(mode)) {
        Ok(report) => {
            println!("{report}");
            if report.complete() {
                ExitCode::SUCCESS
            } else {
                eprintln!("bench: some scenario produced no number");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
