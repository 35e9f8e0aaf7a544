//! The driver, along Spark's seams: the [`job_generator`] (the timer, job generation,
//! checkpoints), the [`job_scheduler`] (runs a batch's jobs, reports `BatchInfo`, feeds the
//! [`rate`] estimator), the [`dag`] scheduler (cuts a job into stages at shuffle boundaries and
//! runs them; [`placement`] says where tasks run, [`map_output`] where their outputs are), the
//! [`receiver_tracker`] (received blocks and their batches) and its [`write_ahead_log`], the
//! metadata [`checkpoint`],
//! [`faults`] injection, the [`stop`] signal, the executors' [`cluster`], and the [`follower`]
//! that runs in every other process.

pub mod checkpoint;
pub(crate) mod cluster;
pub mod dag;
pub(crate) mod faults;
pub(crate) mod follower;
pub(crate) mod job_generator;
pub(crate) mod job_scheduler;
pub mod listener;
pub(crate) mod map_output;
pub(crate) mod placement;
pub mod rate;
pub(crate) mod receiver_tracker;
pub(crate) mod stop;
pub(crate) mod write_ahead_log;
