//! Driver recovery: a program stopped after some batches is built again with `get_or_create`
//! and resumes from its checkpoint: state from the last cut's files, the batches since the cut
//! run again from their recorded offsets, then new batches. Nothing is lost or counted twice.
//! A corrupt or partial checkpoint is passed over for the one before it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microbatch::{StreamingContext, StreamingError};

mod support;
use support::*;

type Totals = Arc<Mutex<BTreeMap<u64, Vec<(u32, u64)>>>>;

/// Two direct-stream partitions; each batch reads `step` records per partition (the record is
/// its partition); a running count per partition with `update_state_by_key`, checkpointed
/// every 2 batches. Returns the context and, per batch, the running counts.
fn program(dir: &Path, batches: u64, step: u64) -> Result<(StreamingContext, Totals), StreamingError> {
    let out: Totals = Arc::default();
    let sink = Arc::clone(&out);
    let created = StreamingContext::get_or_create(dir, move || {
        let ssc = context(2, batches);
        let records = ssc.direct_stream(
            2,
            move |_p, _t, from, _allowed| from + step,
            |p, _i, out: &mut Vec<u32>| out.push(p as u32),
        )?;
        let totals = records.map(|p| (*p, 1u64))?.update_state_by_key(|new: &[u64], old: Option<&u64>| {
            Some(old.copied().unwrap_or(0) + new.iter().sum::<u64>())
        })?;
        totals.checkpoint(Duration::from_millis(200))?;
        totals.foreach_batch(move |t, mut v| {
            v.sort();
            sink.lock().unwrap().insert(t / MS, v);
        })?;
        Ok(ssc)
    })?;
    Ok((created, out))
}

#[test]
fn a_restarted_program_resumes_from_its_checkpoint() {
    let _one = support::one_context();
    let dir = fresh_dir("restart");
    // First run: 5 batches of 3 records per partition; the cut is at batch 4 (400 ms).
    let (mut first, totals) = program(&dir, 5, 3).unwrap();
    assert_eq!(first.recovery().0, None);
    run(&mut first);
    assert_eq!(totals.lock().unwrap()[&500], vec![(0, 15), (1, 15)]);

    // Second run, up to batch 8; the source would now read 100 records per batch, but batch 5
    // is run again from its recorded offsets (3 records), then 6..8 read 100 each.
    let (mut second, totals) = program(&dir, 8, 100).unwrap();
    assert_eq!(second.recovery(), (Some((500 * MS, 400 * MS)), &[][..]));
    run(&mut second);
    let totals = totals.lock().unwrap();
    assert_eq!(totals.keys().copied().collect::<Vec<_>>(), vec![500, 600, 700, 800], "resumes after the cut at 400");
    assert_eq!(totals[&500], vec![(0, 15), (1, 15)], "batch 5 again, the same");
    assert_eq!(totals[&800], vec![(0, 315), (1, 315)], "nothing lost or counted twice");
}

#[test]
fn a_corrupt_or_partial_checkpoint_is_passed_over() {
    let _one = support::one_context();
    let dir = fresh_dir("corrupt");
    let (mut first, _) = program(&dir, 5, 3).unwrap();
    run(&mut first);
    // The newest metadata file truncated: the one before it (batch 4, same cut) is used.
    let newest = dir.join("metadata").join("checkpoint-500");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let (second, _) = program(&dir, 8, 100).unwrap();
    let (resume, passed) = second.recovery();
    assert_eq!(resume, Some((400 * MS, 400 * MS)));
    assert!(passed[0].contains("checkpoint-500 is truncated"), "{passed:?}");
    drop(second);

    // The cut at 400 damaged (a state file's bytes flipped): the cut before it (200) is used,
    // and batches 3..5 are run again from their recorded offsets.
    let part = dir.join("state-0").join("400").join("part-00001");
    let mut bytes = std::fs::read(&part).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    let (mut third, totals) = program(&dir, 8, 100).unwrap();
    let (resume, passed) = third.recovery();
    assert_eq!(resume, Some((300 * MS, 200 * MS)));
    assert!(passed.iter().any(|p| p.contains("is corrupt (checksum mismatch)")), "{passed:?}");
    run(&mut third);
    let totals = totals.lock().unwrap();
    assert_eq!(totals[&300], vec![(0, 9), (1, 9)]);
    // Batches 3 (recorded, 3 records), then 4..8 read afresh at 100 a batch.
    assert_eq!(totals[&800], vec![(0, 509), (1, 509)]);
}

