//! DStream operations against outputs worked out by hand, and the lifecycle rules.
//! Batches run back to back (manual clock); each test stops after a fixed number of batches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microbatch::{Clock, StreamingConf, StreamingContext, StreamingError};

mod support;
use support::*;

#[test]
fn running_count_of_the_programming_guide() {
    let _one = support::one_context();
    for executors in [1, 2] {
        let mut ssc = context(executors, 3);
        ssc.checkpoint(std::env::temp_dir().join("sb-guide")).unwrap();
        let lines = ssc
            .queue_stream(vec![
                vec!["this is spark tutorial".to_owned()],
                vec!["spark is fast".to_owned()],
                vec!["apache spark".to_owned()],
            ])
            .unwrap();
        let words = lines.flat_map(|l: &String| l.split(' ').map(str::to_owned).collect::<Vec<_>>()).unwrap();
        let counts = words
            .map(|w| (w.clone(), 1u64))
            .unwrap()
            .update_state_by_key(|new: &[u64], old: Option<&u64>| {
                Some(new.iter().sum::<u64>() + old.copied().unwrap_or(0))
            })
            .unwrap();
        let out = collect(&counts);
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        let out = out.lock().unwrap();
        assert_eq!(out[&100], pairs(&[("this", 1), ("is", 1), ("tutorial", 1), ("spark", 1)]));
        assert_eq!(out[&200], pairs(&[("this", 1), ("is", 2), ("fast", 1), ("tutorial", 1), ("spark", 2)]));
        assert_eq!(
            out[&300],
            pairs(&[("this", 1), ("is", 2), ("fast", 1), ("apache", 1), ("tutorial", 1), ("spark", 3)])
        );
    }
}

#[test]
fn update_state_by_key_none_removes_the_key() {
    let _one = support::one_context();
    let mut ssc = context(2, 3);
    ssc.checkpoint(std::env::temp_dir().join("sb-remove")).unwrap();
    let s = ssc
        .queue_stream(vec![vec![("a".to_owned(), 1u64), ("b".to_owned(), 1)], vec![("a".to_owned(), 5)], vec![]])
        .unwrap();
    // A key is dropped once a batch brings it nothing new.
    let state = s
        .update_state_by_key(|new: &[u64], old: Option<&u64>| {
            (!new.is_empty()).then(|| new.iter().sum::<u64>() + old.copied().unwrap_or(0))
        })
        .unwrap();
    let out = collect(&state);
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let out = out.lock().unwrap();
    assert_eq!(out[&100], pairs(&[("a", 1), ("b", 1)]));
    assert_eq!(out[&200], pairs(&[("a", 6)]));
    assert_eq!(out[&300], vec![]);
}

#[test]
fn windows_of_three_batches_sliding_every_two() {
    let _one = support::one_context();
    // Batches 1..=6 hold the numbers 1..=6; a window of 3 batches every 2 batches sees, at
    // batch 2: {1,2}; at 4: {2,3,4}; at 6: {4,5,6}.
    let mut ssc = context(2, 6);
    let s = ssc.queue_stream((1..=6).map(|i| vec![i as u64]).collect()).unwrap();
    let w = s.window(ms(300), ms(200)).unwrap();
    let out = collect(&w);
    let sums = w.map(|x| ("sum".to_owned(), *x)).unwrap().reduce_by_key(|a, b| a + b).unwrap();
    let sums_out = collect(&sums);
    let by_window =
        s.map(|x| ("sum".to_owned(), *x)).unwrap().reduce_by_key_and_window(|a, b| a + b, ms(300), ms(200)).unwrap();
    let by_window_out = collect(&by_window);
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let out = out.lock().unwrap();
    assert_eq!(*out, BTreeMap::from([(200, vec![1, 2]), (400, vec![2, 3, 4]), (600, vec![4, 5, 6])]));
    let expected =
        BTreeMap::from([(200, pairs(&[("sum", 3)])), (400, pairs(&[("sum", 9)])), (600, pairs(&[("sum", 15)]))]);
    assert_eq!(*sums_out.lock().unwrap(), expected);
    assert_eq!(*by_window_out.lock().unwrap(), expected);
}

