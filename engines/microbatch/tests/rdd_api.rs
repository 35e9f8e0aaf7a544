//! The RDD API a Spark user meets inside `transform` and `foreach_rdd`: `map`, `flat_map`,
//! `filter`, `map_values`, `reduce_by_key`, `group_by_key`, `cogroup`, `join` and the outer
//! joins, `union`, `count`, `collect`, and `parallelize`, with ids handled by the context: a
//! dataset parallelized once is joined with every batch, on one and two executors.

use std::collections::BTreeMap;
use std::sync::Arc;

use microbatch::rdd::Rdd;

mod support;
use support::*;

fn s(x: &str) -> String {
    x.to_owned()
}

#[test]
fn a_static_dataset_is_joined_with_every_batch_in_transform() {
    let _one = support::one_context();
    for executors in [1, 2] {
        let mut ssc = context(executors, 3);
        // Built once, outside `transform`, and used by every batch (the seed's
        // `wordCounts.transform(rdd => rdd.join(dataset))`).
        let dataset = ssc.rdd_context().parallelize(vec![(s("a"), 10u64), (s("b"), 20)], 2);
        let words = ssc.queue_stream(vec![vec![s("a"), s("a"), s("c")], vec![s("b")], vec![s("a"), s("b")]]).unwrap();
        let counts = words.map(|w| (w.clone(), 1u64)).unwrap().reduce_by_key(|a, b| a + b).unwrap();
        let ds = dataset.clone();
        let joined = collect(&counts.transform(move |rdd, _t| rdd.join(&ds)).unwrap());
        let ds = dataset.clone();
        let left = collect(&counts.transform(move |rdd, _t| rdd.left_outer_join(&ds)).unwrap());
        let ds = dataset.clone();
        let right = collect(&counts.transform(move |rdd, _t| rdd.right_outer_join(&ds)).unwrap());
        let ds = dataset;
        let full = collect(&counts.transform(move |rdd, _t| rdd.full_outer_join(&ds)).unwrap());
        run(&mut ssc);
        let e = format!("{executors} executors");
        let joined = joined.lock().unwrap();
        assert_eq!(joined[&100], kv(&[("a", (2, 10))]), "{e}");
        assert_eq!(joined[&200], kv(&[("b", (1, 20))]), "{e}");
        assert_eq!(joined[&300], kv(&[("a", (1, 10)), ("b", (1, 20))]), "{e}");
        let left = left.lock().unwrap();
        assert_eq!(left[&100], kv(&[("a", (2, Some(10))), ("c", (1, None))]), "{e}");
        let right = right.lock().unwrap();
        assert_eq!(right[&100], kv(&[("a", (Some(2), 10)), ("b", (None, 20))]), "{e}");
        assert_eq!(right[&200], kv(&[("a", (None, 10)), ("b", (Some(1), 20))]), "{e}");
        let full = full.lock().unwrap();
        assert_eq!(
            full[&100],
            kv(&[("a", (Some(2), Some(10))), ("b", (None, Some(20))), ("c", (Some(1), None))]),
            "{e}"
        );
    }
}

