//! The snapshot store: commit, restore, damaged and partial snapshots.

use std::path::Path;

use super::*;
use crate::snapshot::files::epoch_dir;
use workloads::{JobSpec, Profile, Workload};

fn control(dir: &Path, worker: usize, workers: usize) -> Control {
    let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 1.0 }, 1);
    spec.checkpoint.interval_ns = Some(100 * TICK_NS);
    let c = Control::new(&spec, Some(dir.to_path_buf()), worker, workers);
    build(&c);
    c
}

/// What building a dataflow does: its operators register their parts, then it is sealed.
fn build(c: &Control) {
    for part in ["source", "count", "outputs"] {
        c.register(part);
    }
    c.seal();
}

fn snapshot(c: &Control, epoch: u64, offset: u64) {
    c.put(epoch, "source", &vec![(0u32, offset)]);
    c.put(epoch, "count", &vec![(0u32, offset)]);
    c.put(epoch, "outputs", &OutputMark::default());
}

#[test]
fn a_restore_takes_the_newest_snapshot_every_worker_committed_and_that_checks_out() {
    let dir = workloads::durable::scratch_dir("native-snapshot-test");
    let (a, b) = (control(&dir, 0, 2), control(&dir, 1, 2));
    for epoch in [100, 200, 300] {
        snapshot(&a, epoch, epoch * 10);
        snapshot(&b, epoch, epoch * 10);
    }
    // Epoch 400 is not committed: only worker 0 wrote it.
    snapshot(&a, 400, 4000);
    // Epoch 300 is damaged: a flipped byte in worker 1's file.
    let damaged = epoch_dir(&dir, 300, 0).join(worker_file(1));
    let mut bytes = std::fs::read(&damaged).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let (epoch, skipped) = a.restore();
    assert_eq!(epoch, Some(200 * TICK_NS));
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("corrupt"), "{skipped:?}");
    assert_eq!(a.part::<Vec<(u32, u64)>>("source"), Some(vec![(0, 2000)]));
    assert_eq!(a.part::<Vec<(u32, u64)>>("count"), Some(vec![(0, 2000)]));
    build(&a);
    // The next generation's snapshots are written apart from the earlier one's, and its
    // epochs come after the restored one.
    assert_eq!((a.epochs().get(0), a.epochs().bound()), (None, 201));
    snapshot(&a, 300, 3001);
    assert!(epoch_dir(&dir, 300, 1).join(worker_file(0)).exists());
    // Only the newest three of its own files are kept.
    for epoch in [400, 500, 600] {
        snapshot(&a, epoch, epoch);
    }
    assert!(!epoch_dir(&dir, 300, 1).join(worker_file(0)).exists());
    a.remove_own_files();
    b.remove_own_files();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn without_a_committed_snapshot_a_restore_starts_from_the_beginning() {
    let dir = workloads::durable::scratch_dir("native-snapshot-test");
    let a = control(&dir, 0, 2);
    snapshot(&a, 100, 1000);
    let (epoch, skipped) = a.restore();
    assert_eq!((epoch, skipped.len()), (None, 0));
    assert_eq!(a.part::<Vec<(u32, u64)>>("count"), None);
    assert_eq!(a.restored_outputs(), OutputMark::default());
    a.remove_own_files();
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_file_waits_for_every_registered_part_and_for_the_dataflow_to_be_built() {
    let dir = workloads::durable::scratch_dir("native-snapshot-test");
    let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 1.0 }, 1);
    spec.checkpoint.interval_ns = Some(100 * TICK_NS);
    let c = Control::new(&spec, Some(dir.clone()), 0, 1);
    let file = epoch_dir(&dir, 100, 0).join(worker_file(0));
    // A part put while the dataflow is being built waits for it to be sealed.
    c.register("source");
    c.put(100, "source", &vec![(0u32, 5u64)]);
    for part in ["window", "topk", "outputs"] {
        c.register(part);
    }
    c.seal();
    c.put(100, "window", &1u64);
    c.put(100, "outputs", &OutputMark::default());
    assert!(!file.exists(), "written with a registered part missing");
    c.put(100, "topk", &2u64);
    assert!(file.exists(), "not written once every registered part was in");
    c.remove_own_files();
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_snapshot_taken_by_two_workers_is_split_again_by_key_for_one_and_for_three() {
    use workloads::keyed::StrMap;
    let dir = workloads::durable::scratch_dir("native-snapshot-test");
    let (a, b) = (control(&dir, 0, 2), control(&dir, 1, 2));
    // Worker w of 2 reads partition w (keys as its exchange gave them: their hashes do not
    // matter here, the parts are rehashed when read back).
    let counts = |keys: &[(&str, u64, u64)]| {
        let mut m = StrMap::default();
        for &(k, h, n) in keys {
            *m.get_or_insert_with(h, k, || 0) += n;
        }
        m
    };
    for (c, p, keys) in [(&a, 0u32, [("a", 2, 5), ("b", 4, 6)]), (&b, 1, [("c", 3, 7), ("d", 5, 8)])] {
        c.put(100, "source", &vec![(p, 1000 + p as u64)]);
        c.put(100, "count", &counts(&keys));
        c.put(100, "outputs", &OutputMark::default());
    }
    let sorted = |m: StrMap<u64>| {
        let mut v: Vec<(String, u64)> = m.iter().map(|(k, _, n)| (k.to_owned(), *n)).collect();
        v.sort();
        v
    };
    // A restarted cluster (a later generation, which keeps the files) on one worker, then on
    // three.
    let mut spec = RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 1.0 }, 1);
    spec.checkpoint.interval_ns = Some(100 * TICK_NS);
    let journal =
        workloads::contract::journal::JournalSpec { dir: dir.join("journal"), generation: 1, epoch_unix_ns: None };
    spec.cluster.journal = Some(journal);
    // One worker restores both halves and both partitions' offsets.
    let one = Control::new(&spec, Some(dir.clone()), 0, 1);
    assert_eq!(one.restore().0, Some(100 * TICK_NS));
    assert_eq!(one.part::<Vec<(u32, u64)>>("source"), Some(vec![(0, 1000), (1, 1001)]));
    let all = sorted(one.part::<StrMap<u64>>("count").unwrap());
    assert_eq!(all, vec![("a".into(), 5), ("b".into(), 6), ("c".into(), 7), ("d".into(), 8)]);
    // Three workers: each keeps the keys whose hash (a key's is rehashed when it is read back,
    // as the exchange routes it) is its index modulo 3.
    let shares: Vec<Vec<(String, u64)>> = (0..3)
        .map(|w| {
            let c = Control::new(&spec, Some(dir.clone()), w, 3);
            c.restore();
            sorted(c.part::<StrMap<u64>>("count").unwrap())
        })
        .collect();
    let expected: Vec<Vec<(String, u64)>> = (0..3u64)
        .map(|w| all.iter().filter(|(k, _)| workloads::hash::key_hash(k) % 3 == w).cloned().collect())
        .collect();
    assert_eq!(shares, expected);
    assert!(shares.iter().filter(|s| !s.is_empty()).count() > 1, "the keys spread: {shares:?}");
    a.remove_own_files();
    b.remove_own_files();
    let _ = std::fs::remove_dir_all(&dir);
}
