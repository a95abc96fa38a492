//! librdkafka settings passed through from the command line (`--kafka KEY=VALUE`).
//!
//! Only connection security passes through: `security.protocol`, `sasl.*` and `ssl.*`. Everything
//! else (batching, acks, offsets, timeouts) is meshd's to choose, because the delivery guarantees
//! depend on it; a key outside the allowed families is refused with a clear error rather than
//! silently ignored or silently obeyed.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// The setting families that pass through, as shown in error messages.
pub const ALLOWED_SETTINGS: &str = "security.protocol, sasl.*, ssl.*";

/// Why a `--kafka` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KafkaSettingError {
    /// The argument is not `KEY=VALUE`.
    #[error("`--kafka {argument}` is not KEY=VALUE")]
    NotKeyValue {
        /// The argument as given.
        argument: String,
    },
    /// The key is outside the families that pass through.
    #[error(
        "`--kafka {key}=…` is not a setting meshd passes through (allowed: {ALLOWED_SETTINGS})"
    )]
    NotAllowed {
        /// The key.
        key: String,
    },
    /// The same key was given twice.
    #[error("`--kafka {key}=…` is given more than once")]
    Duplicate {
        /// The key.
        key: String,
    },
    /// librdkafka does not accept the key or its value.
    #[error("librdkafka refuses `--kafka {key}=…`: {reason}")]
    Rejected {
        /// The key.
        key: String,
        /// librdkafka's explanation.
        reason: String,
    },
}

/// Validated pass-through settings, applied to every client meshd creates.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    entries: BTreeMap<String, String>,
}

impl KafkaSettings {
    /// Parses and checks `KEY=VALUE` arguments, including a dry run through librdkafka so a
    /// misspelt key or value fails at start-up, not on the first connection.
    pub fn parse<I, S>(arguments: I) -> Result<Self, KafkaSettingError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut entries = BTreeMap::new();
        for argument in arguments {
            let argument = argument.as_ref();
            let (key, value) = argument
                .split_once('=')
                .filter(|(key, _)| !key.trim().is_empty())
                .ok_or_else(|| KafkaSettingError::NotKeyValue {
                    argument: argument.to_owned(),
                })?;
            let key = key.trim();
            if !is_allowed(key) {
                return Err(KafkaSettingError::NotAllowed {
                    key: key.to_owned(),
                });
            }
            if entries.insert(key.to_owned(), value.to_owned()).is_some() {
                return Err(KafkaSettingError::Duplicate {
                    key: key.to_owned(),
                });
            }
        }
        for (key, value) in &entries {
            let mut probe = ClientConfig::new();
            probe.set(key, value);
            probe
                .create_native_config()
                .map_err(|error| KafkaSettingError::Rejected {
                    key: key.clone(),
                    reason: error.to_string(),
                })?;
        }
        Ok(KafkaSettings { entries })
    }

    /// Copies the settings onto a client configuration.
    pub fn apply(&self, config: &mut ClientConfig) {
        for (key, value) in &self.entries {
            config.set(key, value);
        }
    }

    /// Whether no setting was given.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys given, sorted (values stay out of logs: they hold passwords).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys()).finish()
    }
}

fn is_allowed(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_settings_pass_through() {
        let settings = KafkaSettings::parse([
            "security.protocol=SASL_SSL",
            "sasl.mechanism=SCRAM-SHA-512",
            "sasl.username=meshd",
            "sasl.password=a=b",
            "ssl.ca.location=/etc/ssl/certs/ca-certificates.crt",
        ])
        .unwrap();
        let mut config = ClientConfig::new();
        settings.apply(&mut config);
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.password"), Some("a=b"));
        assert_eq!(
            settings.keys().collect::<Vec<_>>(),
            [
                "sasl.mechanism",
                "sasl.password",
                "sasl.username",
                "security.protocol",
                "ssl.ca.location"
            ]
        );
    }

    #[test]
    fn other_keys_are_refused_with_the_allowed_list() {
        let error = KafkaSettings::parse(["acks=0"]).unwrap_err();
        assert_eq!(error, KafkaSettingError::NotAllowed { key: "acks".into() });
        assert!(error.to_string().contains(ALLOWED_SETTINGS));
    }

    #[test]
    fn an_argument_without_equals_is_refused() {
        let error = KafkaSettings::parse(["security.protocol"]).unwrap_err();
        assert!(matches!(error, KafkaSettingError::NotKeyValue { .. }));
        let error = KafkaSettings::parse(["=SSL"]).unwrap_err();
        assert!(matches!(error, KafkaSettingError::NotKeyValue { .. }));
    }

    #[test]
    fn a_value_librdkafka_does_not_know_is_refused_at_parse_time() {
        let error = KafkaSettings::parse(["security.protocol=carrier-pigeon"]).unwrap_err();
        assert!(
            matches!(&error, KafkaSettingError::Rejected { key, .. } if key == "security.protocol"),
            "{error}"
        );
        let error = KafkaSettings::parse(["ssl.no.such.thing=1"]).unwrap_err();
        assert!(
            matches!(error, KafkaSettingError::Rejected { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let error = KafkaSettings::parse(["sasl.username=a", "sasl.username=b"]).unwrap_err();
        assert!(matches!(error, KafkaSettingError::Duplicate { .. }));
    }

    #[test]
    fn debug_output_hides_values() {
        let settings = KafkaSettings::parse(["sasl.password=hunter2"]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
