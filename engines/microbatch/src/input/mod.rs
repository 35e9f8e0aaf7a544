//! Input streams, each a way of cutting what arrives into batches: [`queue`] (a queue of
//! batches, for tests), [`direct`] (offset ranges the driver decides, Kafka's direct stream),
//! [`receiver`] (records a receiver thread stores, cut into replicated blocks), [`socket`] (a
//! receiver reading lines from TCP) and [`file`] (new files in a directory).

pub mod direct;
pub mod file;
pub mod queue;
pub mod receiver;
pub mod socket;
