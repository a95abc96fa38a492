//! Kafka topics and streams: added, removed, or with other settings.

use meshwork_bundle::{Bundle, Stream, Topic};

use super::change::{Change, ChangeKind};
use super::describe::at;

fn describe_topic(topic: &Topic) -> String {
    let mut text = String::new();
    if let Some(partitions) = topic.partitions {
        text.push_str(&format!("{partitions} partitions"));
    }
    if topic.external {
        if !text.is_empty() {
            text.push_str(", ");
        }
        text.push_str("external");
    }
    if text.is_empty() {
        "broker defaults".to_string()
    } else {
        text
    }
}

/// The settings of a stream that decide what it does, as `name value` phrases.
fn stream_settings(stream: &Stream) -> Vec<String> {
    let mut settings = vec![format!(
        "from \"{}\" group \"{}\"",
        stream.from.topic, stream.from.group
    )];
    if let Some(when) = &stream.when {
        settings.push(format!("when {when}"));
    }
    if let Some(to) = &stream.to {
        let mut text = format!("to \"{}\"", to.topic);
        if let Some(key) = &to.key {
            text.push_str(&format!(" key {key}"));
        }
        if let Some(value) = &to.value {
            text.push_str(&format!(" value {value}"));
        }
        settings.push(text);
    }
    if let Some(deliver) = &stream.deliver {
        settings.push(format!(
            "deliver {} \"{}\" concurrency {} retry {} backoff {}ms..{}ms",
            deliver.service,
            deliver.path,
            deliver.concurrency,
            deliver.retry,
            deliver.backoff_min_ms,
            deliver.backoff_max_ms
        ));
    }
    if let Some(dead_letter) = &stream.dead_letter {
        settings.push(format!("dead_letter \"{dead_letter}\""));
    }
    settings
}

/// Every topic and stream change from `old` to `new`.
pub fn event_changes(old: &Bundle, new: &Bundle, out: &mut Vec<Change>) {
    for topic in &new.topics {
        let subject = format!("topic {}", topic.name);
        match old.topics.iter().find(|t| t.name == topic.name) {
            None => out.push(Change::new(
                ChangeKind::Events,
                subject,
                format!("topic declared ({})", describe_topic(topic)),
                Some(at(&topic.source)),
            )),
            Some(before) if describe_topic(before) != describe_topic(topic) => {
                out.push(Change::new(
                    ChangeKind::Events,
                    subject,
                    format!("{} → {}", describe_topic(before), describe_topic(topic)),
                    Some(at(&topic.source)),
                ))
            }
            Some(_) => {}
        }
    }
    for topic in &old.topics {
        if !new.topics.iter().any(|t| t.name == topic.name) {
            out.push(Change::new(
                ChangeKind::Events,
                format!("topic {}", topic.name),
                "topic no longer declared",
                Some(at(&topic.source)),
            ));
        }
    }
    for stream in &new.streams {
        let subject = format!("stream {}", stream.name);
        let after = stream_settings(stream);
        match old.streams.iter().find(|s| s.name == stream.name) {
            None => out.push(Change::new(
                ChangeKind::Events,
                subject,
                format!("stream added: {}", after.join("; ")),
                Some(at(&stream.source)),
            )),
            Some(before) => {
                let before = stream_settings(before);
                let removed: Vec<&String> = before.iter().filter(|s| !after.contains(s)).collect();
                let added: Vec<&String> = after.iter().filter(|s| !before.contains(s)).collect();
                if !removed.is_empty() || !added.is_empty() {
                    let show = |items: &[&String]| {
                        if items.is_empty() {
                            "nothing".to_string()
                        } else {
                            items
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        }
                    };
                    out.push(Change::new(
                        ChangeKind::Events,
                        subject,
                        format!("{} → {}", show(&removed), show(&added)),
                        Some(at(&stream.source)),
                    ));
                }
            }
        }
    }
    for stream in &old.streams {
        if !new.streams.iter().any(|s| s.name == stream.name) {
            out.push(Change::new(
                ChangeKind::Events,
                format!("stream {}", stream.name),
                format!("stream removed: {}", stream_settings(stream).join("; ")),
                Some(at(&stream.source)),
            ));
        }
    }
}
