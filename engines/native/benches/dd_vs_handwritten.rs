//! Why the running count is hand-written: differential-dataflow's `count_total` against the
//! engine's `Count` operator, on one worker, over the same 300,000 generated lines.
//!
//! Run with `cargo bench -p native --bench dd_vs_handwritten`. Both tokenise the same lines; the
//! hand-written operator emits every update `(word, 1..=n)` (the spec), while `count_total`
//! emits one changed count per word per timestamp (timestamps advance every 1,000 lines, 1 ms at
//! the nominal 1 M lines/s), so it does less output work and still loses. Each timed closure
//! checks its result: the digest of every update, or the final count of every word.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use differential_dataflow::input::Input;
use differential_dataflow::operators::count::CountTotal;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use workloads::output::UpdateDigest;
use workloads::spec::SECOND_NS;
use workloads::wordcount::oracle;
use workloads::{Collect, JobSpec, Observer, Profile, RunSpec, Workload};

const LINES: u64 = 300_000;
const LINES_PER_TICK: u64 = 1_000;

fn spec() -> RunSpec {
    let mut s =
        RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Max { nominal: 1e6 }, 3600 * SECOND_NS);
    s.records = Some(LINES);
    s.collect = Collect::Digest;
    s
}

/// Final count per word from differential's `count_total`, fed the same lines.
fn differential(gen: &workloads::wordcount::LineGenerator) -> BTreeMap<String, u64> {
    let gen = gen.clone();
    let finals = timely::execute_directly(move |worker| {
        let finals: Rc<RefCell<BTreeMap<String, (u64, isize)>>> = Rc::default();
        let out = Rc::clone(&finals);
        let probe = ProbeHandle::new();
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, words) = scope.new_collection::<String, isize>();
            words
                .count_total()
                .inner
                .inspect(move |((word, count), _t, diff): &((String, isize), u64, isize)| {
                    // Keep the latest count of each word: the one inserted at the latest time.
                    if *diff > 0 {
                        let mut f = out.borrow_mut();
                        let e = f.entry(word.clone()).or_insert((0, 0));
                        if *count > e.1 {
                            *e = (*count as u64, *count);
                        }
                    }
                })
                .probe_with(&probe);
            input
        });
        for k in 0..LINES {
            let line = gen.event(0, k);
            for w in workloads::text::words(&line.text) {
                input.insert(w.to_owned());
            }
            if (k + 1) % LINES_PER_TICK == 0 {
                input.advance_to(input.time() + 1);
                input.flush();
                worker.step_while(|| probe.less_than(input.time()));
            }
        }
        input.close();
        while worker.step() {}
        finals.take()
    });
    finals.into_iter().map(|(w, (c, _))| (w, c)).collect()
}

fn running_count(c: &mut Criterion) {
    let s = spec();
    let gen = workloads::wordcount::generator(&s).unwrap();
    let totals = oracle::word_totals((0..LINES).map(|k| gen.event(0, k)));
    let digest = UpdateDigest::expected(&totals);
    let mut group = c.benchmark_group("running_count_1_worker");
    group.throughput(Throughput::Elements(LINES));
    group.bench_function(BenchmarkId::new("handwritten", LINES), |b| {
        b.iter(|| {
            let observer = Observer::new(&s);
            native::run(&s, &observer).unwrap();
            assert_eq!(observer.report().outputs.digest, digest);
        })
    });
    group.bench_function(BenchmarkId::new("differential_count_total", LINES), |b| {
        b.iter(|| assert_eq!(differential(&gen), totals))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    targets = running_count
}
criterion_main!(benches);
