//! The embedded broker: librdkafka's mock cluster, so meshd and its examples speak real Kafka
//! protocol on any machine without a Kafka installation. It runs in a process of its own (meshd
//! itself, as `meshd embedded-broker`): the mock cluster is test code that bad bytes on its port
//! can abort, and meshd must outlive that (see [`super::broker_process`]).
//!
//! meshd talks to the process over its stdin and stdout ([`super::broker_command`]). The process
//! is in its own process group, so a terminal's Ctrl-C reaches meshd alone, which drains its
//! produce routes against a broker still there; it ends when meshd closes its stdin, or dies.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use super::broker_command::{BrokerCommand, BOOTSTRAP, ERROR, OK};

/// Why the embedded broker could not start or carry out a command.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedBrokerError {
    /// librdkafka refused to create the mock cluster.
    #[error("could not start the embedded Kafka broker: {0}")]
    Start(String),
    /// A topic could not be created.
    #[error("could not create topic `{topic}` on the embedded broker: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// librdkafka's explanation.
        reason: String,
    },
    /// A fault could not be injected.
    #[error("the embedded broker refused the command: {0}")]
    Command(String),
    /// The broker's process is gone.
    #[error("the embedded broker has stopped")]
    Stopped,
}

/// One broker fault to inject, for tests and drills.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokerFault {
    /// Disconnect every broker and refuse new connections.
    AllBrokersDown,
    /// Accept connections again.
    AllBrokersUp,
    /// Fail the next requests of one API with these errors, in order.
    RequestErrors(RDKafkaApiKey, Vec<RDKafkaRespErr>),
    /// Forget the errors queued for one API.
    ClearRequestErrors(RDKafkaApiKey),
    /// Delay every response of the (only) broker, to slow the cluster down.
    RoundTripTime(std::time::Duration),
}

/// The program meshd runs as its embedded broker: a meshd executable, given `embedded-broker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerProgram(PathBuf);

/// The subcommand that makes meshd an embedded broker.
pub const BROKER_SUBCOMMAND: &str = "embedded-broker";

impl BrokerProgram {
    /// The running executable (through `/proc/self/exe`, which still names it when an upgrade has
    /// replaced the file on disk).
    pub fn this_executable() -> Self {
        let proc_exe = Path::new("/proc/self/exe");
        if proc_exe.exists() {
            return BrokerProgram(proc_exe.to_path_buf());
        }
        BrokerProgram(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("meshd")))
    }

    /// The meshd executable at `path`; for programs that embed meshd's library, such as its tests.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        BrokerProgram(path.into())
    }
}

impl Default for BrokerProgram {
    fn default() -> Self {
        BrokerProgram::this_executable()
    }
}

/// A running embedded broker, in its own process. Dropping it stops the process.
pub struct EmbeddedBroker {
    bootstrap: String,
    pid: u32,
    link: Mutex<Option<Link>>,
    stopping: Arc<AtomicBool>,
    waiter: Option<JoinHandle<()>>,
}

/// The broker process's stdin (commands) and stdout (answers).
struct Link {
    commands: ChildStdin,
    answers: BufReader<ChildStdout>,
}

/// Partitions given to a topic declared without a count.
pub const DEFAULT_PARTITIONS: i32 = 3;

