//! Input streams, each a way of cutting what arrives into batches: [`queue`] (a queue of
//! batches, for tests), [`direct`] (offset ranges the driver decides, Kafka's direct stream),
//! [`receiver`] (records a receiver thread stores, cut into replicated blocks), [`socket`] (a
//! receiver reading lines from TCP) and [`file`] (new files in a directory).
//!
//! A queue stream, a direct stream and a text file stream, on two 1 s batches:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use microbatch::{Clock, StreamingConf, StreamingContext};
//!
//! let conf = StreamingConf { clock: Clock::Manual, batches: Some(2), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let record = |name: &'static str| {
//!     let sink = Arc::clone(&seen);
//!     move |t: u64, mut records: Vec<u64>| {
//!         records.sort();
//!         sink.lock().unwrap().push((name, t / 1_000_000_000, records));
//!     }
//! };
//! // Batch k is the k-th vector.
//! ssc.queue_stream(vec![vec![1u64, 2], vec![3]]).unwrap().foreach_batch(record("queue")).unwrap();
//! // Two partitions of 10 records each per batch: batch 1 reads offsets [0, 10), batch 2 [10, 20).
//! let direct = ssc.direct_stream(2, |_p, _t, from, _allowed| from + 10, |p, i, out| out.push(p as u64 * 100 + i)).unwrap();
//! direct.count().unwrap().foreach_batch(record("direct")).unwrap();
//! // Files that appear in a directory after the start (written elsewhere, then renamed in).
//! let dir = std::env::temp_dir().join(format!("microbatch-doc-input-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! ssc.text_file_stream(&dir).unwrap().count().unwrap().foreach_batch(record("files")).unwrap();
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//! let seen = seen.lock().unwrap();
//! assert!(seen.contains(&("queue", 1, vec![1, 2])) && seen.contains(&("queue", 2, vec![3])));
//! assert!(seen.contains(&("direct", 1, vec![20])) && seen.contains(&("direct", 2, vec![20])));
//! assert!(seen.contains(&("files", 1, vec![0])));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod direct;
pub mod file;
pub mod queue;
pub mod receiver;
pub mod socket;
