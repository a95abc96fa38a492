//! `shared` rate limits, counted in Redis so every meshd behind a load balancer draws from one
//! bucket. One atomic Lua script runs the same GCRA as the local buckets, on Redis' own clock
//! (`TIME`), so the instances' clocks do not matter.
//!
//! When Redis is unreachable, errors or answers slower than the timeout, the call fails fast and
//! Redis is left alone for [`RETRY_AFTER_FAILURE`] before it is tried again; meanwhile each
//! request is decided by its limit's `fail` mode (see [`super::LimitDecision`]): `local` counts in
//! this process (Kong's `fault_tolerant = true` without dropping the limit: each instance limits
//! on its own), `open` lets it through, `closed` refuses it. [`SharedLimitStore::errors`] counts
//! the failed calls and [`SharedLimitStore::fallbacks`] the requests decided without Redis.
//!
//! Each thread keeps its own connection: a multiplexed connection is driven by a task on the
//! runtime that opened it, and meshd runs one single-threaded runtime per worker, so sharing one
//! connection would make every worker wait on the one that opened it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meshwork_bundle::StoreFailure;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};
use tokio::sync::Mutex;

use super::gcra::{Gcra, RateLimitStatus, Verdict};
use super::local::Clock;
use super::{CountFuture, SharedCountError, SharedCounter};

/// How long a Redis call may take before the request is decided locally.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);

/// How long Redis is left alone after a failure.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// GCRA on Redis' clock, in microseconds. KEYS[1] the bucket; ARGV[1] the emission interval;
/// ARGV[2] the tolerance (emission × burst). Returns {1, remaining µs, reset µs} when the
/// request passes, {0, retry-after µs, reset µs} when it does not.
const GCRA_SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + emission
local horizon = now + tolerance
if new_tat > horizon then
  return {0, new_tat - horizon, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, horizon - new_tat, new_tat - now}
";

/// Why Redis did not decide a request.
#[derive(Debug, thiserror::Error)]
pub enum SharedStoreError {
    /// The URL does not parse.
    #[error("--redis {url}: {source}")]
    Url {
        /// The URL with any password hidden.
        url: String,
        /// The client's error.
        source: redis::RedisError,
    },
    /// Redis failed recently; it is not tried again until the pause is over.
    #[error("redis is paused after a failure")]
    Paused,
    /// Connecting or the script failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The script answered something else than three integers.
    #[error("redis: unexpected answer from the rate-limit script")]
    Answer,
}

/// One thread's connection to one store, opened on first use, with the store's failure
/// generation when it was opened.
type ConnectionSlot = Arc<Mutex<Option<(u64, MultiplexedConnection)>>>;

thread_local! {
    /// This thread's connection slot per store (by [`SharedLimitStore::id`]).
    static SLOTS: RefCell<HashMap<u64, ConnectionSlot>> = RefCell::new(HashMap::new());
}

/// Gives every store its own key in the per-thread slot tables.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(0);

/// The Redis that holds shared buckets, connected per thread on demand.
pub struct SharedLimitStore {
    id: u64,
    client: Client,
    config: AsyncConnectionConfig,
    script: Script,
    clock: Clock,
    paused_until: AtomicU64,
    /// Bumped by every failure: a connection opened before the last failure is not reused (it
    /// may lead to the Redis that went away; each worker thread holds its own), so a recovered
    /// Redis is not taken for down again by the first request on every other thread.
    generation: AtomicU64,
    errors: AtomicU64,
    /// Requests decided without Redis, by fail mode (local, open, closed).
    fallbacks: [AtomicU64; 3],
    url: String,
}

impl std::fmt::Debug for SharedLimitStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimitStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn fallback_index(mode: StoreFailure) -> usize {
    match mode {
        StoreFailure::Local => 0,
        StoreFailure::Open => 1,
        StoreFailure::Closed => 2,
    }
}

