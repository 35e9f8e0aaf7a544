//! The `streambench` harness: the command line, and everything it does to run, measure, verify
//! and plot both engines. Library code does not print to the terminal; `main.rs` does.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compare;
pub mod feed;
pub mod plot;
pub mod report;
pub mod result;
pub mod run;
pub mod summary;
pub mod sweep;