#[test]
fn map_filter_flat_map_reduce_by_key_count_by_value_and_union() {
    let _one = support::one_context();
    let mut ssc = context(2, 2);
    let a = ssc.queue_stream(vec![vec![1u64, 2, 3, 4], vec![5, 5, 6]]).unwrap();
    let b = ssc.queue_stream(vec![vec![10u64], vec![]]).unwrap();
    let mapped = collect(&a.map(|x| x * 10).unwrap());
    let filtered = collect(&a.filter(|x| x % 2 == 0).unwrap());
    let flat = collect(&a.flat_map(|x| vec![*x; *x as usize % 3]).unwrap());
    let by_value = collect(&a.count_by_value().unwrap());
    let unioned = collect(&a.union(&b).unwrap());
    let unioned_by_context = collect(&ssc.union(&[a.clone(), b.clone(), a.clone()]).unwrap());
    let grouped = collect(
        &a.map(|x| (x % 2, *x))
            .unwrap()
            .group_by_key()
            .unwrap()
            .map_values(|v| {
                let mut v = v.clone();
                v.sort();
                v
            })
            .unwrap(),
    );
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    assert_eq!(*mapped.lock().unwrap(), BTreeMap::from([(100, vec![10, 20, 30, 40]), (200, vec![50, 50, 60])]));
    assert_eq!(*filtered.lock().unwrap(), BTreeMap::from([(100, vec![2, 4]), (200, vec![6])]));
    assert_eq!(*flat.lock().unwrap(), BTreeMap::from([(100, vec![1, 2, 2, 4]), (200, vec![5, 5, 5, 5])]));
    assert_eq!(
        *by_value.lock().unwrap(),
        BTreeMap::from([(100, vec![(1, 1), (2, 1), (3, 1), (4, 1)]), (200, vec![(5, 2), (6, 1)])])
    );
    assert_eq!(*unioned.lock().unwrap(), BTreeMap::from([(100, vec![1, 2, 3, 4, 10]), (200, vec![5, 5, 6])]));
    assert_eq!(
        *unioned_by_context.lock().unwrap(),
        BTreeMap::from([(100, vec![1, 1, 2, 2, 3, 3, 4, 4, 10]), (200, vec![5, 5, 5, 5, 6, 6])])
    );
    assert_eq!(
        *grouped.lock().unwrap(),
        BTreeMap::from([(100, vec![(0, vec![2, 4]), (1, vec![1, 3])]), (200, vec![(0, vec![6]), (1, vec![5, 5])])])
    );
}

#[test]
fn lifecycle_errors() {
    let _one = support::one_context();
    // A stateful operation without a checkpoint directory.
    let mut ssc = context(1, 1);
    let s = ssc.queue_stream(vec![vec![("a".to_owned(), 1u64)]]).unwrap();
    let st =
        s.update_state_by_key(|n: &[u64], o: Option<&u64>| Some(n.len() as u64 + o.copied().unwrap_or(0))).unwrap();
    collect(&st);
    let err = ssc.start().unwrap_err().to_string();
    assert!(err.contains("needs a checkpoint directory"), "{err}");

    // An operation after start, a second start, a start after stop.
    let mut ssc = context(1, 2);
    let s = ssc.queue_stream(vec![vec![1u64]]).unwrap();
    collect(&s);
    ssc.start().unwrap();
    assert!(
        matches!(s.map(|x| x + 1), Err(StreamingError::Lifecycle(m)) if m.contains("after the context has started"))
    );
    assert!(ssc.start().unwrap_err().to_string().contains("already started"));
    ssc.stop(true).unwrap();
    assert_eq!(ssc.state(), microbatch::State::Stopped);
    assert!(ssc.start().unwrap_err().to_string().contains("cannot be restarted"));

    // A window or slide that is not a multiple of the batch interval names one that is.
    let ssc = context(1, 1);
    let s = ssc.queue_stream(vec![vec![1u64]]).unwrap();
    let err = s.window(ms(250), ms(100)).err().unwrap().to_string();
    assert!(err.contains("must be a multiple of the batch interval (100 ms): e.g. 200 ms"), "{err}");
    let err = s.window(ms(300), ms(150)).err().unwrap().to_string();
    assert!(err.contains("slide (150 ms)"), "{err}");
}

