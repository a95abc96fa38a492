//! How a running meshd stops, whatever its role: the signals and what each means (documented in
//! the README), then the drain and the shutdown. SIGTERM (Kubernetes, systemd, Docker, Nomad)
//! drains with the drain delay; SIGINT (Ctrl-C) and SIGQUIT (nginx's graceful quit) drain without
//! it, closing the listeners at once; a new meshd taking the sockets over drains it as SIGTERM
//! does; any second signal stops at once.

use std::process::ExitCode;

use meshd::RunningServer;

/// The exit status of a drain that had to cut requests or connections (timeout or second signal).
const EXIT_DRAIN_CUT: u8 = 3;

/// Serves until a stop signal (or a hand-over), drains, shuts down; the exit status says whether
/// the drain was clean.
pub fn serve_until_stopped(
    runtime: &tokio::runtime::Runtime,
    signals: &mut StopSignals,
    server: RunningServer,
) -> ExitCode {
    let plan = runtime.block_on(async {
        tokio::select! {
            signal = signals.next() => {
                tracing::info!(signal = signal.name(), "stopping; a second signal stops at once");
                match signal {
                    StopSignal::Terminate => server.drain_plan(),
                    StopSignal::Interrupt | StopSignal::Quit => server.drain_plan().without_delay(),
                }
            }
            // The new meshd said so in the log already.
            _ = server.handed_over() => server.drain_plan(),
        }
    });
    let report = runtime.block_on(server.drain_connections(plan, async {
        let again = signals.next().await;
        tracing::warn!(signal = again.name(), "second signal: stopping now");
    }));
    let code = if report.is_clean() { 0 } else { EXIT_DRAIN_CUT };
    if report.interrupted {
        // At once: no waiting for threads, streams or Kafka.
        server.flush_access_log();
        std::process::exit(i32::from(code));
    }
    // Streams commit and Kafka flushes off this thread, so a second signal can still cut it short.
    let stopping = std::thread::spawn(move || server.shutdown());
    let finished = runtime.block_on(async {
        tokio::select! {
            finished = tokio::task::spawn_blocking(move || stopping.join()) => finished.is_ok(),
            again = signals.next() => {
                tracing::warn!(signal = again.name(), "second signal: stopping now");
                false
            }
        }
    });
    if finished {
        tracing::info!("stopped");
    }
    ExitCode::from(code)
}

/// A signal asking meshd to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM.
    Terminate,
    /// SIGINT.
    Interrupt,
    /// SIGQUIT.
    Quit,
}

impl StopSignal {
    /// The signal's name, for the log.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Quit => "SIGQUIT",
        }
    }
}

/// The stop signals, listened for from start-up on.
#[cfg(unix)]
pub struct StopSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    /// Installs the handlers (inside a tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// The next stop signal.
    pub async fn next(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.quit.recv() => StopSignal::Quit,
        }
    }
}

/// Ctrl-C only, where there are no Unix signals.
#[cfg(not(unix))]
pub struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    /// Nothing to install.
    pub fn install() -> std::io::Result<Self> {
        Ok(StopSignals)
    }

    /// The next Ctrl-C.
    pub async fn next(&mut self) -> StopSignal {
        let _ = tokio::signal::ctrl_c().await;
        StopSignal::Interrupt
    }
}
