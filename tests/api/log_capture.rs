//! The server's log, captured for tests that check a failure is explained there. One buffer for
//! the whole test binary: look for lines only the test at hand can produce.

use std::io::Write;
use std::sync::{Mutex, Once};

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

/// Starts capturing warnings and errors (once per test binary).
pub fn capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| Capture)
            .with_ansi(false)
            .with_env_filter("warn")
            .try_init();
    });
}

/// Whether one logged line contains every one of `needles` (case-insensitive).
pub fn logged(needles: &[&str]) -> bool {
    let log = String::from_utf8_lossy(&LOG.lock().unwrap()).to_lowercase();
    log.lines()
        .any(|line| needles.iter().all(|n| line.contains(&n.to_lowercase())))
}