#[test]
fn a_slow_batch_delays_the_next() {
    let _one = support::one_context();
    // System clock, 50 ms batches; the second batch's job takes 200 ms: the batches after it
    // start late, and their scheduling delay grows.
    let conf = StreamingConf {
        executors: 1,
        partitions: 1,
        clock: Clock::System,
        batches: Some(4),
        ..StreamingConf::default()
    };
    let mut ssc = StreamingContext::new(conf, Duration::from_millis(50)).unwrap();
    let s = ssc.queue_stream(vec![vec![1u64], vec![2], vec![3], vec![4]]).unwrap();
    s.foreach_batch(|t, _| {
        if t == 100 * MS {
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .unwrap();
    let infos = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&infos);
    ssc.add_listener(Box::new(move |i| sink.lock().unwrap().push(i.clone())));
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let infos = infos.lock().unwrap();
    assert_eq!(infos.len(), 4);
    assert!(infos[1].processing_delay_ms >= 200.0, "{:?}", infos[1]);
    assert!(infos[2].scheduling_delay_ms >= 100.0, "{:?}", infos[2]);
    assert!(infos[2].scheduling_delay_ms > infos[1].scheduling_delay_ms + 100.0, "{infos:?}");
    assert!(infos[3].total_delay_ms >= infos[3].scheduling_delay_ms);
}

/// Spark skips a shuffle whose input is already partitioned the same way: a running count
/// after `reduce_by_key` (word count's job) shuffles once a batch, not twice, and still counts
/// exactly; a keyed operation into another partition count shuffles again.
#[test]
fn a_running_count_after_reduce_by_key_shuffles_once_a_batch() {
    let _one = support::one_context();
    for executors in [1, 2] {
        let mut ssc = context(executors, 3);
        ssc.checkpoint(fresh_dir("shuffle-once")).unwrap();
        // Every batch a cut: the state read back from its files keeps its partitioner.
        ssc.checkpoint_interval(std::time::Duration::from_millis(100)).unwrap();
        let lines = ssc
            .queue_stream(vec![
                vec!["a b a".to_owned(), "c".to_owned()],
                vec!["b b".to_owned()],
                vec!["a c c".to_owned(), "d".to_owned()],
            ])
            .unwrap();
        let words = lines.flat_map(|l: &String| l.split(' ').map(str::to_owned).collect::<Vec<_>>()).unwrap();
        let per_batch = words.map(|w| (w.clone(), 1u64)).unwrap().reduce_by_key(|a, b| a + b).unwrap();
        let totals = per_batch
            .update_state_by_key(|new: &[u64], old: Option<&u64>| {
                Some(new.iter().sum::<u64>() + old.copied().unwrap_or(0))
            })
            .unwrap();
        let out = collect(&totals);
        ssc.start().unwrap();
        let infos = ssc.await_termination().unwrap();
        let out = out.lock().unwrap();
        assert_eq!(out[&100], pairs(&[("a", 2), ("b", 1), ("c", 1)]));
        assert_eq!(out[&200], pairs(&[("a", 2), ("b", 3), ("c", 1)]));
        assert_eq!(out[&300], pairs(&[("a", 3), ("b", 3), ("c", 3), ("d", 1)]));
        // One map stage a batch: the queue's partitions (one per executor), mapped once (before,
        // the state's `group_by_key` shuffled the 3 reduced partitions again: 3 more map tasks),
        // also after a cut.
        for (t, info) in infos.iter().enumerate() {
            assert_eq!(info.map_tasks, executors as u64, "{executors} executors, batch {t}: {info:?}");
        }
    }
    // The RDD level: the same partitioner skips the shuffle, another partition count does not.
    let _ctx = context(1, 1);
    let sc = _ctx.rdd_context();
    let pairs_rdd = sc.parallelize(vec![(1u32, 1u64), (2, 1), (1, 1)], 2);
    let reduced = pairs_rdd.reduce_by_key_n(|a, b| a + b, 3);
    assert!(reduced.partitioned_by_key_into(3));
    let grouped = reduced.group_by_key_n(3);
    assert!(grouped.partitioned_by_key_into(3));
    assert!(matches!(grouped.node.kind, microbatch::rdd::lineage::Kind::Narrow(..)), "grouped without a shuffle");
    assert!(matches!(reduced.group_by_key_n(2).node.kind, microbatch::rdd::lineage::Kind::Shuffled(..)));
    assert!(reduced.map_values(|v| v + 1).partitioned_by_key_into(3));
    assert!(!reduced.map(|(k, v)| (*k, *v)).partitioned_by_key_into(3));
}
