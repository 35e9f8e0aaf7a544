//! The rest of the DStream API, each operation against outputs worked out by hand: every
//! batch's records, sorted. Two executors, three shuffle partitions, batches back to back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use microbatch::rdd::Rdd;
use microbatch::{StateSpec, StreamingError};

mod support;
use support::*;

fn s(x: &str) -> String {
    x.to_owned()
}

#[test]
fn glom_repartition_count_reduce_and_cache() {
    let _one = support::one_context();
    let mut ssc = context(2, 3);
    let a = ssc.queue_stream(vec![vec![1u64, 2, 3, 4, 5], vec![], vec![7]]).unwrap();
    // The queue puts record i in partition i % 2: glom shows the partitions.
    let glom = collect(&a.glom().unwrap());
    let sizes = collect(&a.repartition(4).unwrap().glom().unwrap().map(|p| p.len() as u64).unwrap());
    let repartitioned = collect(&a.repartition(4).unwrap());
    let count = collect(&a.count().unwrap());
    let reduce = collect(&a.reduce(|x, y| x + y).unwrap());
    let cached = collect(&a.cache().unwrap().map(|x| x * 2).unwrap());
    run(&mut ssc);
    assert_eq!(
        *glom.lock().unwrap(),
        BTreeMap::from([
            (100, vec![vec![1, 3, 5], vec![2, 4]]),
            (200, vec![vec![], vec![]]),
            (300, vec![vec![], vec![7]])
        ])
    );
    // Five records dealt round robin over four partitions from each of two map partitions
    // (each starting at its own partition): four partitions, none with more than two.
    let sizes = sizes.lock().unwrap()[&100].clone();
    assert_eq!((sizes.len(), sizes.iter().sum::<u64>()), (4, 5), "{sizes:?}");
    assert!(sizes.iter().all(|n| *n <= 2), "{sizes:?}");
    assert_eq!(
        *repartitioned.lock().unwrap(),
        BTreeMap::from([(100, vec![1, 2, 3, 4, 5]), (200, vec![]), (300, vec![7])])
    );
    assert_eq!(*count.lock().unwrap(), BTreeMap::from([(100, vec![5]), (200, vec![0]), (300, vec![1])]));
    assert_eq!(*reduce.lock().unwrap(), BTreeMap::from([(100, vec![15]), (200, vec![]), (300, vec![7])]));
    assert_eq!(*cached.lock().unwrap(), BTreeMap::from([(100, vec![2, 4, 6, 8, 10]), (200, vec![]), (300, vec![14])]));
    assert!(matches!(a.repartition(0), Err(StreamingError::Invalid(_))));
}

#[test]
fn transform_with_and_slice() {
    let _one = support::one_context();
    let mut ssc = context(2, 3);
    let a = ssc.queue_stream(vec![vec![1u64, 2], vec![3], vec![4]]).unwrap();
    let b = ssc.queue_stream(vec![vec![10u64], vec![], vec![20, 30]]).unwrap();
    // Each batch of a, plus the largest record of each partition of b's batch (the queue puts
    // record i in partition i % 2).
    let with = a
        .transform_with(&b, |x: Rdd<u64>, y: Rdd<u64>, _t| {
            let maxes = y.map_partitions(|ys| ys.iter().max().into_iter().copied().collect());
            x.union(&maxes)
        })
        .unwrap();
    let with_out = collect(&with);
    // slice: the last two batches of a, unioned, equals a window of two batches.
    let a2 = a.clone();
    let sliced = a.transform(move |r, t| r.context().union(&a2.slice(t.saturating_sub(100 * MS), t))).unwrap();
    let sliced_out = collect(&sliced);
    let window_out = collect(&a.window(ms(200), ms(100)).unwrap());
    run(&mut ssc);
    assert_eq!(
        *with_out.lock().unwrap(),
        BTreeMap::from([(100, vec![1, 2, 10]), (200, vec![3]), (300, vec![4, 20, 30])])
    );
    let expected = BTreeMap::from([(100, vec![1, 2]), (200, vec![1, 2, 3]), (300, vec![3, 4])]);
    assert_eq!(*sliced_out.lock().unwrap(), expected);
    assert_eq!(*window_out.lock().unwrap(), expected);
}

