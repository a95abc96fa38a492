//! The embedded broker: librdkafka's mock cluster, run in-process so meshd and its examples speak
//! real Kafka protocol on any machine without a Kafka installation.
//!
//! The mock cluster handle is not `Send`, so one dedicated thread owns it for its whole life and
//! everything else talks to that thread through [`EmbeddedBroker`], which is `Send + Sync`.

use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

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
    /// The thread that owns the mock cluster is gone.
    #[error("the embedded broker has stopped")]
    Stopped,
}

/// One broker fault to inject, for tests and drills.
#[derive(Debug, Clone)]
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

/// A command for the thread that owns the mock cluster; each carries its reply channel.
enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: mpsc::Sender<Result<(), EmbeddedBrokerError>>,
    },
    Fault {
        fault: BrokerFault,
        reply: mpsc::Sender<Result<(), EmbeddedBrokerError>>,
    },
    Stop,
}

/// A running in-process mock Kafka cluster. Dropping it stops the cluster.
pub struct EmbeddedBroker {
    bootstrap: String,
    commands: Mutex<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

/// The id of the mock cluster's one broker.
const BROKER_ID: i32 = 1;

/// Partitions given to a topic declared without a count.
pub const DEFAULT_PARTITIONS: i32 = 3;

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster listening on a loopback ephemeral port.
    pub fn start() -> Result<Self, EmbeddedBrokerError> {
        let (commands, receiver) = mpsc::channel::<Command>();
        let (ready, started) = mpsc::channel::<Result<String, EmbeddedBrokerError>>();
        let thread = std::thread::Builder::new()
            .name("meshd-embedded-broker".into())
            .spawn(move || own_cluster(receiver, ready))
            .map_err(|error| EmbeddedBrokerError::Start(error.to_string()))?;
        let bootstrap = started.recv().map_err(|_| EmbeddedBrokerError::Stopped)??;
        Ok(EmbeddedBroker {
            bootstrap,
            commands: Mutex::new(commands),
            thread: Some(thread),
        })
    }

    /// The `host:port` list clients connect to.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Creates a topic; an existing topic is left as it is.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), EmbeddedBrokerError> {
        if partitions < 1 {
            // The mock cluster would quietly pick its own count; a topic needs at least one.
            return Err(EmbeddedBrokerError::CreateTopic {
                topic: name.to_owned(),
                reason: format!("{partitions} partitions; a topic needs at least one"),
            });
        }
        self.call(|reply| Command::CreateTopic {
            name: name.to_owned(),
            partitions,
            reply,
        })
    }

    /// Injects a fault (brokers down, request errors) into the cluster.
    pub fn inject(&self, fault: BrokerFault) -> Result<(), EmbeddedBrokerError> {
        self.call(|reply| Command::Fault { fault, reply })
    }

    fn call(
        &self,
        command: impl FnOnce(mpsc::Sender<Result<(), EmbeddedBrokerError>>) -> Command,
    ) -> Result<(), EmbeddedBrokerError> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .lock()
            .map_err(|_| EmbeddedBrokerError::Stopped)?
            .send(command(reply))
            .map_err(|_| EmbeddedBrokerError::Stopped)?;
        answer.recv().map_err(|_| EmbeddedBrokerError::Stopped)?
    }
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Ok(commands) = self.commands.lock() {
            let _ = commands.send(Command::Stop);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The owning thread: create the cluster, report its address, then serve commands until told to
/// stop (or until every sender is gone).
fn own_cluster(
    commands: mpsc::Receiver<Command>,
    ready: mpsc::Sender<Result<String, EmbeddedBrokerError>>,
) {
    let cluster = match MockCluster::new(1) {
        Ok(cluster) => cluster,
        Err(error) => {
            let _ = ready.send(Err(EmbeddedBrokerError::Start(error.to_string())));
            return;
        }
    };
    if ready.send(Ok(cluster.bootstrap_servers())).is_err() {
        return;
    }
    while let Ok(command) = commands.recv() {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                reply,
            } => {
                let result = create_topic(&cluster, &name, partitions);
                let _ = reply.send(result);
            }
            Command::Fault { fault, reply } => {
                let _ = reply.send(apply_fault(&cluster, fault));
            }
            Command::Stop => break,
        }
    }
}

fn create_topic(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    name: &str,
    partitions: i32,
) -> Result<(), EmbeddedBrokerError> {
    match cluster.create_topic(name, partitions, 1) {
        Ok(()) => Ok(()),
        Err(rdkafka::error::KafkaError::MockCluster(
            rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
        )) => Ok(()),
        Err(error) => Err(EmbeddedBrokerError::CreateTopic {
            topic: name.to_owned(),
            reason: error.to_string(),
        }),
    }
}

fn apply_fault(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    fault: BrokerFault,
) -> Result<(), EmbeddedBrokerError> {
    let refused =
        |error: rdkafka::error::KafkaError| EmbeddedBrokerError::Command(error.to_string());
    match fault {
        BrokerFault::AllBrokersDown => cluster.broker_down(-1).map_err(refused),
        BrokerFault::AllBrokersUp => cluster.broker_up(-1).map_err(refused),
        BrokerFault::RequestErrors(api, errors) => {
            cluster.request_errors(api, &errors);
            Ok(())
        }
        BrokerFault::ClearRequestErrors(api) => {
            cluster.clear_request_errors(api);
            Ok(())
        }
        BrokerFault::RoundTripTime(delay) => cluster
            .broker_round_trip_time(BROKER_ID, delay)
            .map_err(refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_loopback_address_and_creates_topics() {
        let broker = EmbeddedBroker::start().unwrap();
        assert!(
            broker.bootstrap_servers().starts_with("127.0.0.1:")
                || broker.bootstrap_servers().starts_with("localhost:"),
            "{}",
            broker.bootstrap_servers()
        );
        broker.create_topic("orders", 4).unwrap();
        // Creating it again is not an error: reloads re-declare the same topics.
        broker.create_topic("orders", 4).unwrap();
    }

    #[test]
    fn refuses_a_topic_with_no_partitions() {
        let broker = EmbeddedBroker::start().unwrap();
        let error = broker.create_topic("empty", 0).unwrap_err();
        assert!(
            matches!(error, EmbeddedBrokerError::CreateTopic { .. }),
            "{error}"
        );
    }
}
