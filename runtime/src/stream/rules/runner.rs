//! Runs one stream on its own thread and keeps it running: a run that fails is restarted after a
//! pause, and the new run resumes from the last committed offsets, so nothing is skipped.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use tokio::runtime::Handle;

use super::consume::{RunEnd, StopSignal, StreamOptions, StreamRun};
use crate::stream::deliver::Deliverer;
use crate::stream::metrics::StreamTally;
use crate::stream::rule::StreamRule;

/// A running stream. Dropping it stops the stream gracefully.
#[derive(Debug)]
pub struct StreamHandle {
    name: String,
    signal: Arc<StopSignal>,
    thread: Option<JoinHandle<()>>,
}

impl StreamHandle {
    /// Starts `rule` against the cluster `base` points at; HTTP deliveries run on `runtime`.
    pub fn start(
        rule: StreamRule,
        base: ClientConfig,
        options: StreamOptions,
        tally: StreamTally,
        runtime: Handle,
    ) -> std::io::Result<Self> {
        let name = rule.name.clone();
        let signal = Arc::new(StopSignal::default());
        let thread_signal = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name(format!("stream-{name}"))
            .spawn(move || keep_running(rule, base, options, tally, runtime, thread_signal))?;
        Ok(StreamHandle {
            name,
            signal,
            thread: Some(thread),
        })
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks the stream to stop without waiting; dropping or [`StreamHandle::stop`] then waits.
    /// Lets a caller stop many streams in parallel.
    pub fn request_stop(&self) {
        self.signal.stop();
    }

    /// Stops after the outputs in flight are acknowledged and their offsets committed.
    pub fn stop(mut self) {
        self.signal.stop();
        self.join();
    }

    /// Stops at once without waiting for outputs or committing: what a crash leaves behind.
    /// Drills and tests use it to check that a restart loses nothing.
    pub fn abandon(mut self) {
        self.signal.abandon();
        self.join();
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!(stream = %self.name, "stream thread panicked");
            }
        }
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        self.signal.stop();
        self.join();
    }
}

fn keep_running(
    rule: StreamRule,
    base: ClientConfig,
    options: StreamOptions,
    tally: StreamTally,
    runtime: Handle,
    signal: Arc<StopSignal>,
) {
    let deliverer = rule
        .deliver
        .clone()
        .map(|target| Arc::new(Deliverer::new(target, runtime.clone(), tally.clone())));
    tracing::info!(
        stream = %rule.name, topic = %rule.source_topic, group = %rule.group,
        "stream starting"
    );
    while !signal.is_stopping() {
        let outcome = StreamRun::start(&rule, &base, &options, &signal, &tally, deliverer.clone())
            .and_then(StreamRun::run);
        match outcome {
            Ok(RunEnd::Stopped) => tracing::info!(stream = %rule.name, "stream stopped"),
            Ok(RunEnd::Abandoned) => tracing::info!(stream = %rule.name, "stream abandoned"),
            Err(error) => {
                tracing::error!(stream = %rule.name, %error, "stream run failed; restarting");
                pause(&signal, options.restart_backoff);
            }
        }
    }
}

/// Sleeps up to `duration`, waking early when a stop is requested.
fn pause(signal: &StopSignal, duration: Duration) {
    let until = Instant::now() + duration;
    while !signal.is_stopping() && Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(Duration::from_millis(20).min(left));
    }
}
