//! Receiver-based and file sources: a socket text stream (blocks every block interval, each
//! stored on two executors) counted exactly, also when an executor holding blocks is lost, and
//! restarted, as Spark's, when its connection is refused, reset or closed; a line over the bound
//! skipped and reported; new files in a directory; a failing receiver and a panicking task stop
//! the program with why.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microbatch::{Clock, Receive, StreamingConf, StreamingContext};

mod support;
use support::*;

/// Serves `lines` lines (`word<i % 7>`) to the first connection, a few at a time, then closes.
fn serve(lines: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        for chunk in (0..lines).collect::<Vec<_>>().chunks(50) {
            let text: String = chunk.iter().map(|i| format!("word{}\n", i % 7)).collect();
            s.write_all(text.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    addr
}

fn socket_word_counts(faults: Vec<workloads::Fault>, name: &str) -> Vec<(String, u64)> {
    let conf = StreamingConf {
        executors: 2,
        partitions: 3,
        clock: Clock::System,
        batches: Some(12),
        block_interval: Duration::from_millis(20),
        faults,
        ..StreamingConf::default()
    };
    let mut ssc = StreamingContext::new(conf, Duration::from_millis(100)).unwrap();
    ssc.checkpoint(fresh_dir(name)).unwrap();
    let lines = ssc.socket_text_stream(&serve(2000)).unwrap();
    let totals = lines
        .map(|w| (w.clone(), 1u64))
        .unwrap()
        .update_state_by_key(|new: &[u64], old: Option<&u64>| Some(old.copied().unwrap_or(0) + new.iter().sum::<u64>()))
        .unwrap();
    let out = collect(&totals);
    run(&mut ssc);
    let out = out.lock().unwrap();
    out.values().last().cloned().unwrap()
}

fn expected(lines: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> =
        (0..7).map(|w| (format!("word{w}"), (0..lines).filter(|i| i % 7 == w).count() as u64)).collect();
    v.sort();
    v
}

#[test]
fn a_socket_text_stream_counts_every_line_once() {
    let _one = support::one_context();
    // 2000 lines over about 400 ms; 12 batches of 100 ms read them all.
    assert_eq!(socket_word_counts(Vec::new(), "socket"), expected(2000));
}

#[test]
fn received_blocks_survive_the_loss_of_an_executor() {
    let _one = support::one_context();
    // Executor 0 holds a copy of every other block; once it is lost, the running count is
    // recomputed from the replicas on executor 1.
    let faults = vec![workloads::Fault::KillWorker { worker: 0, at_ns: 250 * MS }];
    assert_eq!(socket_word_counts(faults, "socket-kill"), expected(2000));
}

#[test]
fn text_file_stream_reads_each_new_file_once() {
    let _one = support::one_context();
    let dir = fresh_dir("files");
    let mut ssc = context(2, 3);
    // An output writes a file while batches 1 and 2 run: every batch's lineage (here: which
    // files it reads) is generated before its jobs run, so each file is in the next batch.
    let writer_dir = dir.clone();
    ssc.queue_stream(vec![vec![1u64], vec![2u64]])
        .unwrap()
        .foreach_batch(move |_t, batch| {
            if let Some(k) = batch.first() {
                std::fs::write(writer_dir.join(format!("_tmp{k}")), format!("a{k}\nb{k}\n")).unwrap();
                std::fs::rename(writer_dir.join(format!("_tmp{k}")), writer_dir.join(format!("in{k}.txt"))).unwrap();
                std::fs::write(writer_dir.join(".hidden"), "never read\n").unwrap();
            }
        })
        .unwrap();
    let lines = collect(&ssc.text_file_stream(&dir).unwrap());
    run(&mut ssc);
    let lines = lines.lock().unwrap();
    assert_eq!(lines[&100], Vec::<String>::new());
    assert_eq!(lines[&200], strings(&["a1", "b1"]));
    assert_eq!(lines[&300], strings(&["a2", "b2"]));
}

#[test]
fn a_failing_receiver_or_a_panicking_task_stops_the_program_with_why() {
    let _one = support::one_context();
    // On the system clock: the receiver fails at once, well before the first batch.
    let conf = StreamingConf { executors: 2, batches: Some(5), ..StreamingConf::default() };
    let mut ssc = StreamingContext::new(conf, Duration::from_millis(50)).unwrap();
    let s =
        ssc.receiver_stream(|_store: &mut dyn FnMut(u64) -> bool| Receive::Fail("the feed went away".into())).unwrap();
    s.foreach_batch(|_, _| {}).unwrap();
    ssc.start().unwrap();
    let err = ssc.await_termination().unwrap_err().to_string();
    assert!(err.contains("the receiver failed: the feed went away"), "{err}");

    let mut ssc = context(2, 2);
    let seen = Arc::new(Mutex::new(0));
    let s = ssc.queue_stream(vec![vec![1u64, 2, 3]]).unwrap();
    s.map(|x| if *x == 2 { panic!("record 2 is bad") } else { *x })
        .unwrap()
        .foreach_batch(move |_, _| *seen.lock().unwrap() += 1)
        .unwrap();
    ssc.start().unwrap();
    let err = ssc.await_termination().unwrap_err().to_string();
    assert!(err.contains("the task panicked: record 2 is bad"), "{err}");
}

#[test]
fn backpressure_and_the_maximum_rate_bound_a_direct_stream() {
    let _one = support::one_context();
    // The source always has 1000 records more; 2 partitions, 100 ms batches.
    let run_with = |conf: StreamingConf| {
        let mut ssc = StreamingContext::new(StreamingConf { batches: Some(3), ..conf }, BATCH).unwrap();
        let s = ssc
            .direct_stream(2, |_p, _t, from, _allowed| from + 1000, |p, _i, out: &mut Vec<u32>| out.push(p as u32))
            .unwrap();
        let counts = collect(&s.count().unwrap());
        run(&mut ssc);
        let counts = counts.lock().unwrap();
        counts.values().map(|c| c[0]).collect::<Vec<u64>>()
    };
    let manual = StreamingConf { executors: 2, clock: Clock::Manual, ..StreamingConf::default() };
    // Unbounded: everything there is.
    assert_eq!(run_with(manual.clone()), vec![2000, 2000, 2000]);
    // 50 records/s per partition: 5 per partition per 100 ms batch.
    assert_eq!(run_with(StreamingConf { max_rate_per_partition: Some(50.0), ..manual.clone() }), vec![10, 10, 10]);
    // Backpressure starting at 300 records/s: the first batch reads 30; after it, the
    // estimator follows the processing rate (far above, though how far depends on how busy the
    // machine is), bounded by the maximum rate: 800 a batch.
    let bp =
        StreamingConf { backpressure: true, initial_rate: Some(300.0), max_rate_per_partition: Some(4000.0), ..manual };
    let counts = run_with(bp);
    assert_eq!(counts[0], 30, "{counts:?}");
    assert!(counts[1..].iter().all(|c| (31..=800).contains(c)), "{counts:?}");
}

/// A system-clock context of `batches` 50 ms batches whose receivers restart after 50 ms.
fn restarting(batches: u64) -> StreamingContext {
    let conf = StreamingConf {
        executors: 2,
        batches: Some(batches),
        block_interval: Duration::from_millis(10),
        receiver_restart_delay: Duration::from_millis(50),
        ..StreamingConf::default()
    };
    StreamingContext::new(conf, Duration::from_millis(50)).unwrap()
}

#[test]
fn a_socket_receiver_restarts_after_a_reset_and_after_the_sender_closes() {
    let _one = support::one_context();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        // The first connection sends two lines and is reset (RST, not FIN).
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"a1\nb1\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
        // The second sends a line and closes; the third sends one and stays open.
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"a2\n").unwrap();
        drop(s);
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"a3\n").unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut ssc = restarting(30);
    let lines = collect(&ssc.socket_text_stream(&addr).unwrap());
    run(&mut ssc);
    let mut all: Vec<String> = lines.lock().unwrap().values().flatten().cloned().collect();
    all.sort();
    assert_eq!(all, strings(&["a1", "a2", "a3", "b1"]));
    let events = ssc.receiver_events();
    assert!(events.iter().any(|e| e.contains("error receiving data") && e.contains("reset")), "{events:?}");
    assert!(events.iter().any(|e| e.contains("no more data")), "{events:?}");
    server.join().unwrap();
}

