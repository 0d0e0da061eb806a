//! The server's log, captured for tests that check a failure is explained there. One buffer for
//! the whole test binary: look for lines only the test at hand can produce.
//!
//! With `BOUNCER_TEST_LOG_FILE` set (`.ci/run` does), every line of every server the suite
//! boots, down to `debug`, is also appended to that file, and `tests/log_secrets.py` then
//! checks that no secret, password or token of the suite appears in it.

use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, Once};

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static FILE: Mutex<Option<File>> = Mutex::new(None);

/// Appends to `BOUNCER_TEST_LOG_FILE`, one whole event per write.
struct ToFile;

impl Write for ToFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(file) = FILE.lock().unwrap().as_mut() {
            file.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (once per test binary; every `spawn_app` calls it): warnings and errors
/// into the buffer [`logged`] reads, and everything into `BOUNCER_TEST_LOG_FILE` when set.
pub fn capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let to_file = std::env::var_os("BOUNCER_TEST_LOG_FILE").map(|path| {
            let file = File::options()
                .create(true)
                .append(true)
                .open(&path)
                .expect("BOUNCER_TEST_LOG_FILE can be opened");
            *FILE.lock().unwrap() = Some(file);
            tracing_subscriber::fmt::layer()
                .with_writer(|| ToFile)
                .with_ansi(false)
                // The test's own HTTP clients (its cookie jar, its request URLs) are the
                // test's business, not the server's log.
                .with_filter(EnvFilter::new(
                    "debug,hyper=info,hyper_util=info,h2=info,rustls=info,reqwest=info,\
                     cookie_store=off,fantoccini=info",
                ))
        });
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(|| Capture)
                    .with_ansi(false)
                    .with_filter(LevelFilter::WARN),
            )
            .with(to_file)
            .try_init();
    });
}

/// Whether one logged line contains every one of `needles` (case-insensitive).
pub fn logged(needles: &[&str]) -> bool {
    let log = String::from_utf8_lossy(&LOG.lock().unwrap()).to_lowercase();
    log.lines()
        .any(|line| needles.iter().all(|n| line.contains(&n.to_lowercase())))
}
