//! One file per subcommand, each with its clap `Args` and the function that runs it (returning
//! what `main` prints).

pub mod baseline;
pub mod chaos;
pub mod check;
pub mod cluster;
pub mod compare;
pub mod counts;
pub mod experiment;
pub mod feed;
pub mod gen;
pub mod merge;
pub mod plot;
pub mod run;
pub mod sustainable;
pub mod sweep;
