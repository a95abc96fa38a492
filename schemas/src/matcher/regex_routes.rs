//! Regular-expression paths of one host bucket: one [`RegexSet`] finds every matching route in a
//! single pass; the route's own [`Regex`] then captures its named groups.

use regex::{Regex, RegexSet};

use super::path_trie::Candidates;
use super::route_table::Params;

/// The regex routes of a bucket, in route order.
#[derive(Debug, Clone)]
pub(crate) struct RegexRoutes {
    set: RegexSet,
    routes: Vec<(u32, Regex)>,
    /// Each route's named groups, in the order they appear.
    names: Vec<Box<[Box<str>]>>,
}

impl RegexRoutes {
    /// Compiles `(route, pattern)` pairs (route order); patterns are anchored to the whole path.
    /// On failure, returns the index into `routes` of the pattern that does not compile, or `None`
    /// when each compiles but the set together is too large.
    pub fn new(routes: &[(u32, &str)]) -> Result<Option<Self>, (Option<usize>, regex::Error)> {
        if routes.is_empty() {
            return Ok(None);
        }
        let anchored: Vec<String> = routes.iter().map(|(_, p)| anchor(p)).collect();
        let mut compiled = Vec::with_capacity(routes.len());
        for (i, (pattern, (route, _))) in anchored.iter().zip(routes).enumerate() {
            let regex = Regex::new(pattern).map_err(|e| (Some(i), e))?;
            compiled.push((*route, regex));
        }
        // Each pattern compiled alone, so a failure here is the set's size limit.
        let set = RegexSet::new(&anchored).map_err(|e| (None, e))?;
        let names = compiled
            .iter()
            .map(|(_, regex)| regex.capture_names().flatten().map(Box::from).collect())
            .collect();
        Ok(Some(RegexRoutes {
            set,
            routes: compiled,
            names,
        }))
    }

    /// The smallest route index among the regex routes.
    pub fn min_route(&self) -> u32 {
        self.routes.first().map_or(u32::MAX, |(r, _)| *r)
    }

    /// Offers every regex route whose pattern matches `path`.
    pub fn search<'a, C: Candidates<'a>>(&'a self, path: &'a str, candidates: &mut C) {
        if self.min_route() >= candidates.bound() {
            return;
        }
        for index in self.set.matches(path).iter() {
            let (route, regex) = &self.routes[index];
            if *route >= candidates.bound() {
                break;
            }
            if candidates.offer(*route) {
                candidates.take_params(captures(regex, &self.names[index], path));
            }
        }
    }
}

/// Wraps a pattern so it must match the whole path.
fn anchor(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// The named groups' values; a group that took no part in the match captures `""`.
fn captures<'a>(regex: &Regex, names: &'a [Box<str>], path: &'a str) -> Params<'a> {
    let Some(found) = regex.captures(path) else {
        return Params::default();
    };
    let values = names
        .iter()
        .map(|name| found.name(name).map_or("", |m| m.as_str()))
        .collect();
    Params::new(names, values)
}