#[test]
fn pair_operations_and_joins() {
    let _one = support::one_context();
    let mut ssc = context(2, 2);
    let left = ssc.queue_stream(vec![vec![(s("a"), 1u64), (s("a"), 2), (s("b"), 3)], vec![(s("c"), 4)]]).unwrap();
    let right = ssc.queue_stream(vec![vec![(s("a"), s("x")), (s("c"), s("y"))], vec![]]).unwrap();
    let fmv = collect(
        &left
            .flat_map_values(|v| {
                let v = *v;
                (0..v % 3).map(move |i| v * 10 + i)
            })
            .unwrap(),
    );
    let combined = collect(
        &left
            .combine_by_key(
                |v| (*v, 1u64),
                |(sum, n), v| (*sum, *n) = (*sum + v, *n + 1),
                |a, b| (a.0, a.1) = (a.0 + b.0, a.1 + b.1),
                2,
            )
            .unwrap(),
    );
    let cogroup = collect(
        &left
            .cogroup(&right)
            .unwrap()
            .map_values(|(vs, ws)| {
                let mut vs = vs.clone();
                vs.sort();
                (vs, ws.clone())
            })
            .unwrap(),
    );
    let join = collect(&left.join(&right).unwrap());
    let lo = collect(&left.left_outer_join(&right).unwrap());
    let ro = collect(&left.right_outer_join(&right).unwrap());
    let fo = collect(&left.full_outer_join(&right).unwrap());
    run(&mut ssc);
    assert_eq!(
        *fmv.lock().unwrap(),
        BTreeMap::from([(100, kv(&[("a", 10), ("a", 20), ("a", 21)])), (200, kv(&[("c", 40)]))])
    );
    assert_eq!(
        *combined.lock().unwrap(),
        BTreeMap::from([(100, kv(&[("a", (3, 2)), ("b", (3, 1))])), (200, kv(&[("c", (4, 1))]))])
    );
    assert_eq!(
        *cogroup.lock().unwrap(),
        BTreeMap::from([
            (
                100,
                kv(&[("a", (vec![1, 2], strings(&["x"]))), ("b", (vec![3], vec![])), ("c", (vec![], strings(&["y"])))])
            ),
            (200, kv(&[("c", (vec![4], vec![]))])),
        ])
    );
    assert_eq!(
        *join.lock().unwrap(),
        BTreeMap::from([(100, kv(&[("a", (1, s("x"))), ("a", (2, s("x")))])), (200, vec![])])
    );
    assert_eq!(
        *lo.lock().unwrap(),
        BTreeMap::from([
            (100, kv(&[("a", (1, Some(s("x")))), ("a", (2, Some(s("x")))), ("b", (3, None))])),
            (200, kv(&[("c", (4, None))])),
        ])
    );
    assert_eq!(
        *ro.lock().unwrap(),
        BTreeMap::from([
            (100, kv(&[("a", (Some(1), s("x"))), ("a", (Some(2), s("x"))), ("c", (None, s("y")))])),
            (200, vec![])
        ])
    );
    assert_eq!(
        *fo.lock().unwrap(),
        BTreeMap::from([
            (
                100,
                kv(&[
                    ("a", (Some(1), Some(s("x")))),
                    ("a", (Some(2), Some(s("x")))),
                    ("b", (Some(3), None)),
                    ("c", (None, Some(s("y")))),
                ])
            ),
            (200, kv(&[("c", (Some(4), None))])),
        ])
    );
}

#[test]
fn window_operations_plain_and_inverse() {
    let _one = support::one_context();
    // Batches 1..=6: the numbers below; windows of 3 batches every 2 batches end at batches 2,
    // 4 and 6 and hold batches {1,2}, {2,3,4}, {4,5,6}.
    let mut ssc = context(2, 6);
    ssc.checkpoint(fresh_dir("windows")).unwrap();
    let batches: Vec<Vec<(String, u64)>> = vec![
        vec![(s("a"), 1), (s("b"), 1)],
        vec![(s("a"), 1)],
        vec![(s("b"), 1), (s("b"), 1)],
        vec![],
        vec![(s("c"), 1)],
        vec![(s("c"), 1), (s("a"), 1)],
    ];
    let pairs_stream = ssc.queue_stream(batches).unwrap();
    let (len, slide) = (ms(300), ms(200));
    let plain = collect(&pairs_stream.reduce_by_key_and_window(|a, b| a + b, len, slide).unwrap());
    let inverse_filtered = collect(
        &pairs_stream
            .reduce_by_key_and_window_inv_filtered(|a, b| a + b, |a, b| a - b, len, slide, 3, |(_, c)| *c > 0)
            .unwrap(),
    );
    let inverse_all =
        collect(&pairs_stream.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, len, slide).unwrap());
    let values = pairs_stream.map(|(_, v)| *v).unwrap();
    let by_window = collect(&values.reduce_by_window(|a, b| a + b, len, slide).unwrap());
    let by_window_inv = collect(&values.reduce_by_window_inv(|a, b| a + b, |a, b| a - b, len, slide).unwrap());
    let counts = collect(&pairs_stream.count_by_window(len, slide).unwrap());
    let by_value =
        collect(&pairs_stream.map(|(k, _)| k.clone()).unwrap().count_by_value_and_window(len, slide).unwrap());
    let grouped = collect(&pairs_stream.group_by_key_and_window(len, slide).unwrap());
    run(&mut ssc);
    let expected = BTreeMap::from([
        (200, kv(&[("a", 2), ("b", 1)])),
        (400, kv(&[("a", 1), ("b", 2)])),
        (600, kv(&[("a", 1), ("c", 2)])),
    ]);
    assert_eq!(*plain.lock().unwrap(), expected);
    assert_eq!(*inverse_filtered.lock().unwrap(), expected, "inverse-reduce windows equal plain ones");
    assert_eq!(*by_value.lock().unwrap(), expected);
    // Without a filter, a key whose count went back to 0 stays (as in Spark).
    assert_eq!(inverse_all.lock().unwrap()[&600], kv(&[("a", 1), ("b", 0), ("c", 2)]));
    let sums = BTreeMap::from([(200, vec![3]), (400, vec![3]), (600, vec![3])]);
    assert_eq!(*by_window.lock().unwrap(), sums);
    assert_eq!(*by_window_inv.lock().unwrap(), sums);
    assert_eq!(*counts.lock().unwrap(), sums);
    assert_eq!(
        *grouped.lock().unwrap(),
        BTreeMap::from([
            (200, kv(&[("a", vec![1, 1]), ("b", vec![1])])),
            (400, kv(&[("a", vec![1]), ("b", vec![1, 1])])),
            (600, kv(&[("a", vec![1]), ("c", vec![1, 1])])),
        ])
    );
}

