//! Password hashing: argon2id at OWASP parameters on a fixed pool of worker threads, one per
//! core. Requests wait their turn in a queue instead of starving the async runtime, and each
//! worker reuses one 19 MiB work area: letting every hash allocate its own left hundreds of
//! MiB cached by the allocator after a burst of logins. A worker gives its area back after a
//! quiet spell without jobs (`PASSWORD_HASH_MEMORY_RELEASE`), so an idle server does not keep
//! 19 MiB per core for the sign-in it served an hour ago.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane, 32-byte output.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;
/// Stored hashes asking for more memory than this are refused rather than computed.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// The password is right; `rehash` asks for the stored hash to be replaced because it is a
    /// LibreChat bcrypt hash or uses weaker parameters than ours.
    Match {
        rehash: bool,
    },
}

/// How long a worker keeps its work area without a job, unless told otherwise: long enough
/// that a steady trickle of logins never pays for a fresh area, short enough that an idle
/// server soon gives it back.
pub const DEFAULT_MEMORY_RELEASE: Duration = Duration::from_secs(60);

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// Jobs that may wait for a worker, per worker, unless told otherwise: at OWASP's parameters
/// about a second of work, so no request waits long, and a flood is answered at once.
pub const DEFAULT_QUEUE_PER_WORKER: usize = 32;

pub struct PasswordHasher {
    /// A bounded multi-consumer queue, so each idle worker waits (and times out) on its own,
    /// and a full queue refuses at once (`Error::Overloaded`) instead of letting waits grow.
    jobs: Sender<Job>,
    /// How many workers hold a work area now.
    areas_held: Arc<AtomicUsize>,
    /// Each job's wait for a worker, and the refusals of a full queue (no-ops unless metrics
    /// are on).
    wait: metrics::Histogram,
    refused: metrics::Counter,
}

impl PasswordHasher {
    /// Starts `workers` hashing threads, each giving its work area back after
    /// `DEFAULT_MEMORY_RELEASE` without a job. They end when the hasher is dropped.
    pub fn new(workers: usize) -> Self {
        Self::with_limits(
            workers,
            DEFAULT_MEMORY_RELEASE,
            workers.max(1) * DEFAULT_QUEUE_PER_WORKER,
        )
    }

    /// As `new`, with work areas given back after `release_after` without a job, and at most
    /// `queue_max` jobs waiting.
    pub fn with_limits(workers: usize, release_after: Duration, queue_max: usize) -> Self {
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(queue_max.max(1));
        let areas_held = Arc::new(AtomicUsize::new(0));
        for n in 0..workers.max(1) {
            let queue = queue.clone();
            let areas_held = areas_held.clone();
            std::thread::Builder::new()
                .name(format!("bouncer-hash-{n}"))
                .spawn(move || work(&queue, release_after, Workspace::new(areas_held)))
                .expect("spawning a password hashing thread");
        }
        Self {
            jobs,
            areas_held,
            wait: metrics::Histogram::noop(),
            refused: metrics::Counter::noop(),
        }
    }

    /// Records each job's wait in `wait` and each refusal of a full queue in `refused`.
    pub fn observed_by(mut self, (wait, refused): (metrics::Histogram, metrics::Counter)) -> Self {
        self.wait = wait;
        self.refused = refused;
        self
    }

    /// One worker per core; `queue_max`: jobs that may wait, or `None` for
    /// `DEFAULT_QUEUE_PER_WORKER` per worker.
    pub fn per_core(release_after: Duration, queue_max: Option<usize>) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_limits(
            workers,
            release_after,
            queue_max.unwrap_or(workers * DEFAULT_QUEUE_PER_WORKER),
        )
    }

    /// Jobs waiting for a worker now.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// How many workers hold a work area (19 MiB each) at this moment.
    pub fn work_areas_held(&self) -> usize {
        self.areas_held.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let queued_at = std::time::Instant::now();
        let wait = self.wait.clone();
        let job: Job = Box::new(move |ws| {
            wait.record(queued_at.elapsed().as_secs_f64());
            let _ = reply.send(work(ws));
        });
        self.jobs.try_send(job).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(_) => {
                self.refused.increment(1);
                Error::Overloaded
            }
            crossbeam_channel::TrySendError::Disconnected(_) => {
                anyhow!("password hasher stopped").into()
            }
        })?;
        answer
            .await
            .map_err(|_| anyhow!("password hashing failed").into())
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        Ok(self.run(move |ws| hash_sync(ws, &password)).await??)
    }

    /// Checks a password against a stored hash. With no stored hash (unknown email, social
    /// account) it does the same work as a real check and reports a mismatch, so the answer
    /// takes the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verification> {
        self.run(move |ws| match stored {
            Some(stored) => verify_sync(ws, &password, &stored),
            None => {
                let _ = hash_sync(ws, &password);
                Verification::Mismatch
            }
        })
        .await
    }
}

