//! The micro-batch engine: Spark Streaming's discretized streams on the timely cluster fabric,
//! laid out along Spark's own seams. It is also a library: a streaming program is written
//! against [`StreamingContext`] and [`DStream`] as in Spark Streaming.
//!
//! # Two programs from the Spark Streaming guide
//!
//! The network word count: lines from a TCP socket, counted per 1 s batch (here a little server
//! in the same program sends the lines; in the guide it is `nc -lk 9999`).
//!
//! ```
//! use std::io::Write;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use microbatch::{StreamingConf, StreamingContext};
//!
//! let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = server.local_addr().unwrap().to_string();
//! std::thread::spawn(move || {
//!     let (mut socket, _) = server.accept().unwrap();
//!     socket.write_all(b"hello world\nhello streaming\n").unwrap();
//!     std::thread::sleep(Duration::from_secs(5));
//! });
//!
//! // Two executors, batches every 200 ms, stopping by itself after 5 batches.
//! let conf = StreamingConf { executors: 2, batches: Some(5), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_millis(200)).unwrap();
//! let lines = ssc.socket_text_stream(&addr).unwrap();
//! let words = lines.flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>()).unwrap();
//! let pairs = words.map(|word| (word.clone(), 1u64)).unwrap();
//! let word_counts = pairs.reduce_by_key(|a, b| a + b).unwrap();
//! word_counts.print().unwrap();
//! // Also bring every batch's counts back, to check them.
//! let counted = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&counted);
//! word_counts.foreach_batch(move |_time, counts| sink.lock().unwrap().extend(counts)).unwrap();
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//!
//! let mut counted = counted.lock().unwrap().clone();
//! counted.sort();
//! let totals = |w: &str| counted.iter().filter(|(x, _)| x == w).map(|(_, c)| c).sum::<u64>();
//! assert_eq!((totals("hello"), totals("world"), totals("streaming")), (2, 1, 1));
//! ```
//!
//! `updateStateByKey`: a running count of every word, kept in state across batches
//! (checkpointed, so it needs a checkpoint directory). Three batches, as the guide's, on a
//! manual clock (batches back to back, times from 0):
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use microbatch::{Clock, StreamingConf, StreamingContext};
//!
//! let conf = StreamingConf { clock: Clock::Manual, batches: Some(3), ..StreamingConf::default() };
//! let mut ssc = StreamingContext::new(conf, Duration::from_secs(1)).unwrap();
//! ssc.checkpoint(std::env::temp_dir().join("microbatch-doc-running-count")).unwrap();
//! let batches = ["this is spark tutorial", "spark is fast", "apache spark"];
//! let lines = ssc.queue_stream(batches.iter().map(|l| vec![l.to_string()]).collect()).unwrap();
//! let words = lines.flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>()).unwrap();
//! let running = words
//!     .map(|word| (word.clone(), 1u64))
//!     .unwrap()
//!     .update_state_by_key(|new: &[u64], old: Option<&u64>| Some(new.iter().sum::<u64>() + old.unwrap_or(&0)))
//!     .unwrap();
//! running.print().unwrap();
//! // What print writes, kept to check it: Spark's header, then the batch's pairs.
//! let printed = Arc::new(Mutex::new(Vec::new()));
//! running.print_to(10, Buffer(Arc::clone(&printed))).unwrap();
//! ssc.start().unwrap();
//! ssc.await_termination().unwrap();
//!
//! let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
//! let batches: Vec<Vec<&str>> = text
//!     .split("-------------------------------------------\n")
//!     .filter(|part| !part.starts_with("Time:") && !part.is_empty())
//!     .map(|part| {
//!         let mut lines: Vec<&str> = part.lines().filter(|l| !l.is_empty()).collect();
//!         lines.sort();
//!         lines
//!     })
//!     .collect();
//! assert!(text.starts_with("-------------------------------------------\nTime: 1000 ms\n"));
//! assert_eq!(batches, vec![
//!     vec!["(is,1)", "(spark,1)", "(this,1)", "(tutorial,1)"],
//!     vec!["(fast,1)", "(is,2)", "(spark,2)", "(this,1)", "(tutorial,1)"],
//!     vec!["(apache,1)", "(fast,1)", "(is,2)", "(spark,3)", "(this,1)", "(tutorial,1)"],
//! ]);
//! # struct Buffer(Arc<Mutex<Vec<u8>>>);
//! # impl std::io::Write for Buffer {
//! #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
//! #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! # }
//! ```
//!
//! # How it is built
//!
//! **API** ([`context`], [`conf`], [`dstream`], [`input`]): a [`StreamingContext`] cuts streams
//! into batches every batch interval; input streams ([`input`]: queue, direct, receiver, socket,
//! file) feed a graph of DStreams built by transformations, windows and state
//! ([`dstream`], a file per family); output operations make one job per batch.
//! **Lineage** ([`rdd`]): each batch's RDD is a lineage of narrow dependencies and shuffles
//! (with map-side combine), walked by one visitor; inside `transform` and `foreach_rdd` the RDD
//! API is Spark's ([`rdd::Rdd`], [`rdd::RddContext`]).
//! **Driver** ([`scheduler`]): a thread running the job generator on a timer, one job at a time
//! in batch order; the DAG scheduler splits each job into stages at shuffle boundaries, and a
//! stage starts only when every task of the stage before it has finished.
//! **Executors** ([`executor`]): every timely worker, with its own block manager; tasks, shuffle
//! blocks and completions travel over one long-lived timely dataflow.
//!
//! **Workloads** ([`jobs`]): the harness workloads as a Spark user writes them, a file each.
//!
//! **Fault tolerance**: received blocks stored on two executors; state checkpointed to files
//! every checkpoint interval, a metadata checkpoint after every batch, lost executors'
//! partitions recomputed from lineage on the survivors, a restarted program resumed with
//! [`StreamingContext::get_or_create`]. **Several processes**: the driver in process 0 tells the
//! others each batch's inputs; they generate the same lineage and run its tasks.

mod commits;
pub mod conf;
pub mod context;
pub mod dstream;
pub mod executor;
pub mod input;
pub mod jobs;
pub mod rdd;
pub mod scheduler;
pub mod text;
pub mod time;

pub use conf::{Clock, StreamingConf};
pub use context::{State, StreamingContext};
pub use dstream::state::{MapWithStateDStream, StateSpec};
pub use dstream::DStream;
pub use input::receiver::Receive;
pub use text::SparkText;

use workloads::{Observer, RunSpec};

/// Why a streaming program or a micro-batch run failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamingError {
    /// A lifecycle rule was broken (returned by the call that broke it).
    #[error("{0}")]
    Lifecycle(String),
    /// An invalid parameter (the message names a value that works).
    #[error("{0}")]
    Invalid(String),
    /// A batch failed while running.
    #[error("a batch failed: {0}")]
    Failed(String),
}

/// Runs `spec` (one of the harness's workloads) on this process's executors, reporting to
/// `observer`.
pub fn run(spec: &RunSpec, observer: &Observer) -> Result<(), StreamingError> {
    jobs::run(spec, observer)
}
