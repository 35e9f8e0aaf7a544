//! The context's lifecycle as Spark's: `stop(graceful)`, one active context per process,
//! settings refused once started, listeners added while running, `await_termination` after
//! `stop`, batch times in epoch milliseconds, and `text_file_stream` reading only new files.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use microbatch::{Receive, State, StreamingConf, StreamingContext, StreamingError};

mod support;
use support::*;

fn system(batch: Duration) -> StreamingContext {
    StreamingContext::new(StreamingConf { executors: 2, ..StreamingConf::default() }, batch).unwrap()
}

fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn stop_not_graceful_returns_at_once_and_runs_no_other_batch() {
    let _one = support::one_context();
    let mut ssc = system(Duration::from_secs(5));
    let batches = collect(&ssc.queue_stream(vec![vec![1u64]]).unwrap());
    ssc.start().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    let infos = ssc.stop(false).unwrap();
    // The first batch was due 5 s after the start: none ran, and stop did not wait for it.
    assert!(asked.elapsed() < Duration::from_secs(2), "stop took {:?}", asked.elapsed());
    assert!(infos.is_empty(), "{infos:?}");
    assert!(batches.lock().unwrap().is_empty());
    assert_eq!(ssc.state(), State::Stopped);
}

#[test]
fn stop_graceful_processes_everything_the_receivers_stored() {
    let _one = support::one_context();
    let mut ssc = system(Duration::from_millis(300));
    let (stored, returned) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let (counter, finished) = (Arc::clone(&stored), Arc::clone(&returned));
    let numbers = ssc
        .receiver_stream(move |store: &mut dyn FnMut(u64) -> bool| {
            // Stores a record a millisecond until the receiver is stopped.
            for i in 0.. {
                if !store(i) {
                    break;
                }
                counter.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
            finished.store(true, Ordering::Release);
            Receive::Done
        })
        .unwrap();
    let counts = collect(&numbers.count().unwrap());
    ssc.start().unwrap();
    std::thread::sleep(Duration::from_millis(450));
    let infos = ssc.stop(true).unwrap();
    // Asked between the first batch (300 ms) and the second (600 ms): the second is the last.
    assert_eq!(infos.len(), 2, "{infos:?}");
    // The receiver saw a refused store and returned.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !returned.load(Ordering::Acquire) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let seen: u64 = counts.lock().unwrap().values().map(|c| c[0]).sum();
    assert!(seen > 0);
    assert_eq!(seen, stored.load(Ordering::Relaxed), "every stored record processed, once");
}

#[test]
fn await_termination_after_stop_returns_the_batches() {
    let _one = support::one_context();
    let mut ssc = context(1, 2);
    ssc.queue_stream(vec![vec![1u64], vec![2]]).unwrap().foreach_batch(|_, _| {}).unwrap();
    ssc.start().unwrap();
    let first = ssc.await_termination().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(ssc.stop(false).unwrap().len(), 2);
    assert_eq!(ssc.await_termination().unwrap().len(), 2);
    // A context never started can be stopped, and then not started.
    let mut idle = context(1, 1);
    idle.queue_stream(vec![vec![1u64]]).unwrap().foreach_batch(|_, _| {}).unwrap();
    idle.stop(false).unwrap();
    assert!(matches!(idle.start(), Err(StreamingError::Lifecycle(_))));
}

#[test]
fn one_context_is_active_at_a_time() {
    let _one = support::one_context();
    let mut a = system(Duration::from_secs(1));
    a.queue_stream(vec![vec![1u64]]).unwrap().foreach_batch(|_, _| {}).unwrap();
    let mut b = system(Duration::from_secs(1));
    b.queue_stream(vec![vec![1u64]]).unwrap().foreach_batch(|_, _| {}).unwrap();
    a.start().unwrap();
    let err = b.start().unwrap_err().to_string();
    assert!(err.contains("another StreamingContext is active"), "{err}");
    assert_eq!(b.state(), State::Initialized);
    a.stop(false).unwrap();
    b.start().unwrap();
    b.stop(false).unwrap();
}

#[test]
fn settings_after_start_are_refused_and_listeners_are_heard() {
    let _one = support::one_context();
    let mut ssc = system(Duration::from_millis(100));
    ssc.queue_stream(vec![vec![1u64]; 5]).unwrap().foreach_batch(|_, _| {}).unwrap();
    ssc.start().unwrap();
    let err = ssc.checkpoint(fresh_dir("late-checkpoint")).unwrap_err().to_string();
    assert!(err.contains("cannot set the checkpoint directory after the context has started"), "{err}");
    let err = ssc.remember(Duration::from_secs(1)).unwrap_err().to_string();
    assert!(err.contains("cannot set the remember duration"), "{err}");
    let err = ssc.checkpoint_interval(Duration::from_secs(1)).unwrap_err().to_string();
    assert!(err.contains("cannot set the checkpoint interval"), "{err}");
    // A listener added while batches run hears the batches after it.
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    ssc.add_listener(Box::new(move |info| sink.lock().unwrap().push(info.batch_time_ms)));
    std::thread::sleep(Duration::from_millis(350));
    ssc.stop(false).unwrap();
    let heard = heard.lock().unwrap();
    assert!(!heard.is_empty(), "the listener heard nothing");
}

#[test]
fn batch_times_are_epoch_milliseconds_so_runs_do_not_overwrite_each_other() {
    let _one = support::one_context();
    let dir = fresh_dir("epoch-times");
    let mut folders = Vec::new();
    for _ in 0..2 {
        let before = epoch_ms();
        let conf = StreamingConf { executors: 1, batches: Some(2), ..StreamingConf::default() };
        let mut ssc = StreamingContext::new(conf, Duration::from_millis(100)).unwrap();
        let s = ssc.queue_stream(vec![vec![1u64], vec![2]]).unwrap();
        let printed = Arc::new(Mutex::new(Vec::new()));
        s.print_to(10, SharedWriter(Arc::clone(&printed))).unwrap();
        s.save_as_text_files(dir.join("out").to_str().unwrap(), "txt").unwrap();
        run(&mut ssc);
        let zero = ssc.time_zero_ms();
        // The start, rounded down to a multiple of the batch interval.
        assert!(zero + 100 > before && zero <= epoch_ms() && zero.is_multiple_of(100), "zero {zero}, before {before}");
        let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
        assert!(text.contains(&format!("Time: {} ms", zero + 100)), "{text}");
        assert!(text.contains(&format!("Time: {} ms", zero + 200)), "{text}");
        for t in [zero + 100, zero + 200] {
            let folder = dir.join(format!("out-{t}.txt"));
            assert!(folder.join("_SUCCESS").exists(), "{folder:?}");
            folders.push(folder);
        }
        // The next run starts at least a batch later.
        std::thread::sleep(Duration::from_millis(150));
    }
    folders.dedup();
    assert_eq!(folders.len(), 4, "{folders:?}");
}

#[test]
fn text_file_stream_reads_only_files_that_appear_after_the_start() {
    let _one = support::one_context();
    let dir = fresh_dir("new-files-only");
    std::fs::write(dir.join("old.txt"), "old\n").unwrap();
    let mut ssc = context(1, 2);
    let writer = dir.clone();
    ssc.queue_stream(vec![vec![1u64], vec![]])
        .unwrap()
        .foreach_batch(move |_t, batch| {
            if !batch.is_empty() {
                std::fs::write(writer.join("_new"), "new\n").unwrap();
                std::fs::rename(writer.join("_new"), writer.join("new.txt")).unwrap();
            }
        })
        .unwrap();
    let only_new = collect(&ssc.text_file_stream(&dir).unwrap());
    let all = collect(&ssc.text_file_stream_with(&dir, false).unwrap());
    run(&mut ssc);
    let only_new: Vec<String> = only_new.lock().unwrap().values().flatten().cloned().collect();
    assert_eq!(only_new, strings(&["new"]));
    let all: Vec<String> = all.lock().unwrap().values().flatten().cloned().collect();
    assert_eq!(all, strings(&["old", "new"]));
}

#[test]
fn errors_name_what_the_user_called_in_the_units_given() {
    let _one = support::one_context();
    let ssc = context(1, 2);
    let a = ssc.queue_stream(vec![vec![(1u64, 1u64)]]).unwrap();
    let b = ssc.queue_stream(vec![vec![(1u64, 2u64)]]).unwrap();
    // A join of a window with a stream of another slide.
    let windowed = a.window(ms(200), ms(200)).unwrap();
    let err = windowed.join(&b).err().unwrap().to_string();
    assert!(err.contains("must have the same slide, not 200 ms and 100 ms"), "{err}");
    assert!(!err.contains("transform_with needs"), "{err}");
    let err = windowed.union(&b).err().unwrap().to_string();
    assert!(err.contains("must have the same slide"), "{err}");
    // Durations keep their unit: 250 ms is 250 ms, not a count of nanoseconds.
    let err = a.window(ms(250), ms(100)).err().unwrap().to_string();
    assert!(err.contains("the window length (250 ms) must be a multiple of the batch interval (100 ms)"), "{err}");
    // The checkpoint directory an incremental window needs, named by the operation used.
    let mut ssc = context(1, 2);
    let words = ssc.queue_stream(vec![vec![1u64]]).unwrap();
    words.count_by_value_and_window(ms(200), ms(100)).unwrap().print().unwrap();
    let err = ssc.start().unwrap_err().to_string();
    assert!(err.contains("count_by_value_and_window") && err.contains("checkpoint(dir)"), "{err}");
}
