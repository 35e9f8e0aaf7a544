//! The receivers' write-ahead log (Spark's `spark.streaming.receiver.writeAheadLog.enable`): a
//! driver SIGKILLed mid-run (this test binary run again as a child process, then killed) and
//! resumed by `get_or_create` loses no record its reliable receiver had stored and reads none
//! twice: the running totals equal the source's exactly.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use microbatch::{Clock, Receive, StreamingConf, StreamingContext, StreamingError};

mod support;

/// Records the source holds: `0..RECORDS`, sent at about 20,000 a second.
const RECORDS: u64 = 20_000;
/// The child process's checkpoint directory (set only in the child).
const CHILD: &str = "STREAMBENCH_WAL_TEST_CHILD";

/// Per key, the running (count, sum).
type KeyTotals = Vec<(u64, (u64, u64))>;
type Totals = Arc<Mutex<KeyTotals>>;

/// The program: a reliable receiver reading the source from where it left off; per key
/// (`x % 3`) the running count and sum, checkpointed every 2 batches; the last batch's totals,
/// and where the receiver was told to resume from.
fn program(dir: &Path, wal: bool) -> Result<(StreamingContext, Totals, Arc<AtomicU64>), StreamingError> {
    let (totals, resumed): (Totals, _) = (Arc::default(), Arc::new(AtomicU64::new(u64::MAX)));
    let (sink, from_seen) = (Arc::clone(&totals), Arc::clone(&resumed));
    let ssc = StreamingContext::get_or_create(dir, move || {
        let conf = StreamingConf {
            executors: 2,
            partitions: 3,
            clock: Clock::System,
            block_interval: Duration::from_millis(20),
            receiver_wal: wal,
            ..StreamingConf::default()
        };
        let ssc = StreamingContext::new(conf, Duration::from_millis(100))?;
        let records = ssc.reliable_receiver_stream(move |from: u64, store: &mut dyn FnMut(u64) -> bool| {
            from_seen.fetch_min(from, Ordering::Relaxed);
            for x in from..RECORDS {
                if !store(x) {
                    return Receive::Done;
                }
                if x % 100 == 99 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Receive::Done
        })?;
        let totals = records.map(|x| (*x % 3, (1u64, *x)))?.update_state_by_key(
            |new: &[(u64, u64)], old: Option<&(u64, u64)>| {
                let (mut n, mut sum) = old.copied().unwrap_or((0, 0));
                for (dn, ds) in new {
                    (n, sum) = (n + dn, sum + ds);
                }
                Some((n, sum))
            },
        )?;
        totals.checkpoint(Duration::from_millis(200))?;
        totals.foreach_batch(move |_t, mut v| {
            v.sort();
            *sink.lock().unwrap() = v;
        })?;
        Ok(ssc)
    })?;
    Ok((ssc, totals, resumed))
}

/// The totals of `0..RECORDS` by `x % 3`.
fn expected() -> KeyTotals {
    (0..3).map(|k| (k, (0..RECORDS).filter(|x| x % 3 == k).fold((0, 0), |(n, s), x| (n + 1, s + x)))).collect()
}

/// Runs the program in a child process (this test, with the child's variable set) and
/// SIGKILLs it after `after`.
fn crash_a_child(test: &str, dir: &Path, after: Duration) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// In the child (its directory in the variable): runs the program until killed.
fn child(wal: bool) -> bool {
    let Some(dir) = std::env::var_os(CHILD) else { return false };
    let (mut ssc, _, _) = program(Path::new(&dir), wal).unwrap();
    ssc.start().unwrap();
    std::thread::sleep(Duration::from_secs(60));
    true
}

/// A child crashed at 0.6 s (about 12,000 of the 20,000 records stored), then the program
/// resumed here until its totals count every record; returns the totals and where its receiver
/// was told to resume.
fn crash_and_resume(test: &str, name: &str, wal: bool) -> (KeyTotals, u64) {
    if child(wal) {
        return (Vec::new(), 0);
    }
    let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
    let _one = support::one_context();
    let _ = std::fs::remove_dir_all(&dir);
    crash_a_child(test, &dir, Duration::from_millis(600));
    let (mut ssc, totals, resumed) = program(&dir, wal).unwrap();
    assert!(ssc.recovery().0.is_some(), "the child checkpointed some batches before it was killed");
    ssc.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let counted = || totals.lock().unwrap().iter().map(|(_, (n, _))| n).sum::<u64>();
    while counted() < RECORDS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A batch more, so that a record read twice would show.
    std::thread::sleep(Duration::from_millis(300));
    ssc.stop(false).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let out = totals.lock().unwrap().clone();
    (out, resumed.load(Ordering::Relaxed))
}

#[test]
fn a_driver_killed_mid_run_loses_no_stored_record_with_the_write_ahead_log() {
    let (totals, from) =
        crash_and_resume("a_driver_killed_mid_run_loses_no_stored_record_with_the_write_ahead_log", "wal", true);
    if totals.is_empty() && from == 0 {
        return; // the child
    }
    assert!(from > 0 && from < RECORDS, "the receiver resumes after the logged records, not from the start: {from}");
    assert_eq!(totals, expected(), "every record counted once (resumed at {from})");
}

#[test]
fn without_the_write_ahead_log_the_same_crash_reads_records_twice() {
    // The control: with nothing logged the receiver starts the source again from 0, so records
    // counted in the checkpointed state before the crash are counted again.
    let (totals, from) =
        crash_and_resume("without_the_write_ahead_log_the_same_crash_reads_records_twice", "no-wal", false);
    if totals.is_empty() && from == 0 {
        return;
    }
    assert_eq!(from, 0);
    let counted: u64 = totals.iter().map(|(_, (n, _))| n).sum();
    assert!(counted > RECORDS, "records counted twice: {counted} of {RECORDS}");
}
