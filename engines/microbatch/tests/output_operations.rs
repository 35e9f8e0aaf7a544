//! Several output operations on one stream that is not cached (issue: a second output on an
//! uncached shuffled stream hung): every output of every batch must see the whole batch, on
//! shuffled, windowed and stateful streams, with one and two executors. Spark keeps a shuffle's
//! map outputs until no job of the batch can need them; so does the block manager.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use microbatch::{Clock, StreamingConf, StreamingContext};

mod support;
use support::*;

const LINES: [&[&str]; 3] = [&["a b a", "c"], &["b b"], &["a c", "c"]];

fn lines_context(executors: usize, dir: &str) -> StreamingContext {
    let conf = StreamingConf { executors, partitions: 3, clock: Clock::Manual, batches: Some(3), ..Default::default() };
    let mut ssc = StreamingContext::new(conf, BATCH).unwrap();
    ssc.checkpoint(fresh_dir(dir)).unwrap();
    ssc
}

fn word_pairs(ssc: &StreamingContext) -> microbatch::DStream<(String, u64)> {
    let batches: Vec<Vec<String>> = LINES.iter().map(|b| b.iter().map(|l| l.to_string()).collect()).collect();
    ssc.queue_stream(batches)
        .unwrap()
        .flat_map(|l: &String| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .unwrap()
        .map(|w| (w.clone(), 1u64))
        .unwrap()
}

/// Batch time (ms) -> expected sorted pairs.
fn expect(batches: &[&[(&str, u64)]]) -> BTreeMap<u64, Vec<(String, u64)>> {
    batches.iter().enumerate().map(|(i, b)| (100 * (i as u64 + 1), pairs(b))).collect()
}

#[test]
fn a_second_and_third_output_on_an_uncached_shuffled_stream_see_every_batch() {
    let _one = support::one_context();
    for executors in [1, 2] {
        let mut ssc = lines_context(executors, &format!("outputs-shuffled-{executors}"));
        let counts = word_pairs(&ssc).reduce_by_key(|a, b| a + b).unwrap();
        let first = collect(&counts);
        let second = collect(&counts);
        let doubled = collect(&counts.map(|(w, c)| (w.clone(), 2 * c)).unwrap());
        let printed = Arc::new(Mutex::new(Vec::new()));
        counts.print_to(10, SharedWriter(Arc::clone(&printed))).unwrap();
        run(&mut ssc);
        let want = expect(&[&[("a", 2), ("b", 1), ("c", 1)], &[("b", 2)], &[("a", 1), ("c", 2)]]);
        assert_eq!(*first.lock().unwrap(), want, "{executors} executors");
        assert_eq!(*second.lock().unwrap(), want, "{executors} executors");
        let twice = expect(&[&[("a", 4), ("b", 2), ("c", 2)], &[("b", 4)], &[("a", 2), ("c", 4)]]);
        assert_eq!(*doubled.lock().unwrap(), twice, "{executors} executors");
        let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("Time: ").count(), 3, "{text}");
        assert!(text.contains("(b,2)"), "{text}");
    }
}

#[test]
fn several_outputs_on_uncached_windowed_and_stateful_streams_see_every_batch() {
    let _one = support::one_context();
    for executors in [1, 2] {
        let mut ssc = lines_context(executors, &format!("outputs-windowed-{executors}"));
        let pairs_stream = word_pairs(&ssc);
        let windowed = pairs_stream.reduce_by_key_and_window(|a, b| a + b, 2 * BATCH, BATCH).unwrap();
        let (w1, w2) = (collect(&windowed), collect(&windowed.filter(|(_, c)| *c > 1).unwrap()));
        let inverse = pairs_stream.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, 2 * BATCH, BATCH).unwrap();
        let (i1, i2) = (collect(&inverse), collect(&inverse));
        let running = pairs_stream
            .update_state_by_key(|new: &[u64], old: Option<&u64>| Some(new.iter().sum::<u64>() + old.unwrap_or(&0)))
            .unwrap();
        let (r1, r2, r3) = (collect(&running), collect(&running), collect(&running.count().unwrap()));
        run(&mut ssc);
        let window = expect(&[
            &[("a", 2), ("b", 1), ("c", 1)],
            &[("a", 2), ("b", 3), ("c", 1)],
            &[("a", 1), ("b", 2), ("c", 2)],
        ]);
        assert_eq!(*w1.lock().unwrap(), window, "{executors} executors");
        let big = expect(&[&[("a", 2)], &[("a", 2), ("b", 3)], &[("b", 2), ("c", 2)]]);
        assert_eq!(*w2.lock().unwrap(), big, "{executors} executors");
        let inv = expect(&[
            &[("a", 2), ("b", 1), ("c", 1)],
            &[("a", 2), ("b", 3), ("c", 1)],
            &[("a", 1), ("b", 2), ("c", 2)],
        ]);
        assert_eq!(*i1.lock().unwrap(), inv, "{executors} executors");
        assert_eq!(*i2.lock().unwrap(), inv, "{executors} executors");
        let totals = expect(&[
            &[("a", 2), ("b", 1), ("c", 1)],
            &[("a", 2), ("b", 3), ("c", 1)],
            &[("a", 3), ("b", 3), ("c", 3)],
        ]);
        assert_eq!(*r1.lock().unwrap(), totals, "{executors} executors");
        assert_eq!(*r2.lock().unwrap(), totals, "{executors} executors");
        assert_eq!(*r3.lock().unwrap(), BTreeMap::from([(100, vec![3]), (200, vec![3]), (300, vec![3])]));
    }
}
