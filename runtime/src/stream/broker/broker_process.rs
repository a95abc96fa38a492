//! The embedded broker's own process (`meshd embedded-broker`, started by meshd, never by hand):
//! librdkafka's mock cluster, and the commands meshd sends it (see [`super::broker_command`]).
//!
//! The mock cluster is C code written for tests. A request it cannot parse can abort the process
//! it runs in: a 57-byte JoinGroup request with a negative protocol count makes its `rd_malloc`
//! assert. In its own process that ends the broker, not meshd's gateways and sidecars.

use std::io::{BufRead, Write};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::broker_command::{answer_line, BrokerCommand, BOOTSTRAP, ERROR};
use super::embedded_broker::BrokerFault;

/// The id of the mock cluster's one broker.
const BROKER_ID: i32 = 1;

type Cluster = MockCluster<'static, DefaultProducerContext>;

/// Starts a one-broker mock cluster on a loopback ephemeral port, writes its address to
/// `output`, then carries out the commands read from `input` until it ends. `Err` when the
/// cluster cannot start or `output` cannot be written (meshd is gone).
pub fn serve_embedded_broker(input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    let cluster = match MockCluster::new(1) {
        Ok(cluster) => cluster,
        Err(error) => {
            writeln!(output, "{ERROR}{error}")?;
            output.flush()?;
            return Err(std::io::Error::other(error.to_string()));
        }
    };
    writeln!(output, "{BOOTSTRAP}{}", cluster.bootstrap_servers())?;
    output.flush()?;
    for line in input.lines() {
        let line = line?;
        let result = BrokerCommand::parse(&line).and_then(|command| carry_out(&cluster, command));
        writeln!(output, "{}", answer_line(&result))?;
        output.flush()?;
    }
    Ok(())
}

fn carry_out(cluster: &Cluster, command: BrokerCommand) -> Result<(), String> {
    let refused = |error: rdkafka::error::KafkaError| error.to_string();
    match command {
        BrokerCommand::CreateTopic { name, partitions } => create_topic(cluster, &name, partitions),
        BrokerCommand::Fault(BrokerFault::AllBrokersDown) => {
            cluster.broker_down(-1).map_err(refused)
        }
        BrokerCommand::Fault(BrokerFault::AllBrokersUp) => cluster.broker_up(-1).map_err(refused),
        BrokerCommand::Fault(BrokerFault::RequestErrors(api, errors)) => {
            cluster.request_errors(api, &errors);
            Ok(())
        }
        BrokerCommand::Fault(BrokerFault::ClearRequestErrors(api)) => {
            cluster.clear_request_errors(api);
            Ok(())
        }
        BrokerCommand::Fault(BrokerFault::RoundTripTime(delay)) => cluster
            .broker_round_trip_time(BROKER_ID, delay)
            .map_err(refused),
    }
}

fn create_topic(cluster: &Cluster, name: &str, partitions: i32) -> Result<(), String> {
    if partitions < 1 {
        // The mock cluster would quietly pick its own count; a topic needs at least one.
        return Err(format!(
            "{partitions} partitions; a topic needs at least one"
        ));
    }
    match cluster.create_topic(name, partitions, 1) {
        Ok(())
        | Err(rdkafka::error::KafkaError::MockCluster(
            rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
        )) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_its_address_then_answers_each_command_in_order() {
        let commands = "topic orders 4\ntopic orders 4\ntopic empty 0\nrtt 1000\nrtt 0\n\
                        errors 0 29\nclear 0\nerrors 32 1\ndown\nup\nstop\n";
        let mut output = Vec::new();
        serve_embedded_broker(commands.as_bytes(), &mut output).unwrap();
        let output = String::from_utf8(output).unwrap();
        let lines: Vec<&str> = output.lines().collect();
        assert!(lines[0].starts_with("bootstrap 127.0.0.1:"), "{output}");
        assert_eq!(
            lines[1..],
            [
                "ok",
                // Reloads declare the same topics again.
                "ok",
                "error 0 partitions; a topic needs at least one",
                "ok",
                "ok",
                "ok",
                "ok",
                "error api key 32 cannot be failed",
                "ok",
                "ok",
                "error unknown command `stop`",
            ],
            "{output}"
        );
    }
}
