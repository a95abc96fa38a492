//! Reads an [`AdmissionStep`] in one pass over its object, whatever the order of its keys.
//!
//! serde's internally tagged enums buffer every value of the object (into its private
//! `Content` tree) until they have seen the tag, then read the variant from that buffer. The
//! canonical writer sorts keys, so `step` comes after `source` and most fields, and the buffer
//! was filled for every step: about a seventh of the load of a 100 000-route bundle. No two
//! variants give one key two types, so this reader reads each value straight into its typed
//! slot and builds the variant once the object ends.
//!
//! It refuses what the derived reader refuses (the tests in `admission_step_tests.rs` compare
//! both on every step of the sample bundle and on edited ones): a non-string or unknown tag,
//! a missing tag or field, a key the tagged variant does not have, a duplicate key, `null`
//! fields that must be present, and out-of-range percentages.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, MapAccess, Visitor};

use super::bundle::{Effect, SourceLocation};
use super::route::{
    AccessSubject, AdmissionStep, AuthMethod, FaultAction, HeaderDirection, RateLimitKey,
    StoreFailure,
};

/// The tag's values, in declaration order.
const VARIANTS: &[&str] = &[
    "auth",
    "access",
    "rate_limit",
    "condition",
    "cors",
    "body_limit",
    "fault",
    "header",
];

/// Every key any variant has, and the tag (`step`, last). A key's bit is `1 << index`.
const FIELDS: &[&str] = &[
    "source",
    "method",
    "effect",
    "subject",
    "values",
    "count",
    "period_ms",
    "per",
    "burst",
    "shared",
    "on_store_failure",
    "cel",
    "origins",
    "methods",
    "headers",
    "expose",
    "credentials",
    "max_age_ms",
    "max_bytes",
    "action",
    "percent",
    "when",
    "direction",
    "name",
    "value",
    "step",
];
const STEP: usize = FIELDS.len() - 1;

/// Each variant's keys in declaration order (for errors), the tag aside.
const AUTH: &[&str] = &["method", "source"];
const ACCESS: &[&str] = &["effect", "subject", "values", "source"];
const RATE_LIMIT: &[&str] = &[
    "count",
    "period_ms",
    "per",
    "burst",
    "shared",
    "on_store_failure",
    "source",
];
const CONDITION: &[&str] = &["cel", "source"];
const CORS: &[&str] = &[
    "origins",
    "methods",
    "headers",
    "expose",
    "credentials",
    "max_age_ms",
    "source",
];
const BODY_LIMIT: &[&str] = &["max_bytes", "source"];
const FAULT: &[&str] = &["action", "percent", "when", "source"];
const HEADER: &[&str] = &["direction", "name", "value", "source"];

/// A key of the object: one of [`FIELDS`] by index, or another.
enum Key {
    Known(usize),
    Unknown(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("field identifier")
            }
            fn visit_str<E: Error>(self, text: &str) -> Result<Key, E> {
                Ok(match FIELDS.iter().position(|f| *f == text) {
                    Some(index) => Key::Known(index),
                    None => Key::Unknown(text.to_string()),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The tag: a string naming a variant (an index or any other type is refused).
struct Tag(usize);

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string naming the variant")
            }
            fn visit_str<E: Error>(self, text: &str) -> Result<Tag, E> {
                VARIANTS
                    .iter()
                    .position(|v| *v == text)
                    .map(Tag)
                    .ok_or_else(|| E::unknown_variant(text, VARIANTS))
            }
        }
        deserializer.deserialize_str(TagVisitor)
    }
}

/// A percentage, 0–100, as the schema bounds it.
struct Percent(u8);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::bounded::percent(deserializer).map(Percent)
    }
}

/// Every value read so far, by key.
#[derive(Default)]
struct Slots {
    source: Option<SourceLocation>,
    method: Option<AuthMethod>,
    effect: Option<Effect>,
    subject: Option<AccessSubject>,
    values: Option<Vec<String>>,
    count: Option<u64>,
    period_ms: Option<u64>,
    per: Option<RateLimitKey>,
    burst: Option<Option<u64>>,
    shared: Option<bool>,
    on_store_failure: Option<StoreFailure>,
    cel: Option<String>,
    origins: Option<Vec<String>>,
    methods: Option<Vec<String>>,
    headers: Option<Vec<String>>,
    expose: Option<Vec<String>>,
    credentials: Option<bool>,
    max_age_ms: Option<Option<u64>>,
    max_bytes: Option<u64>,
    action: Option<FaultAction>,
    percent: Option<u8>,
    when: Option<Option<String>>,
    direction: Option<HeaderDirection>,
    name: Option<String>,
    value: Option<Option<String>>,
    tag: Option<usize>,
}

fn need<T, E: Error>(slot: Option<T>, field: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(field))
}

