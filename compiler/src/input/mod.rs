//! Reading the program's files: paths and directories from the command line, includes, UTF-8 checks.

pub mod loader;
pub mod test_files;
