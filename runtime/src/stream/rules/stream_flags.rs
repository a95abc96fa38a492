//! The `meshd run` flags that tune streams: how often progress is committed (the at-least-once
//! window), how long a crashed member's partitions wait, the transaction timeout of
//! `exactly_once` streams, and the instance name that makes restarts cheap.

use std::time::Duration;

use super::consume::StreamOptions;

/// Stream tuning on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// Commit stream progress at least this often (also after every --stream-commit-every
    /// records); a crash replays at most what was not committed.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub stream_commit_interval: Duration,
    /// Commit stream progress once this many records finished since the last commit.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub stream_commit_every: usize,
    /// Records a stream may have read but not finished (outputs unacknowledged) before it
    /// pauses reading.
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    pub stream_max_in_flight: usize,
    /// How long the consumer group waits for a silent member (a crashed meshd) before its
    /// partitions move to the others.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub stream_session_timeout: Duration,
    /// How long an exactly_once stream's transaction may stay open before the broker aborts it.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub stream_transaction_timeout: Duration,
    /// A name for this instance that survives its restarts (a StatefulSet pod name, a host
    /// name): the stream consumers join their groups as static members (`group.instance.id`
    /// `<ID>-<stream>`), so a restarted instance gets its partitions back at once, and an
    /// exactly_once stream's `transactional.id` becomes `meshwork-<group>-<stream>-<ID>`, so the
    /// restart fences and aborts its predecessor's open transaction at once. Unique per
    /// instance; two live instances with one ID fence each other.
    #[arg(long, value_name = "ID")]
    pub stream_instance_id: Option<String>,
}

impl From<StreamArgs> for StreamOptions {
    fn from(args: StreamArgs) -> Self {
        StreamOptions {
            commit_interval: args.stream_commit_interval.max(Duration::from_millis(1)),
            commit_every: args.stream_commit_every.max(1),
            max_in_flight: args.stream_max_in_flight.max(1),
            session_timeout: args.stream_session_timeout,
            transaction_timeout: args.stream_transaction_timeout,
            instance_id: args.stream_instance_id.filter(|id| !id.is_empty()),
            ..StreamOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        streams: StreamArgs,
    }

    #[test]
    fn the_flag_defaults_are_the_stream_defaults() {
        let parsed: StreamOptions = Command::parse_from(["meshd"]).streams.into();
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", StreamOptions::default())
        );
    }

    #[test]
    fn a_tighter_window_shrinks_the_duplicate_bound() {
        let tight: StreamOptions = Command::parse_from([
            "meshd",
            "--stream-commit-every",
            "100",
            "--stream-max-in-flight",
            "200",
        ])
        .streams
        .into();
        assert!(tight.duplicate_bound() < StreamOptions::default().duplicate_bound());
    }

    #[test]
    fn an_instance_id_names_the_instance_and_an_empty_one_does_not() {
        let named: StreamOptions = Command::parse_from(["meshd", "--stream-instance-id", "edge-3"])
            .streams
            .into();
        assert_eq!(named.instance_id.as_deref(), Some("edge-3"));
        let empty: StreamOptions = Command::parse_from(["meshd", "--stream-instance-id", ""])
            .streams
            .into();
        assert_eq!(empty.instance_id, None);
    }
}