/// A worker's life: jobs as they come, on one kept work area; after `release_after` without a
/// job the area goes back, and the worker sleeps until the next job without waking.
fn work(queue: &Receiver<Job>, release_after: Duration, mut workspace: Workspace) {
    loop {
        let next = if workspace.is_held() {
            queue.recv_timeout(release_after)
        } else {
            queue.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match next {
            Ok(job) => job(&mut workspace),
            Err(RecvTimeoutError::Timeout) => workspace.release(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A worker's reusable argon2 memory, counted in the hasher's `areas_held`.
struct Workspace {
    blocks: Vec<Block>,
    areas_held: Arc<AtomicUsize>,
}

impl Workspace {
    fn new(areas_held: Arc<AtomicUsize>) -> Self {
        Self {
            blocks: Vec::new(),
            areas_held,
        }
    }

    fn is_held(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// Our own parameters' memory, allocated on first use and kept until `release`.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            if !self.is_held() {
                self.areas_held.fetch_add(1, Ordering::Relaxed);
            }
            self.blocks = vec![Block::default(); count];
        }
        &mut self.blocks[..count]
    }

    /// Gives the memory back, to the operating system and not only to the allocator.
    fn release(&mut self) {
        if !self.is_held() {
            return;
        }
        self.blocks = Vec::new();
        self.areas_held.fetch_sub(1, Ordering::Relaxed);
        return_freed_memory_to_the_os();
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.is_held() {
            self.areas_held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// glibc keeps freed memory in its arenas: a freed 19 MiB area has raised the dynamic mmap
/// threshold above its size, so the next one comes from a per-thread arena, and freeing it
/// there returns nothing to the OS. `malloc_trim(0)` hands every arena's free pages back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory_to_the_os() {
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointer from us.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl, macOS) give large blocks back on free.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory_to_the_os() {}

fn our_params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).expect("valid argon2 parameters")
}

fn hash_sync(ws: &mut Workspace, password: &str) -> anyhow::Result<String> {
    let params = our_params();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_buf = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| anyhow!("salt: {e}"))?;
    let mut out = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            raw_salt,
            &mut out,
            ws.blocks(params.block_count()),
        )
        .map_err(|e| anyhow!("argon2 hashing failed: {e}"))?;
    let output = Output::new(&out).map_err(|e| anyhow!("argon2 output: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={MEMORY_KIB},t={PASSES},p={LANES}${}${output}",
        salt.as_str()
    ))
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

fn verify_sync(ws: &mut Workspace, password: &str, stored: &str) -> Verification {
    if is_bcrypt(stored) {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verification::Match { rehash: true },
            _ => Verification::Mismatch,
        };
    }
    match verify_argon2(ws, password, stored) {
        Some(v) => v,
        None => {
            // Unknown or unusable format: spend the same time as a real check, then refuse.
            let _ = hash_sync(ws, password);
            Verification::Mismatch
        }
    }
}

/// `None` when the stored string is not an argon2 hash we can check.
fn verify_argon2(ws: &mut Workspace, password: &str, stored: &str) -> Option<Verification> {
    let parsed = PasswordHash::new(stored).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::V0x13,
    };
    let params = Params::try_from(&parsed).ok()?;
    if params.m_cost() > MAX_MEMORY_KIB {
        tracing::warn!(
            m_cost = params.m_cost(),
            "stored argon2 hash asks for too much memory"
        );
        return None;
    }
    let expected = parsed.hash?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
    let mut out = vec![0u8; expected.len()];
    let weaker = algorithm != Algorithm::Argon2id
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < PASSES;
    let count = params.block_count();
    let ctx = Argon2::new(algorithm, version, params);
    let computed = if count <= MEMORY_KIB as usize {
        ctx.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, ws.blocks(count))
    } else {
        ctx.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            vec![Block::default(); count],
        )
    };
    computed.ok()?;
    // `Output` compares in constant time.
    let matches = Output::new(&out).ok()? == expected;
    Some(if matches {
        Verification::Match { rehash: weaker }
    } else {
        Verification::Mismatch
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier};

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap(),
            Verification::Match { rehash: false }
        );
        assert_eq!(
            hasher.verify("wrong".into(), Some(hash)).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher.verify("x".into(), None).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher
                .verify("x".into(), Some("garbage".into()))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn interoperates_with_standard_phc_strings() {
        let hasher = PasswordHasher::new(1);
        // Ours verifies with the argon2 crate's own verifier...
        let ours = hasher.hash("interop".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"interop", &parsed)
            .is_ok());
        // ...and a standard hash with weaker parameters verifies here and asks for a rehash.
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let weak = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"interop", &salt)
        .unwrap()
        .to_string();
        assert_eq!(
            hasher
                .verify("interop".into(), Some(weak.clone()))
                .await
                .unwrap(),
            Verification::Match { rehash: true }
        );
        assert_eq!(
            hasher.verify("nope".into(), Some(weak)).await.unwrap(),
            Verification::Mismatch
        );
        // A stronger one than ours (more memory than the workspace) verifies too.
        let strong = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32768, 2, 1, None).unwrap(),
        )
        .hash_password(b"interop", &salt)
        .unwrap()
        .to_string();
        assert_eq!(
            hasher.verify("interop".into(), Some(strong)).await.unwrap(),
            Verification::Match { rehash: false }
        );
    }

    #[tokio::test]
    async fn librechat_bcrypt_hashes_verify_and_ask_for_rehash() {
        let hasher = PasswordHasher::new(1);
        let bcrypt_hash = bcrypt::hash("librechat-pass", 10)
            .unwrap()
            .replacen("$2b$", "$2a$", 1);
        assert_eq!(
            hasher
                .verify("librechat-pass".into(), Some(bcrypt_hash.clone()))
                .await
                .unwrap(),
            Verification::Match { rehash: true }
        );
        assert_eq!(
            hasher
                .verify("nope".into(), Some(bcrypt_hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    /// Polls until `check` holds, with a bound that only guards against a hang.
    async fn eventually(check: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        check()
    }

    #[tokio::test]
    async fn work_areas_are_kept_between_jobs() {
        let hasher = PasswordHasher::with_limits(2, Duration::from_secs(3600), 64);
        assert_eq!(hasher.work_areas_held(), 0, "nothing before the first job");
        let hash = hasher.hash("kept".into()).await.unwrap();
        assert_eq!(hasher.work_areas_held(), 1);
        hasher.verify("kept".into(), Some(hash)).await.unwrap();
        assert!(hasher.work_areas_held() >= 1, "reused while jobs come");
    }

    #[tokio::test]
    async fn work_areas_are_given_back_after_a_quiet_spell() {
        let hasher = PasswordHasher::with_limits(2, Duration::from_millis(20), 64);
        let hash = hasher.hash("quiet".into()).await.unwrap();
        assert!(
            eventually(|| hasher.work_areas_held() == 0).await,
            "still holding {} areas",
            hasher.work_areas_held()
        );
        // A job after the quiet spell gets a fresh area and is answered as before.
        assert_eq!(
            hasher.verify("quiet".into(), Some(hash)).await.unwrap(),
            Verification::Match { rehash: false }
        );
        assert!(eventually(|| hasher.work_areas_held() == 0).await);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_the_queued_jobs_still_finish() {
        let hasher = Arc::new(PasswordHasher::with_limits(1, Duration::from_secs(60), 2));
        // Hold the one worker until told, so the queue fills deterministically.
        let (release, hold) = crossbeam_channel::bounded::<()>(1);
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let (h, started) = (hasher.clone(), started.clone());
            tokio::spawn(async move {
                h.run(move |_| {
                    started.store(true, Ordering::SeqCst);
                    hold.recv().unwrap();
                })
                .await
            })
        };
        assert!(eventually(|| started.load(Ordering::SeqCst)).await);
        let queued: Vec<_> = (0..2)
            .map(|i| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(format!("queued-{i}")).await })
            })
            .collect();
        assert!(
            eventually(|| hasher.queued() == 2).await,
            "{} queued",
            hasher.queued()
        );
        assert!(matches!(
            hasher.hash("one too many".into()).await,
            Err(Error::Overloaded)
        ));
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for job in queued {
            assert!(job.await.unwrap().is_ok(), "a queued job finishes");
        }
        assert!(hasher.hash("room again".into()).await.is_ok());
    }

    #[tokio::test]
    async fn many_concurrent_requests_all_complete_on_few_workers() {
        let hasher = Arc::new(PasswordHasher::new(2));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(format!("password-{i}")).await.unwrap() })
            })
            .collect();
        let mut hashes = Vec::new();
        for t in tasks {
            hashes.push(t.await.unwrap());
        }
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), 8);
    }
}
