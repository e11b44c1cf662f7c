//! Integration tests: the `greenroom` binary and the host library against
//! real plugin files built by cargo.
//!
//! Tests cannot build plugins while cargo holds the target directory, so the
//! files are built first (`cargo xtask test` does both); a test that finds
//! one missing fails with the command to run.

mod artifacts;
mod bad_files;
mod catalog;
mod config;
mod core_services;
mod http;
mod initialize;
mod interface;
mod kit;
mod mutations;
mod out_of_tree;
mod panics;
mod reload_plugins;
mod replace;
mod resolve;
mod services;
mod soak;
mod trust;
