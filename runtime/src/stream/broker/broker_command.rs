//! The line protocol between meshd and its embedded broker's process: one command per line on
//! the process's stdin, one answer per line on its stdout.
//!
//! ```text
//! meshd → broker                      broker → meshd
//!                                     bootstrap 127.0.0.1:PORT   (once, at start; or `error …`)
//! topic NAME PARTITIONS               ok | error REASON
//! down | up                           ok | error REASON
//! errors API CODE[,CODE…]             ok | error REASON   (API: Kafka's api key number)
//! clear API                           ok | error REASON
//! rtt MICROSECONDS                    ok | error REASON
//! ```
//!
//! The end of stdin stops the broker: meshd closes it when it drops the broker, and the kernel
//! closes it when meshd dies, however it dies.

use std::time::Duration;

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use super::embedded_broker::BrokerFault;

/// The answer to a command that succeeded.
pub const OK: &str = "ok";

/// The start of the broker's first line, before its address.
pub const BOOTSTRAP: &str = "bootstrap ";

/// The start of an answer that reports a failure, before its reason.
pub const ERROR: &str = "error ";

/// One command to the broker's process.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokerCommand {
    /// Create a topic (an existing one is left as it is).
    CreateTopic {
        /// The topic.
        name: String,
        /// Its partitions.
        partitions: i32,
    },
    /// Inject a fault.
    Fault(BrokerFault),
}

impl From<BrokerFault> for BrokerCommand {
    fn from(fault: BrokerFault) -> Self {
        BrokerCommand::Fault(fault)
    }
}

impl BrokerCommand {
    /// The command as one line, without its newline (API keys and error codes as Kafka's
    /// numbers); `Err` for a topic name the line cannot carry (empty, or with a blank or a line
    /// break, which would split it, or end the command early and put answers out of step).
    pub fn to_line(&self) -> Result<String, String> {
        Ok(match self {
            BrokerCommand::CreateTopic { name, .. }
                if name.is_empty() || name.contains(char::is_whitespace) =>
            {
                return Err(format!("{name:?} is not one word"));
            }
            BrokerCommand::CreateTopic { name, partitions } => format!("topic {name} {partitions}"),
            BrokerCommand::Fault(BrokerFault::AllBrokersDown) => "down".into(),
            BrokerCommand::Fault(BrokerFault::AllBrokersUp) => "up".into(),
            BrokerCommand::Fault(BrokerFault::RequestErrors(api, errors)) => {
                let codes: Vec<String> = errors.iter().map(|e| (*e as i32).to_string()).collect();
                format!("errors {} {}", i16::from(*api), codes.join(","))
            }
            BrokerCommand::Fault(BrokerFault::ClearRequestErrors(api)) => {
                format!("clear {}", i16::from(*api))
            }
            BrokerCommand::Fault(BrokerFault::RoundTripTime(delay)) => {
                format!("rtt {}", delay.as_micros())
            }
        })
    }