#[test]
fn a_checkpoint_of_another_program_is_refused() {
    let _one = support::one_context();
    let dir = fresh_dir("other");
    let (mut first, _) = program(&dir, 2, 1).unwrap();
    run(&mut first);
    let mut other = StreamingContext::get_or_create(&dir, || {
        let ssc = context(1, 1);
        ssc.queue_stream(vec![vec![1u64]])?.foreach_batch(|_, _| {})?;
        Ok(ssc)
    })
    .unwrap();
    let err = other.start().unwrap_err().to_string();
    assert!(err.contains("was written by another program"), "{err}");
    assert!(err.contains("use a new checkpoint directory"), "{err}");
}

#[test]
fn a_lost_executor_recomputes_only_its_own_share_from_the_last_cut_and_lineage() {
    let _one = support::one_context();
    lost_share(true);
}

#[test]
fn a_lost_executor_kept_dead_has_its_share_recomputed_on_the_survivor() {
    let _one = support::one_context();
    lost_share(false);
}

/// The state test below, with the lost executor relaunched or kept dead (then its reduce
/// partitions and the survivor's pushed outputs go to the survivor).
fn lost_share(relaunch: bool) {
    // The running count per partition, checkpointed every 2 batches; executor 1 loses its
    // memory before batch 4: its state partitions are rebuilt from the cut at batch 2 (files)
    // plus batch 3 from lineage. Of batch 3's shuffle, only the map outputs that lived on the
    // lost executor (partitions 1 and 3 of 4) are computed again, re-reading their offsets; the
    // survivor pushes its kept outputs again, and its own state partitions stay as they are.
    let dir = fresh_dir("lost");
    let conf = microbatch::StreamingConf {
        executors: 2,
        partitions: 3,
        clock: microbatch::Clock::Manual,
        batches: Some(6),
        faults: vec![workloads::Fault::KillWorker { worker: 1, at_ns: 250 * MS }],
        relaunch_lost_executors: relaunch,
        ..Default::default()
    };
    let reads = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&reads);
    let mut ssc = StreamingContext::new(conf, BATCH).unwrap();
    ssc.checkpoint(&dir).unwrap();
    let records = ssc
        .direct_stream(
            4,
            |_p, _t, from, _allowed| from + 5,
            move |p, _i, out: &mut Vec<u32>| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                out.push(p as u32)
            },
        )
        .unwrap();
    let totals = records
        .map(|p| (*p, 1u64))
        .unwrap()
        .update_state_by_key(|new: &[u64], old: Option<&u64>| Some(old.copied().unwrap_or(0) + new.iter().sum::<u64>()))
        .unwrap();
    totals.checkpoint(Duration::from_millis(200)).unwrap();
    let out = collect(&totals);
    ssc.start().unwrap();
    let infos = ssc.await_termination().unwrap();
    let out = out.lock().unwrap();
    for b in 1..=6u64 {
        let expected: Vec<(u32, u64)> = (0..4).map(|p| (p, 5 * b)).collect();
        assert_eq!(out[&(b * 100)], expected, "batch {b}");
    }
    // 4 partitions x 5 records x 6 batches, plus the lost executor's 2 partitions of batch 3
    // read again.
    assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 120 + 10);
    // Every batch maps its 4 partitions; batch 4 also the 2 map tasks lost with executor 1.
    let maps: Vec<u64> = infos.iter().map(|i| i.map_tasks).collect();
    assert_eq!(maps, vec![4, 4, 4, 4 + 2, 4, 4]);
}