/// `url` with the password (if any) replaced by `***`, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl SharedLimitStore {
    /// A store for `url` (`redis://host:port/db`); nothing is connected until the first request.
    pub fn open(url: &str) -> Result<Arc<Self>, SharedStoreError> {
        Self::open_with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// [`SharedLimitStore::open`] with another per-call timeout.
    pub fn open_with_timeout(url: &str, timeout: Duration) -> Result<Arc<Self>, SharedStoreError> {
        let client = Client::open(url).map_err(|source| SharedStoreError::Url {
            url: redact(url),
            source,
        })?;
        Ok(Arc::new(SharedLimitStore {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            client,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout)),
            script: Script::new(GCRA_SCRIPT),
            clock: Clock::start(),
            paused_until: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            fallbacks: Default::default(),
            url: redact(url),
        }))
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Failed Redis calls since start (each one decided a request locally).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Counts a request decided without Redis by `mode`.
    pub fn count_fallback(&self, mode: StoreFailure) {
        self.fallbacks[fallback_index(mode)].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests decided without Redis since start, by fail mode.
    pub fn fallbacks(&self) -> [(StoreFailure, u64); 3] {
        [
            StoreFailure::Local,
            StoreFailure::Open,
            StoreFailure::Closed,
        ]
        .map(|mode| {
            (
                mode,
                self.fallbacks[fallback_index(mode)].load(Ordering::Relaxed),
            )
        })
    }

    /// Whether the last call failed and Redis is being left alone for now.
    pub fn is_paused(&self) -> bool {
        self.clock.now_ns() < self.paused_until.load(Ordering::Acquire)
    }

    /// Checks that Redis answers (for a startup log line or readiness).
    pub async fn ping(&self) -> Result<(), SharedStoreError> {
        let mut connection = self.connection().await?;
        let answer: Result<String, _> = redis::cmd("PING").query_async(&mut connection).await;
        match answer {
            Ok(_) => Ok(()),
            Err(error) => Err(self.failed(error.into()).await),
        }
    }

    /// Decides a request on bucket `key` with Redis.
    pub async fn decide(&self, key: &str, gcra: &Gcra) -> Result<Verdict, SharedStoreError> {
        let mut connection = self.connection().await?;
        let emission_us = (gcra.emission_ns() / 1_000).max(1);
        let tolerance_us = emission_us.saturating_mul(gcra.burst());
        let answer: Result<Vec<i64>, _> = self
            .script
            .key(key)
            .arg(emission_us)
            .arg(tolerance_us)
            .invoke_async(&mut connection)
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return Err(self.failed(error.into()).await),
        };
        let [allowed, first, reset_us] = answer[..] else {
            return Err(self.failed(SharedStoreError::Answer).await);
        };
        let micros = |v: i64| u64::try_from(v).unwrap_or(0);
        let reset_ns = micros(reset_us).saturating_mul(1_000);
        Ok(if allowed == 1 {
            Verdict::Allow(RateLimitStatus {
                limit: gcra.burst(),
                remaining: micros(first) / emission_us,
                reset_ns,
            })
        } else {
            Verdict::Deny {
                retry_after_ns: micros(first).saturating_mul(1_000),
                status: RateLimitStatus {
                    limit: gcra.burst(),
                    remaining: 0,
                    reset_ns,
                },
            }
        })
    }

    fn slot(&self) -> ConnectionSlot {
        SLOTS.with(|slots| Arc::clone(slots.borrow_mut().entry(self.id).or_default()))
    }

    async fn connection(&self) -> Result<MultiplexedConnection, SharedStoreError> {
        if self.clock.now_ns() < self.paused_until.load(Ordering::Acquire) {
            return Err(SharedStoreError::Paused);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let slot = self.slot();
        let mut connection = slot.lock().await;
        if let Some((opened_in, connection)) = connection.as_ref() {
            if *opened_in == generation {
                return Ok(connection.clone());
            }
        }
        match self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
        {
            Ok(opened) => {
                *connection = Some((generation, opened.clone()));
                Ok(opened)
            }
            Err(error) => {
                drop(connection);
                Err(self.failed(error.into()).await)
            }
        }
    }

    /// Records a failure: count it, drop this thread's connection (and, through the generation,
    /// every other thread's), pause Redis for a while.
    async fn failed(&self, error: SharedStoreError) -> SharedStoreError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
        let pause = u64::try_from(RETRY_AFTER_FAILURE.as_nanos()).unwrap_or(u64::MAX);
        self.paused_until
            .store(self.clock.now_ns().saturating_add(pause), Ordering::Release);
        *self.slot().lock().await = None;
        error
    }
}