#[test]
fn a_socket_receiver_without_a_listener_keeps_retrying_and_batches_go_on() {
    let _one = support::one_context();
    // A port nobody listens on: connections are refused, the receiver retries, batches run empty.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let mut ssc = restarting(6);
    let lines = collect(&ssc.socket_text_stream(&addr).unwrap());
    run(&mut ssc);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 6);
    assert!(lines.values().all(Vec::is_empty));
    let events = ssc.receiver_events();
    assert!(events.len() >= 2, "{events:?}");
    // The message names the address and what happened, nothing of the harness.
    assert!(events[0].contains(&format!("error connecting to {addr}")), "{events:?}");
    assert!(!events.iter().any(|e| e.contains("streambench")), "{events:?}");
}

#[test]
fn a_line_over_the_bound_is_skipped_and_reported() {
    let _one = support::one_context();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let long = workloads::socket::MAX_LINE_BYTES + 1000;
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"before\n").unwrap();
        s.write_all(&vec![b'x'; long]).unwrap();
        s.write_all(b"\nafter\n").unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut ssc = restarting(10);
    let lines = collect(&ssc.socket_text_stream(&addr).unwrap());
    run(&mut ssc);
    let mut all: Vec<String> = lines.lock().unwrap().values().flatten().cloned().collect();
    all.sort();
    assert_eq!(all, strings(&["after", "before"]));
    let events = ssc.receiver_events();
    assert!(events.iter().any(|e| e.contains(&format!("skipped a line of {long} bytes"))), "{events:?}");
}
