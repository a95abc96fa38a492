//! Event checks: topics, streams and their Kafka settings. One file per rule; the codes are
//! documented here.

pub mod consumer_groups;
pub mod dead_letter;
pub mod kafka_settings;
pub mod served_topic;
pub mod stream_cycle;
pub mod topic_names;
pub mod topic_shapes;
pub mod topic_uses;
pub mod unproduced_topic;

use crate::diagnostics::Diagnostic;
use crate::graph::ProgramGraph;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// Streams feed each other in a loop.
    STREAM_CYCLE = "E0400", "stream cycle",
        "Following streams from the topic they read to the topic they write leads back to the start (A → B → A, or a stream writing the topic it reads). Every record that passes the conditions would circulate forever. Dead letters are not followed: reading a dead letter back is a deliberate retry loop.",
        "Write to a topic outside the loop.",
        "stream a { from topic \"x\" to topic \"y\" }\nstream b { from topic \"y\" to topic \"x\" }";
    /// A stream reads a topic nothing produces.
    TOPIC_NEVER_PRODUCED = "W0401", "topic never produced",
        "No route produces the topic, no stream writes or dead-letters into it, and it is not declared `external`. The stream would wait forever; the name is usually misspelt (the help suggests the closest known topic).",
        "Fix the name, or declare a topic fed from outside: `topic \"NAME\" external`.",
        "stream s { from topic \"captains-logs\" to topic \"red-alerts\" }";
    /// A stream dead-letters into its own source.
    DEAD_LETTER_IS_SOURCE = "E0402", "dead letter is the source topic",
        "A record the stream cannot handle would be written back to the topic it came from, read again and fail again: a poison message loops forever.",
        "Give the dead letter its own topic (`captains-log-dlq`).",
        "stream s { from topic \"orders\" to topic \"paid\" dead_letter \"orders\" }";
    /// A topic name Kafka refuses.
    INVALID_TOPIC_NAME = "E0403", "invalid Kafka topic name",
        "Kafka topic names are 1 to 249 characters of letters, digits, `.`, `_` and `-`, and cannot be `.` or `..`. The broker refuses any other name, so the produce or subscription fails at run time.",
        "Rename the topic (`captains-log`).",
        "route r { match POST \"/log\" auth key header \"k\" produce topic \"captain's log\" }";
    /// Two topic names collide in Kafka.
    COLLIDING_TOPIC_NAMES = "E0404", "colliding topic names",
        "Kafka maps `.` and `_` in topic names to the same metric name, and refuses to create a topic that collides with an existing one (`captains.log` and `captains_log`). One of the two would fail to be created.",
        "Use one separator consistently.",
        "stream s { from topic \"captains.log\" to topic \"captains_log\" }";
    /// A produce or stream setting that cannot work.
    INVALID_KAFKA_SETTING = "E0405", "invalid Kafka setting",
        "`acks 0` on a sync produce (sync answers 200 with the record's offset after the broker acknowledges; with `acks 0` it never does), a topic with 0 partitions, an empty consumer group, a `deliver` with concurrency 0 or a path without a leading `/`.",
        "Use `acks 1`/`acks all` or `mode async`; give at least one partition and a named group; deliver with concurrency 1 or more to a path starting with `/`.",
        "route r { match POST \"/log\" auth key header \"k\" produce topic \"log\" acks 0 }";
    /// Producers of one topic write differently shaped values.
    MIXED_TOPIC_SHAPES = "W0411", "topic written in two shapes",
        "Two producers of a topic write record values whose shapes visibly differ: a route writing the request `envelope` beside one writing the raw body or a stream's `value {…}` map, or two streams writing maps with different keys. Every consumer of the topic, and its schema, must then read two kinds of records; usually one producer was missed when the format changed.",
        "Write one shape to the topic, or give each shape its own topic.",
        "route a { match POST \"/a\" public produce topic \"log\" value envelope }\nroute b { match POST \"/b\" public produce topic \"log\" }";
    /// Two streams share a consumer group on one topic.
    SHARED_CONSUMER_GROUP = "E0406", "shared consumer group",
        "Two streams read the same topic in the same consumer group (a stream's group defaults to its own name). Kafka splits the partitions between the group's members, so each stream would see only part of the records, and which part changes at every rebalance.",
        "Give each stream its own group.",
        "stream a { from topic \"log\" group \"alerts\" to topic \"x\" }\nstream b { from topic \"log\" group \"alerts\" to topic \"y\" }";
    /// A `serve` route reads a topic the program does not know.
    SERVED_TOPIC_UNKNOWN = "E0450", "served topic unknown",
        "A route serves a topic to HTTP clients that no route produces, no stream writes or dead-letters into, and no `topic` block declares. Its clients would wait forever on a topic that is usually misspelt; unlike a stream, a serve route has no group to catch up later, so this is an error.",
        "Fix the name, or declare the topic (`topic \"NAME\" external` when another system produces it).",
        "route r { match GET \"/alerts\" auth key header \"k\" serve topic \"red-alert\" }\nstream s { from topic \"log\" to topic \"red-alerts\" }";
    /// A `serve` bound that cannot work.
    INVALID_SERVE_SETTING = "E0451", "invalid serve setting",
        "`buffer 0`, `buffer_size 0B`, `clients 0` or `keepalive 0s`: a client with no room for one event would be cut off at the first record, a route with no client slots refuses everyone, and a keep-alive every 0 s spins.",
        "Use at least 1 (the defaults are buffer 256, buffer_size 1MiB, clients 100, keepalive 15s).",
        "route r { match GET \"/alerts\" auth key header \"k\" serve topic \"alerts\" buffer 0 }";
    /// A `serve` route that browsers' EventSource cannot reach.
    SERVE_NOT_GET = "W0450", "serve route not on GET",
        "A `serve` route streams records in answer to GET; EventSource, curl -N and long-poll clients all send GET. A route matching another method (or any method) serves a stream that browsers cannot open, and POST or PUT bodies would be ignored.",
        "Match GET: `match GET \"/alerts\"`.",
        "route r { match POST \"/alerts\" auth key header \"k\" serve topic \"alerts\" }";
}

/// Runs every event check.
pub fn check(program: &Program, graph: &ProgramGraph) -> Vec<Diagnostic> {
    let mut out = stream_cycle::check(graph);
    out.extend(unproduced_topic::check(program));
    out.extend(dead_letter::check(program));
    out.extend(topic_names::check(program));
    out.extend(kafka_settings::check(program));
    out.extend(consumer_groups::check(program));
    out.extend(topic_shapes::check(program));
    out.extend(served_topic::check(program));
    out.extend(program.schemas.diagnostics.iter().cloned());
    out
}