#[test]
fn an_executor_lost_mid_stage_costs_only_its_map_outputs_and_its_running_task() {
    let _one = support::one_context();
    // One batch on the system clock: 2 partitions counted by key, then a result stage of 30
    // `map_partitions` of 10 ms (300 ms) per partition. Executor 1 is killed 150 ms into the
    // result stage (which ends 300 ms after the batch time at the earliest):
    // the survivor's result task runs on to its end and counts, its map output stays and is
    // pushed again; only partition 1's map task and result task run again.
    let mut ssc = one_batch_killing_executor_1_at_350_ms();
    let reads: Arc<[std::sync::atomic::AtomicU64; 2]> = Arc::default();
    let counter = Arc::clone(&reads);
    let records = ssc
        .direct_stream(
            2,
            |_p, _t, from, _allowed| from + 5,
            move |p, _i, out: &mut Vec<u32>| {
                counter[p].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                out.push(p as u32)
            },
        )
        .unwrap();
    let mut counts = records.map(|p| (*p, 1u64)).unwrap().reduce_by_key(|a, b| a + b).unwrap();
    for _ in 0..30 {
        counts = counts
            .map_partitions(|kvs| {
                std::thread::sleep(Duration::from_millis(10));
                kvs.to_vec()
            })
            .unwrap();
    }
    let out = collect(&counts);
    ssc.start().unwrap();
    let infos = ssc.await_termination().unwrap();
    assert_eq!(out.lock().unwrap()[&200], vec![(0, 5), (1, 5)], "each key counted once");
    let [r0, r1] = [0, 1].map(|p| reads[p].load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!((r0, r1), (5, 10), "only the lost executor's partition read again: {infos:?}");
    assert_eq!((infos[0].map_tasks, infos[0].result_tasks), (2 + 1, 2 + 1), "{infos:?}");
}

/// Which executor threads ran each batch's result tasks, with worker 1 killed before batch 3;
/// `relaunch` as the run's setting.
fn threads_per_batch(relaunch: bool) -> BTreeMap<u64, std::collections::BTreeSet<String>> {
    let conf = microbatch::StreamingConf {
        executors: 2,
        partitions: 4,
        clock: microbatch::Clock::Manual,
        batches: Some(5),
        faults: vec![workloads::Fault::KillWorker { worker: 1, at_ns: 150 * MS }],
        relaunch_lost_executors: relaunch,
        ..Default::default()
    };
    let mut ssc = StreamingContext::new(conf, BATCH).unwrap();
    let records = ssc
        .direct_stream(4, |_p, _t, from, _allowed| from + 5, |p, _i, out: &mut Vec<u32>| out.push(p as u32))
        .unwrap();
    let seen: Arc<Mutex<BTreeMap<u64, std::collections::BTreeSet<String>>>> = Arc::default();
    let sink = Arc::clone(&seen);
    records
        .map(|p| (*p, 1u64))
        .unwrap()
        .reduce_by_key(|a, b| a + b)
        .unwrap()
        .foreach_partition(move |t, _p, _counts| {
            let name = format!("{:?}", std::thread::current().id());
            sink.lock().unwrap().entry(t / MS).or_default().insert(name);
        })
        .unwrap();
    run(&mut ssc);
    let seen = seen.lock().unwrap().clone();
    seen
}

#[test]
fn a_lost_executor_is_relaunched_so_the_run_goes_on_with_every_executor() {
    let _one = support::one_context();
    let relaunched = threads_per_batch(true);
    let kept_dead = threads_per_batch(false);
    for b in 1..=5u64 {
        assert_eq!(relaunched[&(b * 100)].len(), 2, "batch {b} with relaunch: {relaunched:?}");
        // Without relaunch, the survivor runs everything from the loss on.
        assert_eq!(kept_dead[&(b * 100)].len(), if b >= 3 { 1 } else { 2 }, "batch {b} kept dead: {kept_dead:?}");
    }
}

/// Two executors, two partitions, one 200 ms batch on the system clock; executor 1 is killed
/// 350 ms after the start (150 ms into the batch's work).
fn one_batch_killing_executor_1_at_350_ms() -> StreamingContext {
    let conf = microbatch::StreamingConf {
        executors: 2,
        partitions: 2,
        clock: microbatch::Clock::System,
        batches: Some(1),
        faults: vec![workloads::Fault::KillWorker { worker: 1, at_ns: 350 * MS }],
        ..Default::default()
    };
    StreamingContext::new(conf, Duration::from_millis(200)).unwrap()
}

#[test]
fn a_killed_executor_stops_the_task_it_is_running_at_once() {
    let _one = support::one_context();
    // One batch on the system clock; each partition's task maps 40 records through a chain of
    // two maps of 5 ms (400 ms), and executor 1 is killed 150 ms into it. Its task stops before
    // the next record and is lost; the relaunched executor runs the partition again in full.
    // Had the task run on to its end, partition 1's records would have been mapped 80 times.
    let mut ssc = one_batch_killing_executor_1_at_350_ms();
    let calls: Arc<[std::sync::atomic::AtomicU64; 2]> = Arc::default();
    let mut records = ssc
        .direct_stream(2, |_p, _t, from, _allowed| from + 40, |p, _i, out: &mut Vec<u32>| out.push(p as u32))
        .unwrap();
    for step in 0..2 {
        let calls = Arc::clone(&calls);
        records = records
            .map(move |p| {
                if step == 0 {
                    calls[*p as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
                *p
            })
            .unwrap();
    }
    let out = collect(&records);
    run(&mut ssc);
    let mut expected = vec![0; 40];
    expected.extend([1; 40]);
    assert_eq!(out.lock().unwrap()[&200], expected, "both partitions' records, once");
    let [p0, p1] = [0, 1].map(|p| calls[p].load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!(p0, 40, "the survivor's task ran once");
    assert!((41..80).contains(&p1), "partition 1: the lost attempt stopped mid-partition, then 40: {p1}");
}
