//! Cross-engine integration tests (see `cross_engine.rs`): both engines run the same spec of
//! every workload in the registry and each must equal the oracle, having read the same input.
//! Engine-specific tests live with each engine; the CLI and cluster tests with the harness,
//! which builds the binary they run.