impl SharedCounter for SharedLimitStore {
    fn decide<'a>(&'a self, key: &'a str, gcra: &'a Gcra) -> CountFuture<'a> {
        Box::pin(async move {
            SharedLimitStore::decide(self, key, gcra)
                .await
                .map_err(|error| SharedCountError(error.to_string()))
        })
    }

    fn count_fallback(&self, mode: StoreFailure) {
        SharedLimitStore::count_fallback(self, mode);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};

    /// A `redis-server` on an ephemeral loopback port, killed when dropped.
    pub struct TestRedis {
        child: Child,
        /// `redis://127.0.0.1:<port>/`.
        pub url: String,
    }

    impl TestRedis {
        /// Starts one on `port` (which must be free).
        pub fn start_on(port: u16) -> TestRedis {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut redis = TestRedis {
                child,
                url: format!("redis://127.0.0.1:{port}/"),
            };
            assert!(
                wait_until_ready(&mut redis.child),
                "redis-server on {} exited before it was ready",
                redis.url
            );
            redis
        }

        /// Starts one, or says why not (no binary) and returns `None`.
        pub async fn start() -> Option<TestRedis> {
            if Command::new("redis-server")
                .arg("--version")
                .output()
                .is_err()
            {
                eprintln!(
                    "skipped: redis-server is not installed (apt-get install -y redis-server)"
                );
                return None;
            }
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            Some(TestRedis::start_on(port))
        }
    }

    /// Waits for redis-server's "Ready to accept connections" line (a signal, not a poll), then
    /// drains the rest of its output on a thread so that its pipe never fills. False if it exited.
    fn wait_until_ready(child: &mut Child) -> bool {
        use std::io::BufRead;
        let Some(stdout) = child.stdout.take() else {
            return false;
        };
        let mut lines = std::io::BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("Ready to accept connections"));
        std::thread::spawn(move || lines.for_each(drop));
        ready
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test]
    async fn redis_bucket_refuses_the_sixth_request_of_five_per_minute() {
        let Some(redis) = TestRedis::start().await else {
            return;
        };
        let store = SharedLimitStore::open(&redis.url).unwrap();
        let gcra = Gcra::new(5, 60_000, None).unwrap();
        let mut remaining = Vec::new();
        for _ in 0..5 {
            match store.decide("t:sixth", &gcra).await.unwrap() {
                Verdict::Allow(status) => remaining.push(status.remaining),
                denied => panic!("should pass: {denied:?}"),
            }
        }
        assert_eq!(remaining, [4, 3, 2, 1, 0]);
        match store.decide("t:sixth", &gcra).await.unwrap() {
            Verdict::Deny { retry_after_ns, .. } => {
                assert!(
                    retry_after_ns > 11_000_000_000 && retry_after_ns <= 12_000_000_000,
                    "{retry_after_ns}"
                );
            }
            allowed => panic!("sixth should be refused: {allowed:?}"),
        }
        match store.decide("t:other", &gcra).await.unwrap() {
            Verdict::Allow(_) => {}
            denied => panic!("another bucket is untouched: {denied:?}"),
        }
        assert_eq!(store.errors(), 0);
    }

    #[tokio::test]
    async fn two_stores_share_one_bucket() {
        let Some(redis) = TestRedis::start().await else {
            return;
        };
        let first = SharedLimitStore::open(&redis.url).unwrap();
        let second = SharedLimitStore::open(&redis.url).unwrap();
        let gcra = Gcra::new(4, 60_000, None).unwrap();
        let mut passed = 0;
        for i in 0..10 {
            let store = if i % 2 == 0 { &first } else { &second };
            if matches!(
                store.decide("t:shared", &gcra).await.unwrap(),
                Verdict::Allow(_)
            ) {
                passed += 1;
            }
        }
        assert_eq!(passed, 4);
    }

    #[test]
    fn a_store_outlives_the_worker_runtime_that_first_used_it() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let Some(redis) = runtime().block_on(TestRedis::start()) else {
            return;
        };
        let store = SharedLimitStore::open(&redis.url).unwrap();
        let gcra = Gcra::new(100, 60_000, None).unwrap();
        let decide_on_a_new_worker = || {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                runtime()
                    .block_on(store.decide("t:workers", &gcra))
                    .map(|verdict| matches!(verdict, Verdict::Allow(_)))
                    .map_err(|e| e.to_string())
            })
            .join()
            .unwrap()
        };
        assert_eq!(decide_on_a_new_worker(), Ok(true));
        assert_eq!(
            decide_on_a_new_worker(),
            Ok(true),
            "the first worker's runtime is gone"
        );
        assert_eq!(store.errors(), 0);
    }

    #[tokio::test]
    async fn unreachable_redis_fails_fast_and_pauses() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = SharedLimitStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        let gcra = Gcra::new(5, 60_000, None).unwrap();
        assert!(matches!(
            store.decide("k", &gcra).await,
            Err(SharedStoreError::Redis(_))
        ));
        assert!(matches!(
            store.decide("k", &gcra).await,
            Err(SharedStoreError::Paused)
        ));
        assert_eq!(store.errors(), 1);
    }

    /// A worker thread that keeps its thread-local connection between the calls it is sent.
    fn worker(
        store: Arc<SharedLimitStore>,
    ) -> std::sync::mpsc::Sender<std::sync::mpsc::Sender<bool>> {
        let (calls, received) = std::sync::mpsc::channel::<std::sync::mpsc::Sender<bool>>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let gcra = Gcra::new(1_000, 1_000, None).unwrap();
            for reply in received {
                let decided = runtime.block_on(store.decide("t:worker", &gcra)).is_ok();
                let _ = reply.send(decided);
            }
        });
        calls
    }

    fn call(worker: &std::sync::mpsc::Sender<std::sync::mpsc::Sender<bool>>) -> bool {
        let (reply, answer) = std::sync::mpsc::channel();
        worker.send(reply).unwrap();
        answer.recv().unwrap()
    }

    #[tokio::test]
    async fn after_a_failure_on_one_thread_every_thread_reconnects_to_the_recovered_redis() {
        let Some(redis) = TestRedis::start().await else {
            return;
        };
        let port: u16 = redis
            .url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let store = SharedLimitStore::open(&redis.url).unwrap();
        let (a, b) = (worker(Arc::clone(&store)), worker(Arc::clone(&store)));
        assert!(call(&a) && call(&b), "both threads connect");
        drop(redis);
        assert!(
            !call(&a),
            "Redis is gone: thread a fails and pauses the store"
        );
        let _redis = TestRedis::start_on(port);
        // The pause is a timer; what is tested here is the connection each thread uses after it.
        store.paused_until.store(0, Ordering::Release);
        assert!(
            call(&b),
            "thread b must not reuse its connection to the Redis that went away"
        );
        assert!(call(&a));
        assert_eq!(store.errors(), 1);
    }

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            redact("redis://user:hunter2@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact("redis://host:6379/"), "redis://host:6379/");
        assert!(SharedLimitStore::open("not a url").is_err());
    }

    /// Two gateways admitting through one Redis draw from one bucket: the decision core's
    /// admission reaches Redis through [`SharedCounter`].
    #[tokio::test]
    async fn admission_counts_a_shared_limit_across_instances_in_redis() {
        use crate::admit::{AdmitOptions, GatewayAdmission, RequestFacts};
        use crate::load::secrets::{Secret, SecretStore};
        use meshwork_bundle::{AdmissionStep, SecretRef};

        let Some(redis) = TestRedis::start().await else {
            return;
        };
        let mut gateway = meshwork_bundle::sample::starfleet_bundle().gateways[0].clone();
        gateway.routes.truncate(1);
        let officers = &mut gateway.routes[0];
        officers.admission.retain(|step| {
            matches!(
                step,
                AdmissionStep::Auth { .. } | AdmissionStep::RateLimit { .. }
            )
        });
        for step in &mut officers.admission {
            if let AdmissionStep::RateLimit { count, shared, .. } = step {
                *count = 3;
                *shared = true;
            }
        }
        let mut secrets = SecretStore::new();
        secrets.insert(
            &SecretRef::Env("PICARD_KEY".into()),
            Secret::new(b"engage".to_vec()),
        );
        secrets.insert(
            &SecretRef::File("picard.pw".into()),
            Secret::new(b"earl-grey".to_vec()),
        );
        let instance = || {
            let store: Arc<dyn SharedCounter> = SharedLimitStore::open(&redis.url).unwrap();
            let options = AdmitOptions {
                shared_store: Some(store),
                ..AdmitOptions::default()
            };
            GatewayAdmission::build(&gateway, &secrets, &options).unwrap()
        };
        let (first, second) = (instance(), instance());
        let mut headers = http::HeaderMap::new();
        headers.insert("x-api-key", http::HeaderValue::from_static("engage"));
        let facts = RequestFacts::new(
            &http::Method::GET,
            "/officers/7",
            &headers,
            "127.0.0.1:1".parse().unwrap(),
        );
        let mut passed = 0;
        for i in 0..6 {
            let admission = if i % 2 == 0 { &first } else { &second };
            let route = admission.route(0).unwrap();
            assert!(route.has_shared_limit());
            if route.admit(&facts).await.is_ok() {
                passed += 1;
            }
        }
        assert_eq!(passed, 3);
    }
}
