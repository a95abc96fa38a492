//! Label names that live as long as the process (route names behind request counters), copied
//! into large blocks of their own, each name once.
//!
//! Every state build asks for the id of every route. Interning with an `Arc<str>` pair per call
//! allocated two strings per route per reload, and the names kept were small allocations among
//! the first state's objects, pinning its pages after a reload freed it. Here a lookup allocates
//! nothing, a gateway's name is stored once, and blocks are above glibc's mmap threshold, so they
//! are mappings of their own, apart from any state. Blocks are never freed: interned names are
//! never forgotten either (ids survive reloads).

use std::collections::HashSet;

/// The size of a block: above glibc's default mmap threshold (128 KiB).
const BLOCK: usize = 256 * 1024;

/// Copies of names, each stored once.
#[derive(Debug, Default)]
pub struct NameArena {
    names: HashSet<&'static str>,
    free: &'static mut [u8],
}

impl NameArena {
    /// The stored copy of `name`.
    pub fn intern(&mut self, name: &str) -> &'static str {
        if let Some(stored) = self.names.get(name) {
            return stored;
        }
        let stored = self.copy(name);
        self.names.insert(stored);
        stored
    }

    fn copy(&mut self, name: &str) -> &'static str {
        if name.len() > self.free.len() {
            self.free = Box::leak(vec![0u8; BLOCK.max(name.len())].into_boxed_slice());
        }
        let (head, tail) = std::mem::take(&mut self.free).split_at_mut(name.len());
        head.copy_from_slice(name.as_bytes());
        self.free = tail;
        std::str::from_utf8(head).expect("the bytes were copied from a str")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_stored_once_and_reads_back() {
        let mut arena = NameArena::default();
        let first = arena.intern("edge");
        let again = arena.intern(&String::from("edge"));
        assert_eq!(first, "edge");
        assert!(std::ptr::eq(first, again));
        assert_eq!(arena.intern("officers"), "officers");
        assert_eq!(arena.intern(""), "");
    }

    #[test]
    fn names_fill_blocks_and_a_long_name_gets_its_own() {
        let mut arena = NameArena::default();
        let names: Vec<String> = (0..40_000).map(|i| format!("route-{i}")).collect();
        let stored: Vec<&str> = names.iter().map(|n| arena.intern(n)).collect();
        let long = "x".repeat(BLOCK + 1);
        assert_eq!(arena.intern(&long), long);
        for (name, stored) in names.iter().zip(stored) {
            assert_eq!(name, stored);
        }
    }
}
