//! A closed-loop load generator: `connections` workers, each sending its next request when the
//! previous one is answered, until the deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type Op = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

pub struct LoadResult {
    pub ok: u64,
    pub failed: u64,
    pub elapsed: Duration,
    /// Latency of every successful request, microseconds, sorted.
    pub latencies_us: Vec<u64>,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The q-quantile latency in milliseconds (q in 0..=1).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

pub async fn run(connections: usize, duration: Duration, op: Op) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0u64, 0u64, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if op(worker).await {
                        ok += 1;
                        latencies.push(t.elapsed().as_micros() as u64);
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed, latencies)
            })
        })
        .collect();
    let mut result = LoadResult {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for w in workers {
        if let Ok((ok, failed, latencies)) = w.await {
            result.ok += ok;
            result.failed += failed;
            result.latencies_us.extend(latencies);
        }
    }
    result.elapsed = started.elapsed();
    result.latencies_us.sort_unstable();
    result
}

/// One request every `every`, on one connection: latency under someone else's load.
pub async fn paced(every: Duration, duration: Duration, op: Op) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tick = tokio::time::interval(every);
    let mut result = LoadResult {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    while Instant::now() < deadline {
        tick.tick().await;
        let t = Instant::now();
        if op(0).await {
            result.ok += 1;
            result.latencies_us.push(t.elapsed().as_micros() as u64);
        } else {
            result.failed += 1;
        }
    }
    result.elapsed = started.elapsed();
    result.latencies_us.sort_unstable();
    result
}