#[test]
fn narrow_and_keyed_operations_inside_transform_give_sparks_results() {
    let _one = support::one_context();
    let mut ssc = context(2, 2);
    let lines = ssc.queue_stream(vec![vec![s("a b"), s("b c c")], vec![s("d")]]).unwrap();
    let out = collect(
        &lines
            .transform(|rdd: Rdd<String>, _t| {
                let words = rdd.flat_map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>());
                let pairs = words.filter(|w| w != "d").map(|w| (w.clone(), 1u64));
                // The batch's counts, each doubled, plus a parallelized extra: union.
                let extra = rdd.context().parallelize(vec![(s("z"), 1u64)], 1);
                pairs.reduce_by_key(|a, b| a + b).map_values(|c| c * 2).union(&extra)
            })
            .unwrap(),
    );
    let grouped = collect(
        &lines
            .transform(|rdd: Rdd<String>, _t| {
                let pairs = rdd.map(|l| (l.len() as u64, l.clone()));
                pairs.group_by_key().map_values(|vs| {
                    let mut vs = vs.clone();
                    vs.sort();
                    vs
                })
            })
            .unwrap(),
    );
    let cogrouped = collect(
        &lines
            .transform(|rdd: Rdd<String>, _t| {
                let left = rdd.map(|l| (l.len() as u64, 1u64));
                let right = rdd.context().parallelize(vec![(3u64, s("three")), (9, s("nine"))], 1);
                left.cogroup(&right)
            })
            .unwrap(),
    );
    run(&mut ssc);
    let out = out.lock().unwrap();
    assert_eq!(out[&100], kv(&[("a", 2), ("b", 4), ("c", 4), ("z", 1)]));
    assert_eq!(out[&200], kv(&[("z", 1)]));
    let grouped = grouped.lock().unwrap();
    assert_eq!(grouped[&100], vec![(3, vec![s("a b")]), (5, vec![s("b c c")])]);
    let cogrouped = cogrouped.lock().unwrap();
    assert_eq!(
        cogrouped[&100],
        vec![(3, (vec![1], vec![s("three")])), (5, (vec![1], vec![])), (9, (vec![], vec![s("nine")]))]
    );
    assert_eq!(
        cogrouped[&200],
        vec![(1, (vec![1], vec![])), (3, (vec![], vec![s("three")])), (9, (vec![], vec![s("nine")]))]
    );
}

#[test]
fn count_and_collect_in_foreach_rdd_run_jobs_on_the_executors() {
    let _one = support::one_context();
    let mut ssc = context(2, 2);
    let numbers = ssc.queue_stream(vec![vec![3u64, 1, 2], vec![]]).unwrap();
    let seen: Collected<(u64, Vec<u64>)> = Arc::default();
    let sink = Arc::clone(&seen);
    numbers
        .foreach_rdd(move |t, rdd, run| {
            let doubled = rdd.map(|x| x * 2);
            let (count, mut all) = (doubled.count(run)?, doubled.collect(run)?);
            all.sort();
            sink.lock().unwrap().insert(t / MS, vec![(count, all)]);
            Ok(())
        })
        .unwrap();
    run(&mut ssc);
    assert_eq!(*seen.lock().unwrap(), BTreeMap::from([(100, vec![(3, vec![2, 4, 6])]), (200, vec![(0, vec![])])]));
}

#[test]
fn a_stages_narrow_transformations_run_record_by_record_into_the_shuffle() {
    let _one = support::one_context();
    // One partition of three lines: `flat_map`, `filter` and `map` run on each record in turn
    // as the map side of `reduce_by_key` reads it (Spark's iterator chain), not each over the
    // whole partition before the next (which materialises every step's output).
    let mut ssc = context(1, 1);
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = ssc.queue_stream(vec![vec![s("a b"), s("c"), s("d a")]]).unwrap();
    let (c1, c2, c3) = (Arc::clone(&calls), Arc::clone(&calls), Arc::clone(&calls));
    let counts = lines
        .flat_map(move |l: &String| {
            c1.lock().unwrap().push(format!("split {l}"));
            l.split(' ').map(s).collect::<Vec<_>>()
        })
        .unwrap()
        .filter(move |w| {
            c2.lock().unwrap().push(format!("keep {w}"));
            w != "c"
        })
        .unwrap()
        .map(move |w| {
            c3.lock().unwrap().push(format!("pair {w}"));
            (w.clone(), 1u64)
        })
        .unwrap()
        .reduce_by_key(|a, b| a + b)
        .unwrap();
    let out = collect(&counts);
    run(&mut ssc);
    assert_eq!(out.lock().unwrap()[&100], kv(&[("a", 2), ("b", 1), ("d", 1)]));
    let order = "split a b, keep a, pair a, keep b, pair b, split c, keep c, split d a, keep d, pair d, keep a, pair a";
    assert_eq!(calls.lock().unwrap().join(", "), order);
}
