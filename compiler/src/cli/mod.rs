//! The `meshc` command line.