    /// Reads one line (without its newline); `Err` says what is wrong with it.
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split(' ').collect();
        let number = |word: &str| {
            word.parse::<i64>()
                .map_err(|_| format!("`{word}` is not a number"))
        };
        let api = |word: &str| {
            i16::try_from(number(word)?)
                .ok()
                .and_then(api_key)
                .ok_or_else(|| format!("api key {word} cannot be failed"))
        };
        let fault = |fault: BrokerFault| Ok(BrokerCommand::Fault(fault));
        match words.as_slice() {
            ["topic", name, partitions] if !name.is_empty() => Ok(BrokerCommand::CreateTopic {
                name: (*name).to_owned(),
                partitions: i32::try_from(number(partitions)?)
                    .map_err(|_| format!("`{partitions}` partitions"))?,
            }),
            ["down"] => fault(BrokerFault::AllBrokersDown),
            ["up"] => fault(BrokerFault::AllBrokersUp),
            ["errors", key, codes] => {
                let errors = codes
                    .split(',')
                    .map(|code| {
                        i32::try_from(number(code)?)
                            .ok()
                            .and_then(|code| RDKafkaRespErr::try_from(code).ok())
                            .ok_or_else(|| format!("no error code {code}"))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                fault(BrokerFault::RequestErrors(api(key)?, errors))
            }
            ["clear", key] => fault(BrokerFault::ClearRequestErrors(api(key)?)),
            ["rtt", micros] => {
                let micros =
                    u64::try_from(number(micros)?).map_err(|_| format!("`{micros}` µs"))?;
                fault(BrokerFault::RoundTripTime(Duration::from_micros(micros)))
            }
            _ => Err(format!("unknown command `{line}`")),
        }
    }
}

/// An answer line for `result`; a reason's line breaks become spaces.
pub fn answer_line(result: &Result<(), String>) -> String {
    match result {
        Ok(()) => OK.to_owned(),
        Err(reason) => format!("{ERROR}{}", reason.replace(['\r', '\n'], " ")),
    }
}

/// The API key with Kafka's number `key`, among those a fault may name.
fn api_key(key: i16) -> Option<RDKafkaApiKey> {
    FAULT_APIS
        .iter()
        .copied()
        .find(|api| i16::from(*api) == key)
}

/// The APIs a client of meshd's produce routes and streams uses, which faults may fail.
const FAULT_APIS: [RDKafkaApiKey; 20] = [
    RDKafkaApiKey::Produce,
    RDKafkaApiKey::Fetch,
    RDKafkaApiKey::ListOffsets,
    RDKafkaApiKey::Metadata,
    RDKafkaApiKey::OffsetCommit,
    RDKafkaApiKey::OffsetFetch,
    RDKafkaApiKey::FindCoordinator,
    RDKafkaApiKey::JoinGroup,
    RDKafkaApiKey::Heartbeat,
    RDKafkaApiKey::LeaveGroup,
    RDKafkaApiKey::SyncGroup,
    RDKafkaApiKey::ApiVersion,
    RDKafkaApiKey::CreateTopics,
    RDKafkaApiKey::InitProducerId,
    RDKafkaApiKey::AddPartitionsToTxn,
    RDKafkaApiKey::AddOffsetsToTxn,
    RDKafkaApiKey::EndTxn,
    RDKafkaApiKey::TxnOffsetCommit,
    RDKafkaApiKey::DescribeGroups,
    RDKafkaApiKey::ListGroups,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_reads_back_as_written() {
        let commands = [
            BrokerCommand::CreateTopic {
                name: "captains-log".into(),
                partitions: 3,
            },
            BrokerFault::AllBrokersDown.into(),
            BrokerFault::AllBrokersUp.into(),
            BrokerFault::RequestErrors(
                RDKafkaApiKey::Produce,
                vec![
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
                ],
            )
            .into(),
            BrokerFault::ClearRequestErrors(RDKafkaApiKey::EndTxn).into(),
            BrokerFault::RoundTripTime(Duration::from_millis(800)).into(),
        ];
        for command in commands {
            assert_eq!(
                BrokerCommand::parse(&command.to_line().unwrap()),
                Ok(command)
            );
        }
        for api in FAULT_APIS {
            let command: BrokerCommand = BrokerFault::ClearRequestErrors(api).into();
            assert_eq!(
                BrokerCommand::parse(&command.to_line().unwrap()),
                Ok(command)
            );
        }
    }

    #[test]
    fn a_topic_name_the_line_cannot_carry_is_not_written() {
        for name in ["", "two words", "red\nup", "tab\there"] {
            let command = BrokerCommand::CreateTopic {
                name: name.into(),
                partitions: 1,
            };
            assert!(command.to_line().is_err(), "{name:?}");
        }
    }

    #[test]
    fn lines_that_are_not_commands_say_why() {
        for line in [
            "",
            "topic",
            "topic  3",
            "topic t x",
            "topic t 99999999999",
            "errors 0",
            "errors 99999 1",
            "errors 0 1,,2",
            "errors 0 1073741824",
            "errors 32 1",
            "clear -1",
            "rtt -1",
            "down now",
            "stop",
        ] {
            assert!(BrokerCommand::parse(line).is_err(), "{line:?}");
        }
    }

    #[test]
    fn an_answer_is_one_line() {
        assert_eq!(answer_line(&Ok(())), "ok");
        assert_eq!(answer_line(&Err("a\nb\rc".into())), "error a b c");
    }
}
