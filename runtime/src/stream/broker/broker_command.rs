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
    Fault(FaultCommand),
}

/// A [`BrokerFault`] as it travels: API keys and error codes as Kafka's numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultCommand {
    /// Every broker down.
    Down,
    /// Every broker up.
    Up,
    /// Fail the next requests of an API (by key) with these error codes.
    RequestErrors(i16, Vec<i32>),
    /// Forget the errors queued for an API.
    ClearRequestErrors(i16),
    /// Delay every response.
    RoundTripTime(Duration),
}

impl From<BrokerFault> for FaultCommand {
    fn from(fault: BrokerFault) -> Self {
        match fault {
            BrokerFault::AllBrokersDown => FaultCommand::Down,
            BrokerFault::AllBrokersUp => FaultCommand::Up,
            BrokerFault::RequestErrors(api, errors) => FaultCommand::RequestErrors(
                api.into(),
                errors.into_iter().map(|error| error as i32).collect(),
            ),
            BrokerFault::ClearRequestErrors(api) => FaultCommand::ClearRequestErrors(api.into()),
            BrokerFault::RoundTripTime(delay) => FaultCommand::RoundTripTime(delay),
        }
    }
}

impl From<BrokerFault> for BrokerCommand {
    fn from(fault: BrokerFault) -> Self {
        BrokerCommand::Fault(fault.into())
    }
}

impl BrokerCommand {
    /// The command as one line, without its newline.
    pub fn to_line(&self) -> String {
        match self {
            BrokerCommand::CreateTopic { name, partitions } => format!("topic {name} {partitions}"),
            BrokerCommand::Fault(FaultCommand::Down) => "down".into(),
            BrokerCommand::Fault(FaultCommand::Up) => "up".into(),
            BrokerCommand::Fault(FaultCommand::RequestErrors(api, codes)) => {
                let codes: Vec<String> = codes.iter().map(i32::to_string).collect();
                format!("errors {api} {}", codes.join(","))
            }
            BrokerCommand::Fault(FaultCommand::ClearRequestErrors(api)) => format!("clear {api}"),
            BrokerCommand::Fault(FaultCommand::RoundTripTime(delay)) => {
                format!("rtt {}", delay.as_micros())
            }
        }
    }

    /// Reads one line (without its newline); `Err` says what is wrong with it.
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split(' ').collect();
        let number = |word: &str| {
            word.parse::<i64>()
                .map_err(|_| format!("`{word}` is not a number"))
        };
        let api = |word: &str| {
            i16::try_from(number(word)?).map_err(|_| format!("`{word}` is not an api key"))
        };
        match words.as_slice() {
            ["topic", name, partitions] if !name.is_empty() => Ok(BrokerCommand::CreateTopic {
                name: (*name).to_owned(),
                partitions: i32::try_from(number(partitions)?)
                    .map_err(|_| format!("`{partitions}` partitions"))?,
            }),
            ["down"] => Ok(BrokerCommand::Fault(FaultCommand::Down)),
            ["up"] => Ok(BrokerCommand::Fault(FaultCommand::Up)),
            ["errors", key, codes] => {
                let codes = codes
                    .split(',')
                    .map(|code| {
                        i32::try_from(number(code)?).map_err(|_| format!("error code `{code}`"))
                    })
                    .collect::<Result<Vec<i32>, String>>()?;
                Ok(BrokerCommand::Fault(FaultCommand::RequestErrors(
                    api(key)?,
                    codes,
                )))
            }
            ["clear", key] => Ok(BrokerCommand::Fault(FaultCommand::ClearRequestErrors(api(
                key,
            )?))),
            ["rtt", micros] => {
                let micros =
                    u64::try_from(number(micros)?).map_err(|_| format!("`{micros}` µs"))?;
                Ok(BrokerCommand::Fault(FaultCommand::RoundTripTime(
                    Duration::from_micros(micros),
                )))
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
pub fn api_key(key: i16) -> Option<RDKafkaApiKey> {
    FAULT_APIS
        .iter()
        .copied()
        .find(|api| i16::from(*api) == key)
}

/// The error code with Kafka's number `code`.
pub fn error_code(code: i32) -> Option<RDKafkaRespErr> {
    RDKafkaRespErr::try_from(code).ok()
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
            assert_eq!(BrokerCommand::parse(&command.to_line()), Ok(command));
        }
    }

    #[test]
    fn api_keys_and_error_codes_come_back_from_their_numbers() {
        for api in FAULT_APIS {
            assert_eq!(api_key(api.into()), Some(api));
        }
        assert_eq!(api_key(-1), None);
        let code = RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
        assert_eq!(error_code(code as i32), Some(code));
        assert_eq!(error_code(1 << 30), None);
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
