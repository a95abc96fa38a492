//! The serde types of the bundle, one file per part of the program.

/// Implements `Deserialize` as the type's derived reader (`#[serde(remote = "Self")]` makes it
/// an inherent `deserialize`) over `$reader`, a deserializer wrapper that refuses what
/// `bundle.schema.json` refuses ([`tagged::StringTag`] for tagged enums, [`map_only::MapOnly`] for
/// structs), and `Serialize` as the derived writer, unchanged.
macro_rules! read_through {
    ($reader:path: $($name:ident),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $name::deserialize($reader(deserializer))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $name::serialize(self, serializer)
            }
        }
    )+};
}
pub(crate) use read_through;

mod admission_step_reader;
#[cfg(test)]
mod admission_step_tests;
pub(crate) mod bounded;
pub mod bundle;
pub mod gateway;
pub mod graph;
pub mod graph_check;
pub(crate) mod map_only;
pub mod mesh;
pub mod route;
pub mod service;
mod shrunk;
pub mod stream;
mod tagged;
