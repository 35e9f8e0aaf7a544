//! The `streambench` harness: the command line, and everything it does to run, measure, verify
//! and plot both engines. Library code does not print to the terminal; `main.rs` does.
//!
//! [`cli`] is the command enum; [`commands`] has a file per subcommand; [`run_args`] the options
//! of one run (shared by `run`, `compare`, `sweep`, `sustainable`, `cluster`) and [`options`] the
//! parsers every subcommand shares; [`engine`] the one measuring path (run, then judge against
//! the oracle; [`resources`] what it cost); [`result`], [`summary`], [`run_kind`], [`plot`] and [`report`] what comes out.

pub mod cli;
pub mod commands;
pub mod counts;
pub mod engine;
pub mod experiment;
pub mod options;
pub mod output;
pub mod plot;
pub mod progress;
pub mod recovery;
pub mod report;
pub mod report_sections;
pub mod resources;
pub mod result;
pub mod run_args;
pub mod run_kind;
pub mod section_plots;
pub mod summary;
pub mod tidy;
pub mod timeline;
