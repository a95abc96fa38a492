//! Rotation: watches the workload certificate directory (`notify`: inotify on Linux) and puts new
//! files in force for new handshakes, without touching established connections.
//!
//! Writers cannot replace three files at once, so a rotation is often seen half-done (a new
//! certificate beside the old key). Such a state fails the load's checks; the certificate in force
//! stays, and the load is retried (100 ms, doubling up to the poll interval) until the files agree.
//! A slow poll (default 10 s) catches changes a watcher misses (a replaced directory, some network
//! file systems) and warns, once, when the certificate in force nears or passes its expiry.
//!
//! The watcher runs on its own thread, so it needs no async runtime and never delays a request.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::identity_metrics::IdentityMetrics;
use super::identity_store::IdentityStore;
use super::workload_cert::{CertFileContents, WorkloadCert};

/// Timings of the watcher.
#[derive(Debug, Clone, Copy)]
pub struct CertWatchOptions {
    /// How long the directory must be quiet after a change before the files are read.
    pub settle: Duration,
    /// The first retry delay after a refused load (doubles up to `poll`).
    pub retry: Duration,
    /// How often the files are compared and the expiry checked without any event.
    pub poll: Duration,
    /// Warn when less than this fraction of the certificate's lifetime is left.
    pub warn_fraction: f64,
}

impl Default for CertWatchOptions {
    fn default() -> Self {
        CertWatchOptions {
            settle: Duration::from_millis(50),
            retry: Duration::from_millis(100),
            poll: Duration::from_secs(10),
            warn_fraction: 0.2,
        }
    }
}

/// Why the watcher cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {source}", dir.display())]
pub struct CertWatchError {
    dir: PathBuf,
    source: notify::Error,
}

/// A running watcher; dropping it stops the watch.
#[derive(Debug)]
pub struct CertWatcher {
    _watcher: RecommendedWatcher,
    _stop: Sender<()>,
}

/// Watches the directory of `store`'s certificate and rotates it.
pub fn watch_cert_dir(
    store: IdentityStore,
    metrics: IdentityMetrics,
    options: CertWatchOptions,
) -> Result<CertWatcher, CertWatchError> {
    let current = store.current();
    let dir = current.paths.dir.clone();
    tracing::info!(
        identity = %current.identity,
        serial = %current.facts.serial,
        expires_in_s = current.facts.seconds_until_expiry(SystemTime::now()) as i64,
        files = current.paths.names.writer,
        "workload certificate in force; watching {} for rotation",
        dir.display()
    );
    let (events, changes) = channel::<()>();
    let notify_events = events.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let is_change = match event {
            Ok(event) => is_change(event.kind),
            Err(_) => true,
        };
        if is_change {
            let _ = notify_events.send(());
        }
    })
    .map_err(|source| CertWatchError {
        dir: dir.clone(),
        source,
    })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| CertWatchError {
            dir: dir.clone(),
            source,
        })?;
    let (stop, stopped) = channel::<()>();
    let rotation = Rotation {
        store,
        metrics,
        options,
        last_refusal: None,
        expiry_warned: ExpiryState::Fresh,
    };
    std::thread::Builder::new()
        .name("meshd-cert-watch".into())
        .spawn(move || rotation.run(&changes, &stopped))
        .map_err(|error| CertWatchError {
            dir,
            source: notify::Error::io(error),
        })?;
    drop(events);
    Ok(CertWatcher {
        _watcher: watcher,
        _stop: stop,
    })
}

// Reads of the files (ours included) are not changes; a write, create, rename, removal or
// attribute change is, and so is an unknown event.
fn is_change(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryState {
    Fresh,
    Expiring,
    Expired,
}

struct Rotation {
    store: IdentityStore,
    metrics: IdentityMetrics,
    options: CertWatchOptions,
    last_refusal: Option<String>,
    expiry_warned: ExpiryState,
}

impl Rotation {
    fn run(mut self, changes: &Receiver<()>, stopped: &Receiver<()>) {
        let mut next_poll = Instant::now() + self.options.poll;
        let mut retry: Option<(Instant, Duration)> = None;
        let mut settle_until: Option<Instant> = None;
        loop {
            if !matches!(
                stopped.try_recv(),
                Err(std::sync::mpsc::TryRecvError::Empty)
            ) {
                return;
            }
            let due = [Some(next_poll), retry.map(|(at, _)| at), settle_until]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next_poll);
            match changes.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(()) => {
                    settle_until = Some(Instant::now() + self.options.settle);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            let settled = settle_until.is_some_and(|at| at <= now);
            let retry_due = retry.is_some_and(|(at, _)| at <= now);
            let poll_due = next_poll <= now;
            if poll_due {
                next_poll = now + self.options.poll;
                self.check_expiry();
            }
            if settled || retry_due || poll_due {
                settle_until = None;
                let delay = retry.map_or(self.options.retry, |(_, delay)| delay);
                retry = match self.reload() {
                    Ok(()) => None,
                    Err(()) => Some((now + delay, (delay * 2).min(self.options.poll))),
                };
            }
        }
    }

    /// Re-reads the files; puts them in force if they changed and pass the checks.
    fn reload(&mut self) -> Result<(), ()> {
        let current = self.store.current();
        let contents = match CertFileContents::read(&current.paths) {
            Ok(contents) => contents,
            Err(error) => return self.refuse(&current, error.to_string()),
        };
        if contents == current.contents {
            self.last_refusal = None;
            return Ok(());
        }
        match WorkloadCert::check(current.paths.clone(), contents, SystemTime::now()) {
            Ok(new) => {
                tracing::info!(
                    identity = %new.identity,
                    serial = %new.facts.serial,
                    previous_serial = %current.facts.serial,
                    expires_in_s = new.facts.seconds_until_expiry(SystemTime::now()) as i64,
                    "workload certificate rotated"
                );
                self.store.replace(new);
                self.metrics.count_rotation(true);
                self.last_refusal = None;
                self.expiry_warned = ExpiryState::Fresh;
                Ok(())
            }
            Err(error) => self.refuse(&current, error.to_string()),
        }
    }

    fn refuse(&mut self, current: &WorkloadCert, reason: String) -> Result<(), ()> {
        if self.last_refusal.as_deref() != Some(reason.as_str()) {
            tracing::warn!(
                identity = %current.identity,
                serial = %current.facts.serial,
                "new certificate files refused, the current certificate stays in force (retrying): {reason}"
            );
            self.metrics.count_rotation(false);
            self.last_refusal = Some(reason);
        }
        Err(())
    }

    fn check_expiry(&mut self) {
        let current = self.store.current();
        let now = SystemTime::now();
        let left = current.facts.seconds_until_expiry(now);
        let lifetime = current
            .facts
            .not_after
            .duration_since(current.facts.not_before)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let state = if left <= 0.0 {
            ExpiryState::Expired
        } else if left < lifetime * self.options.warn_fraction {
            ExpiryState::Expiring
        } else {
            ExpiryState::Fresh
        };
        if state == self.expiry_warned {
            return;
        }
        match state {
            ExpiryState::Expired => tracing::error!(
                identity = %current.identity,
                serial = %current.facts.serial,
                "the workload certificate has expired and was not rotated: peers refuse it"
            ),
            ExpiryState::Expiring => tracing::warn!(
                identity = %current.identity,
                serial = %current.facts.serial,
                expires_in_s = left as i64,
                "the workload certificate expires soon and has not been rotated"
            ),
            ExpiryState::Fresh => {}
        }
        self.expiry_warned = state;
    }
}
