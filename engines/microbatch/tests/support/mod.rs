//! Helpers shared by the DStream tests: a manual-clock context and per-batch collection.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microbatch::{Clock, StreamingConf, StreamingContext};

pub const BATCH: Duration = Duration::from_millis(100);
pub const MS: u64 = 1_000_000;

pub fn context(executors: usize, batches: u64) -> StreamingContext {
    let conf = StreamingConf {
        executors,
        partitions: 3,
        clock: Clock::Manual,
        batches: Some(batches),
        ..StreamingConf::default()
    };
    StreamingContext::new(conf, BATCH).unwrap()
}

pub type Collected<T> = Arc<Mutex<BTreeMap<u64, Vec<T>>>>;

pub fn collect<T: microbatch::rdd::ShuffleData + Ord>(d: &microbatch::DStream<T>) -> Collected<T> {
    let out: Collected<T> = Arc::default();
    let sink = Arc::clone(&out);
    d.foreach_batch(move |t, mut records| {
        records.sort();
        sink.lock().unwrap().insert(t / MS, records);
    })
    .unwrap();
    out
}

pub fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = v.iter().map(|(w, c)| (w.to_string(), *c)).collect();
    v.sort();
    v
}

/// One `StreamingContext` is active per process (as one per JVM in Spark): every test that
/// starts one holds this first, so that `cargo test`, which runs a file's tests as threads of one
/// process, runs them one at a time (nextest runs each in a process of its own).
pub fn one_context() -> std::sync::MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts `ssc` and waits for its configured batches.
pub fn run(ssc: &mut StreamingContext) {
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
}

/// A fresh, empty directory for one test.
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `(key, value)` pairs with `String` keys, sorted.
pub fn kv<V: Clone + Ord>(v: &[(&str, V)]) -> Vec<(String, V)> {
    let mut v: Vec<(String, V)> = v.iter().map(|(k, x)| (k.to_string(), x.clone())).collect();
    v.sort();
    v
}

/// Owned strings.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A writer that many batches append to, readable by the test.
pub struct SharedWriter(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
