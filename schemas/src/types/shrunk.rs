//! Lists read without spare capacity. serde grows a `Vec` by doubling, not knowing the length of
//! a JSON array ahead, so a list ends with up to half its slots unused: a gateway of 100 000
//! routes is read into room for 131 072, and a route's three admission steps into room for four.
//! meshd holds the bundle beside the state it builds from it, so that room is part of the peak
//! memory of a load. Shrinking costs little: the routes list is one mapping that `mremap`
//! shortens in place, and a small list gives its tail back to the allocator for the next value
//! read.

use serde::de::{Deserialize, Deserializer};

/// Reads a `Vec` and gives back its spare capacity.
pub(crate) fn shrunk<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut list = Vec::<T>::deserialize(deserializer)?;
    list.shrink_to_fit();
    Ok(list)
}