#[test]
fn reduce_by_key_and_window_reduces_each_batch_once_however_many_windows_hold_it() {
    let _one = support::one_context();
    // Six batches of 100 records of one key; windows of 3 batches every batch: each batch is in
    // three windows. As Spark defines it (each batch reduced, the reductions windowed and
    // reduced again) a batch's records are combined once: about 100 calls per batch, plus two
    // per window. Windowing the records first would combine each batch's again in every
    // window that holds it, about 300 calls per window.
    let mut ssc = context(2, 6);
    let batches: Vec<Vec<(String, u64)>> = (0..6).map(|_| vec![(s("k"), 1); 100]).collect();
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let sums = collect(
        &ssc.queue_stream(batches)
            .unwrap()
            .reduce_by_key_and_window(
                move |a, b| {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    a + b
                },
                ms(300),
                ms(100),
            )
            .unwrap(),
    );
    run(&mut ssc);
    let expected: BTreeMap<u64, Vec<(String, u64)>> =
        (1..=6).map(|b| (b * 100, vec![(s("k"), 100 * b.min(3))])).collect();
    assert_eq!(*sums.lock().unwrap(), expected);
    let calls = calls.load(std::sync::atomic::Ordering::Relaxed);
    assert!((6 * 99..=6 * 99 + 6 * 2 + 12).contains(&calls), "{calls} calls of the reduce function");
}

#[test]
fn map_with_state_initial_state_partitions_timeout_and_snapshots() {
    let _one = support::one_context();
    // A running sum per key starting from the initial state; a key idle for 200 ms times out
    // (called once more with no value), and its final sum is the mapped record then.
    let mut ssc = context(2, 5);
    ssc.checkpoint(fresh_dir("mws")).unwrap();
    let input = ssc
        .queue_stream(vec![vec![(s("a"), 1u64), (s("b"), 2)], vec![(s("a"), 3)], vec![(s("a"), 1)], vec![], vec![]])
        .unwrap();
    let spec = StateSpec::function(
        |_t, key: &String, value: Option<&u64>, state: &mut microbatch::dstream::state::State<u64>| {
            if state.is_timing_out() {
                return Some(format!("{key} timed out at {}", state.get().unwrap()));
            }
            let sum = state.get().copied().unwrap_or(0) + value.unwrap();
            state.update(sum);
            Some(format!("{key}={sum}"))
        },
    )
    .initial_state(vec![(s("b"), 100), (s("z"), 7)])
    .num_partitions(4)
    .timeout(Duration::from_millis(200));
    let stream = input.map_with_state(spec).unwrap();
    let mapped = collect(&stream);
    let snapshots = collect(&stream.state_snapshots());
    let partitions =
        collect(&stream.state_snapshots().glom().unwrap().map(|p| p.len() as u64).unwrap().count().unwrap());
    run(&mut ssc);
    assert_eq!(
        *mapped.lock().unwrap(),
        BTreeMap::from([
            (100, strings(&["a=1", "b=102"])),
            (200, strings(&["a=4"])),
            // z has been idle since the start (its initial state counts as updated at batch 1).
            (300, strings(&["a=5", "b timed out at 102", "z timed out at 7"])),
            (400, strings(&[])),
            (500, strings(&["a timed out at 5"])),
        ])
    );
    assert_eq!(
        *snapshots.lock().unwrap(),
        BTreeMap::from([
            (100, kv(&[("a", 1), ("b", 102), ("z", 7)])),
            (200, kv(&[("a", 4), ("b", 102), ("z", 7)])),
            (300, kv(&[("a", 5)])),
            (400, kv(&[("a", 5)])),
            (500, vec![]),
        ])
    );
    // num_partitions(4): the state has four partitions.
    assert_eq!(partitions.lock().unwrap()[&100], vec![4]);
}

