//! Which Kafka cluster meshd talks to: the embedded broker (no `--brokers`) or a real cluster,
//! and the client settings every producer and consumer starts from.

use meshwork_bundle::Topic;
use rdkafka::ClientConfig;

use super::embedded_broker::{
    BrokerProgram, EmbeddedBroker, EmbeddedBrokerError, DEFAULT_PARTITIONS,
};
use super::kafka_settings::KafkaSettings;

/// Why the cluster could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The embedded broker failed.
    #[error(transparent)]
    Embedded(#[from] EmbeddedBrokerError),
    /// `--brokers` was given but empty.
    #[error(
        "`--brokers` is empty; give host:port[,host:port…] or leave it out for the embedded broker"
    )]
    NoBrokers,
    /// Security settings were given for the embedded broker, which speaks plaintext only.
    #[error("`--kafka` settings need `--brokers`: the embedded broker speaks plaintext only")]
    SettingsWithoutBrokers,
    /// A declared topic's partition count does not fit librdkafka's.
    #[error("topic `{topic}` declares {partitions} partitions, more than Kafka allows")]
    TooManyPartitions {
        /// The topic.
        topic: String,
        /// The declared count.
        partitions: u64,
    },
}

/// The Kafka cluster meshd produces to and consumes from.
#[derive(Debug)]
pub struct KafkaCluster {
    bootstrap: String,
    settings: KafkaSettings,
    embedded: Option<EmbeddedBroker>,
}

impl KafkaCluster {
    /// Starts the embedded broker (running `program`) and logs its bootstrap address.
    pub fn embedded(program: &BrokerProgram) -> Result<Self, ClusterError> {
        let broker = EmbeddedBroker::start(program)?;
        let bootstrap = broker.bootstrap_servers().to_owned();
        // The address is in the message (not a field) so that the line reads
        // "…; bootstrap 127.0.0.1:PORT", which is what users and the end-to-end script look for.
        tracing::info!(
            pid = broker.pid(),
            "embedded Kafka broker (librdkafka mock cluster) listening; bootstrap {bootstrap}"
        );
        Ok(KafkaCluster {
            bootstrap,
            settings: KafkaSettings::default(),
            embedded: Some(broker),
        })
    }

    /// Uses a real cluster at `brokers` (`host:port[,host:port…]`).
    pub fn external(brokers: &str, settings: KafkaSettings) -> Result<Self, ClusterError> {
        let brokers = brokers.trim();
        if brokers.is_empty() {
            return Err(ClusterError::NoBrokers);
        }
        Ok(KafkaCluster {
            bootstrap: brokers.to_owned(),
            settings,
            embedded: None,
        })
    }

    /// The cluster meshd's command line asks for: external with `--brokers`, embedded otherwise
    /// (running `program`).
    pub fn from_flags(
        brokers: Option<&str>,
        settings: KafkaSettings,
        program: &BrokerProgram,
    ) -> Result<Self, ClusterError> {
        match brokers {
            Some(brokers) => Self::external(brokers, settings),
            None if !settings.is_empty() => Err(ClusterError::SettingsWithoutBrokers),
            None => Self::embedded(program),
        }
    }

    /// The bootstrap servers clients connect to.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// The embedded broker, when meshd runs one (tests inject faults through it).
    pub fn embedded_broker(&self) -> Option<&EmbeddedBroker> {
        self.embedded.as_ref()
    }

    /// A client configuration with the bootstrap servers and the pass-through settings.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        self.settings.apply(&mut config);
        config
    }

    /// Creates the bundle's topics on the embedded broker (with their declared partitions).
    /// A real cluster's topics belong to its operators, so nothing is created there.
    pub fn declare_topics(&self, topics: &[Topic]) -> Result<(), ClusterError> {
        let Some(broker) = &self.embedded else {
            return Ok(());
        };
        for topic in topics {
            let partitions = match topic.partitions {
                None => DEFAULT_PARTITIONS,
                Some(count) => {
                    i32::try_from(count).map_err(|_| ClusterError::TooManyPartitions {
                        topic: topic.name.clone(),
                        partitions: count,
                    })?
                }
            };
            broker.create_topic(&topic.name, partitions)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_without_brokers_are_refused() {
        let settings = KafkaSettings::parse(["security.protocol=SSL"]).unwrap();
        let error =
            KafkaCluster::from_flags(None, settings, &BrokerProgram::default()).unwrap_err();
        assert!(matches!(error, ClusterError::SettingsWithoutBrokers));
    }

    #[test]
    fn external_cluster_config_carries_brokers_and_settings() {
        let settings = KafkaSettings::parse(["security.protocol=SSL"]).unwrap();
        let cluster = KafkaCluster::from_flags(
            Some(" k1:9092,k2:9092 "),
            settings,
            &BrokerProgram::default(),
        )
        .unwrap();
        let config = cluster.client_config();
        assert_eq!(config.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
        assert_eq!(config.get("security.protocol"), Some("SSL"));
        assert!(cluster.embedded_broker().is_none());
    }

    #[test]
    fn empty_brokers_are_refused() {
        let error = KafkaCluster::from_flags(
            Some("  "),
            KafkaSettings::default(),
            &BrokerProgram::default(),
        )
        .unwrap_err();
        assert!(matches!(error, ClusterError::NoBrokers));
    }
}