impl Slots {
    /// Reads the value of the key at `index` of [`FIELDS`] into its slot.
    fn read<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 => self.source = Some(map.next_value()?),
            1 => self.method = Some(map.next_value()?),
            2 => self.effect = Some(map.next_value()?),
            3 => self.subject = Some(map.next_value()?),
            4 => self.values = Some(map.next_value()?),
            5 => self.count = Some(map.next_value()?),
            6 => self.period_ms = Some(map.next_value()?),
            7 => self.per = Some(map.next_value()?),
            8 => self.burst = Some(map.next_value()?),
            9 => self.shared = Some(map.next_value()?),
            10 => self.on_store_failure = Some(map.next_value()?),
            11 => self.cel = Some(map.next_value()?),
            12 => self.origins = Some(map.next_value()?),
            13 => self.methods = Some(map.next_value()?),
            14 => self.headers = Some(map.next_value()?),
            15 => self.expose = Some(map.next_value()?),
            16 => self.credentials = Some(map.next_value()?),
            17 => self.max_age_ms = Some(map.next_value()?),
            18 => self.max_bytes = Some(map.next_value()?),
            19 => self.action = Some(map.next_value()?),
            20 => self.percent = Some(map.next_value::<Percent>()?.0),
            21 => self.when = Some(map.next_value()?),
            22 => self.direction = Some(map.next_value()?),
            23 => self.name = Some(map.next_value()?),
            24 => self.value = Some(map.next_value()?),
            _ => self.tag = Some(map.next_value::<Tag>()?.0),
        }
        Ok(())
    }

    /// The variant the tag names, from its slots.
    fn build<E: Error>(self, tag: usize) -> Result<AdmissionStep, E> {
        let Slots {
            source,
            method,
            effect,
            subject,
            values,
            count,
            period_ms,
            per,
            burst,
            shared,
            on_store_failure,
            cel,
            origins,
            methods,
            headers,
            expose,
            credentials,
            max_age_ms,
            max_bytes,
            action,
            percent,
            when,
            direction,
            name,
            value,
            tag: _,
        } = self;
        Ok(match tag {
            0 => AdmissionStep::Auth {
                method: need(method, "method")?,
                source: need(source, "source")?,
            },
            1 => AdmissionStep::Access {
                effect: need(effect, "effect")?,
                subject: need(subject, "subject")?,
                values: need(values, "values")?,
                source: need(source, "source")?,
            },
            2 => AdmissionStep::RateLimit {
                count: need(count, "count")?,
                period_ms: need(period_ms, "period_ms")?,
                per: need(per, "per")?,
                burst: need(burst, "burst")?,
                shared: need(shared, "shared")?,
                on_store_failure: on_store_failure.unwrap_or_default(),
                source: need(source, "source")?,
            },
            3 => AdmissionStep::Condition {
                cel: need(cel, "cel")?,
                source: need(source, "source")?,
            },
            4 => AdmissionStep::Cors {
                origins: need(origins, "origins")?,
                methods: need(methods, "methods")?,
                headers: need(headers, "headers")?,
                expose: need(expose, "expose")?,
                credentials: need(credentials, "credentials")?,
                max_age_ms: need(max_age_ms, "max_age_ms")?,
                source: need(source, "source")?,
            },
            5 => AdmissionStep::BodyLimit {
                max_bytes: need(max_bytes, "max_bytes")?,
                source: need(source, "source")?,
            },
            6 => AdmissionStep::Fault {
                action: need(action, "action")?,
                percent: need(percent, "percent")?,
                when: need(when, "when")?,
                source: need(source, "source")?,
            },
            _ => AdmissionStep::Header {
                direction: need(direction, "direction")?,
                name: need(name, "name")?,
                value: need(value, "value")?,
                source: need(source, "source")?,
            },
        })
    }
}

/// The keys of the variant at `tag` of [`VARIANTS`].
fn variant_fields(tag: usize) -> &'static [&'static str] {
    [
        AUTH, ACCESS, RATE_LIMIT, CONDITION, CORS, BODY_LIMIT, FAULT, HEADER,
    ][tag]
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = AdmissionStep;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("internally tagged enum AdmissionStep")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AdmissionStep, A::Error> {
        let mut slots = Slots::default();
        // Where each key was met (its rank among the object's keys), to name the first key the
        // tagged variant lacks as serde would; 0 = not met.
        let mut met = [0u32; FIELDS.len()];
        let mut first_unknown: Option<(u32, String)> = None;
        let mut rank = 0u32;
        while let Some(key) = map.next_key::<Key>()? {
            rank += 1;
            match key {
                Key::Known(index) => {
                    if met[index] != 0 {
                        return Err(A::Error::duplicate_field(FIELDS[index]));
                    }
                    met[index] = rank;
                    slots.read(index, &mut map)?;
                }
                Key::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    first_unknown.get_or_insert((rank, name));
                }
            }
        }
        let tag = slots.tag.ok_or_else(|| A::Error::missing_field("step"))?;
        let fields = variant_fields(tag);
        let foreign = (0..STEP)
            .filter(|&index| met[index] != 0 && !fields.contains(&FIELDS[index]))
            .map(|index| (met[index], FIELDS[index].to_string()))
            .chain(first_unknown)
            .min_by_key(|(rank, _)| *rank);
        if let Some((_, name)) = foreign {
            return Err(A::Error::unknown_field(&name, fields));
        }
        slots.build(tag)
    }
}

/// Reads a step from a map only (a sequence or any other type is refused).
pub(crate) fn read_admission_step<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<AdmissionStep, D::Error> {
    deserializer.deserialize_map(StepVisitor)
}
