//! The signals that stop `meshd run`, and what each means (documented in the README):
//! SIGTERM (Kubernetes, systemd, Docker, Nomad) drains with the drain delay; SIGINT (Ctrl-C) and
//! SIGQUIT (nginx's graceful quit) drain without it, closing the listeners at once; any second
//! signal stops at once.

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
