//! Topic → topic stream rules: one run of a stream ([`consume`], with [`offset_tracker`],
//! [`commit_window`] and [`dead_letter`]), `exactly_once` transactions, and keeping streams running
//! across failures and reloads ([`runner`], [`supervisor`], tuned by [`stream_flags`]).

pub mod commit_window;
mod completion;
pub mod consume;
pub mod dead_letter;
mod group_watch;
pub mod offset_tracker;
pub mod rule_trace;
pub mod runner;
pub mod stream_flags;
mod stream_options;
pub mod supervisor;
mod transaction;