/// How long a stopping broker may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster, listening on a loopback ephemeral port, in a process of
    /// its own running `program`.
    pub fn start(program: &BrokerProgram) -> Result<Self, EmbeddedBrokerError> {
        let mut child = Command::new(&program.0)
            .arg0("meshd")
            .arg(BROKER_SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|error| {
                EmbeddedBrokerError::Start(format!("cannot run {}: {error}", program.0.display()))
            })?;
        let (Some(commands), Some(answers)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(refuse_start(
                child,
                "its stdin and stdout are not pipes".into(),
            ));
        };
        let mut answers = BufReader::new(answers);
        let mut first = String::new();
        let _ = answers.read_line(&mut first);
        let first = first.trim_end();
        let bootstrap = match (first.strip_prefix(BOOTSTRAP), first.strip_prefix(ERROR)) {
            (Some(bootstrap), _) => bootstrap.to_owned(),
            (None, Some(reason)) => return Err(refuse_start(child, reason.to_owned())),
            (None, None) => {
                let said = format!(
                    "{} {BROKER_SUBCOMMAND} is not a meshd embedded broker (it said {first:?})",
                    program.0.display()
                );
                return Err(refuse_start(child, said));
            }
        };
        let pid = child.id();
        let stopping = Arc::new(AtomicBool::new(false));
        let waiter = watch_exit(child, Arc::clone(&stopping))?;
        Ok(EmbeddedBroker {
            bootstrap,
            pid,
            link: Mutex::new(Some(Link { commands, answers })),
            stopping,
            waiter: Some(waiter),
        })
    }

    /// The `host:port` list clients connect to.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// The broker process's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Creates a topic; an existing topic is left as it is.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), EmbeddedBrokerError> {
        let refused = |reason: String| EmbeddedBrokerError::CreateTopic {
            topic: name.to_owned(),
            reason,
        };
        self.call(&BrokerCommand::CreateTopic {
            name: name.to_owned(),
            partitions,
        })?
        .map_err(refused)
    }

    /// Injects a fault (brokers down, request errors) into the cluster.
    pub fn inject(&self, fault: BrokerFault) -> Result<(), EmbeddedBrokerError> {
        self.call(&fault.into())?
            .map_err(EmbeddedBrokerError::Command)
    }

    /// Sends `command` and reads its answer: `Ok(Err(reason))` when the broker refused it.
    fn call(&self, command: &BrokerCommand) -> Result<Result<(), String>, EmbeddedBrokerError> {
        let line = match command.to_line() {
            Ok(line) => line,
            Err(reason) => return Ok(Err(reason)),
        };
        let mut link = self.link.lock().map_err(|_| EmbeddedBrokerError::Stopped)?;
        let link = link.as_mut().ok_or(EmbeddedBrokerError::Stopped)?;
        writeln!(link.commands, "{line}")
            .and_then(|()| link.commands.flush())
            .map_err(|_| EmbeddedBrokerError::Stopped)?;
        let mut answer = String::new();
        match link.answers.read_line(&mut answer) {
            Ok(0) | Err(_) => return Err(EmbeddedBrokerError::Stopped),
            Ok(_) => {}
        }
        let answer = answer.trim_end();
        if answer == OK {
            return Ok(Ok(()));
        }
        Ok(Err(answer.strip_prefix(ERROR).unwrap_or(answer).to_owned()))
    }
}

/// Kills a broker process that did not start, and says why it did not.
fn refuse_start(mut child: Child, reason: String) -> EmbeddedBrokerError {
    let _ = child.kill();
    let _ = child.wait();
    EmbeddedBrokerError::Start(reason)
}

/// Waits for the broker process to exit; an exit meshd did not ask for is logged as an error.
fn watch_exit(
    mut child: Child,
    stopping: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, EmbeddedBrokerError> {
    std::thread::Builder::new()
        .name("meshd-broker-watch".into())
        .spawn(move || {
            let status = child.wait();
            if !stopping.load(Ordering::SeqCst) {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                tracing::error!(
                    pid = child.id(),
                    %status,
                    "the embedded Kafka broker exited; produce routes answer 503 and streams \
                     wait until meshd restarts (the embedded broker is for development: give \
                     --brokers for a real cluster)"
                );
            }
        })
        .map_err(|error| EmbeddedBrokerError::Start(error.to_string()))
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("bootstrap", &self.bootstrap)
            .field("pid", &self.pid)
            .finish()
    }
}

impl Drop for EmbeddedBroker {
    /// Closes the broker's stdin, which ends it; kills it if it has not ended within
    /// [`STOP_GRACE`] (a stopped process, a wedged cluster).
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Ok(mut link) = self.link.lock() {
            link.take();
        }
        let Some(waiter) = self.waiter.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_GRACE;
        while !waiter.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !waiter.is_finished() {
            if let Ok(pid) = libc::pid_t::try_from(self.pid) {
                // SAFETY: kill(2) with a pid this process spawned and has not yet reaped (the
                // waiter reaps it), so the id cannot have been reused.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = waiter.join();
    }
}
