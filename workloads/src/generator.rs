//! Seeded, partitioned, offset-addressable generators.
//!
//! Event `i` of partition `p` is a pure function of the seed, `p` and `i` (through the global
//! index `k = i * partitions + p` of `Schedule`), so any range can be regenerated exactly, as a
//! consumer re-reads a Kafka offset range after a fault.
//!
//! Generation must never be what limits an engine. Text is therefore drawn from pools built once
//! per generator (lines of Zipf-distributed words; tweets per popularity phase) and indexed by a
//! hash of the global index: an event is a hash, a table look-up and a borrowed `&str`, with no
//! allocation. Sensor readings are computed arithmetically from tables.
/// Why a generator cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// The `--input` file cannot be read.
    #[error("cannot read input file {path}: {source}")]
    Input {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--input` file has no non-empty line.
    #[error("input file {0} has no non-empty line: give a text file with at least one line of words")]
    EmptyInput(String),
}