#[test]
fn print_writes_sparks_format() {
    let _one = support::one_context();
    let mut ssc = context(1, 2);
    let counts =
        ssc.queue_stream(vec![vec![(s("spark"), 3u64), (s("is"), 2), (s("fast"), 1)], vec![(s("x"), 1)]]).unwrap();
    let out = SharedWriter(Arc::default());
    counts.print_to(2, SharedWriter(Arc::clone(&out.0))).unwrap();
    run(&mut ssc);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let dashes = "-------------------------------------------";
    assert_eq!(
        text,
        format!(
            "{dashes}\nTime: 100 ms\n{dashes}\n(spark,3)\n(is,2)\n...\n\n{dashes}\nTime: 200 ms\n{dashes}\n(x,1)\n\n"
        )
    );
}

#[test]
fn save_as_text_files_writes_a_directory_per_batch() {
    let _one = support::one_context();
    let dir = fresh_dir("save");
    let prefix = dir.join("counts").to_string_lossy().into_owned();
    let mut ssc = context(2, 2);
    let counts = ssc.queue_stream(vec![vec![(s("a"), 1u64), (s("b"), 2), (s("c"), 3)], vec![]]).unwrap();
    counts.save_as_text_files(&prefix, "txt").unwrap();
    let plain = ssc.queue_stream(vec![vec![1u64]]).unwrap();
    plain.save_as_text_files(&format!("{prefix}-plain"), "").unwrap();
    run(&mut ssc);
    let batch = dir.join("counts-100.txt");
    assert!(batch.join("_SUCCESS").exists());
    let mut lines: Vec<String> = (0..2)
        .flat_map(|p| {
            std::fs::read_to_string(batch.join(format!("part-{p:05}")))
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    assert_eq!(lines, strings(&["(a,1)", "(b,2)", "(c,3)"]));
    assert!(dir.join("counts-200.txt").join("_SUCCESS").exists(), "an empty batch still gets its directory");
    assert_eq!(std::fs::read_to_string(dir.join("counts-plain-100").join("part-00000")).unwrap(), "1\n");
}

#[test]
fn checkpoint_interval_must_be_a_multiple_of_the_batch() {
    let _one = support::one_context();
    let ssc = context(1, 1);
    let a = ssc.queue_stream(vec![vec![1u64]]).unwrap();
    let err = a.checkpoint(Duration::from_millis(250)).err().unwrap().to_string();
    assert!(err.contains("must be a multiple of the batch interval (100 ms): e.g. 300 ms"), "{err}");
    let err = a.count_by_window(ms(250), ms(100)).err().unwrap().to_string();
    assert!(err.contains("window length (250 ms)"), "{err}");
}

/// Spark's "combine live data with historical data": a table built once with `parallelize`,
/// joined with every batch in `transform` by an RDD-level `join`, on 1 and 2 executors; the
/// RDD operations inside `transform` (`filter`, `map`, `reduce_by_key`) as Spark's.
#[test]
fn a_parallelized_table_joins_every_batch_in_transform() {
    let _one = support::one_context();
    for executors in [1, 2] {
        let ssc = context(executors, 2);
        let table = ssc.parallelize(vec![(1u32, "one".to_owned()), (2, "two".to_owned()), (3, "three".to_owned())], 2);
        let events = ssc.queue_stream(vec![vec![1u32, 2, 2, 9], vec![3, 3, 3, 1]]).unwrap();
        let named = events
            .transform(move |batch, _t| {
                let counts = batch.filter(|x| *x != 9).map(|x| (*x, 1u64)).reduce_by_key(|a, b| a + b);
                counts.join(&table).map(|(_, (count, name))| (name.clone(), *count))
            })
            .unwrap();
        let out = collect(&named);
        let mut ssc = ssc;
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        let out = out.lock().unwrap();
        assert_eq!(out[&100], pairs(&[("one", 1), ("two", 2)]), "{executors} executors");
        assert_eq!(out[&200], pairs(&[("one", 1), ("three", 3)]), "{executors} executors");
    }
}
