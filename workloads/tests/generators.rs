//! Generator and oracle specifications:
//! - determinism: an event depends only on (seed, partition, offset), in any generation order;
//! - partitions are disjoint and together complete (the global index covers 0..N once);
//! - content: word skew matches Zipf(1.1), hashtag popularity drifts, sensors carry anomalies;
//! - the COST loops agree with the oracles on the same events.

use std::collections::{BTreeMap, HashSet};

use workloads::drawn::{merge_all, Drawn};
use workloads::hashtags::{self, TweetGenerator};
use workloads::output::{Alert, UpdateDigest};
use workloads::sensors::{self, SensorGenerator};
use workloads::spec::SECOND_NS;
use workloads::text::{vocabulary, words, Zipf};
use workloads::wordcount::{self, LineGenerator};
use workloads::{ysb, HashtagSpec, JobSpec, Profile, RunSpec, Schedule, SensorSpec, WordCountSpec, Workload, YsbSpec};

fn schedule(partitions: u32, seed: u64) -> Schedule {
    Schedule::new(Profile::Constant { rate: 100_000.0 }, partitions, 0, seed).unwrap()
}

#[test]
fn same_coordinates_give_the_same_event_in_any_order() {
    let spec = WordCountSpec::default();
    let a = LineGenerator::new(&spec, schedule(4, 7), 7).unwrap();
    let b = LineGenerator::new(&spec, schedule(4, 7), 7).unwrap();
    let forward: Vec<_> = (0..4).flat_map(|p| (0..500).map(move |i| (p, i))).map(|(p, i)| a.event(p, i)).collect();
    let mut backward: Vec<_> =
        (0..4).rev().flat_map(|p| (0..500).rev().map(move |i| (p, i))).map(|(p, i)| b.event(p, i)).collect();
    backward.reverse();
    assert_eq!(forward, backward);

    let t1 = TweetGenerator::new(&HashtagSpec::default(), schedule(2, 3), 3);
    let t2 = TweetGenerator::new(&HashtagSpec::default(), schedule(2, 3), 3);
    assert_eq!(t1.event(1, 12345), t2.event(1, 12345));
    let s1 = SensorGenerator::new(&SensorSpec::default(), schedule(2, 3), 3);
    let s2 = SensorGenerator::new(&SensorSpec::default(), schedule(2, 3), 3);
    assert_eq!(
        (0..1000).map(|i| s1.event(1, i)).collect::<Vec<_>>(),
        (0..1000).rev().map(|i| s2.event(1, i)).rev().collect::<Vec<_>>()
    );
}

#[test]
fn different_seeds_differ() {
    let spec = WordCountSpec::default();
    let a = LineGenerator::new(&spec, schedule(1, 1), 1).unwrap();
    let b = LineGenerator::new(&spec, schedule(1, 2), 2).unwrap();
    let same = (0..1000).filter(|&i| a.event(0, i).text == b.event(0, i).text).count();
    assert!(same < 50, "{same} of 1000 lines equal across seeds");
    let s1 = SensorGenerator::new(&SensorSpec::default(), schedule(1, 1), 1);
    let s2 = SensorGenerator::new(&SensorSpec::default(), schedule(1, 2), 2);
    assert!((0..1000).filter(|&i| s1.event(0, i).milli == s2.event(0, i).milli).count() < 50);
}

#[test]
fn partitions_are_disjoint_and_together_complete() {
    // The same stream cut into 1 or 3 partitions: partition p, offset i is global index
    // i * 3 + p, and the union over partitions is the single-partition stream, each event once.
    let spec = WordCountSpec::default();
    let one = LineGenerator::new(&spec, schedule(1, 5), 5).unwrap();
    let three = LineGenerator::new(&spec, schedule(3, 5), 5).unwrap();
    let n = 3000;
    let mut seen = HashSet::new();
    let mut union: Vec<(u64, String)> = Vec::new();
    for p in 0..3 {
        for i in 0..workloads::schedule::count_in_partition(n, 3, p) {
            let k = three.schedule().global_index(p, i);
            assert!(seen.insert(k), "global index {k} generated twice");
            union.push((k, three.event(p, i).text.into_owned()));
        }
    }
    union.sort();
    assert_eq!(union.len() as u64, n);
    for (k, text) in union {
        assert_eq!(one.event(0, k).text, text, "global index {k}");
    }
    // Run specs cap partitions at the duration: together they hold every due event.
    let mut rs =
        RunSpec::new(JobSpec::default_for(Workload::Sensors), Profile::Constant { rate: 1000.0 }, 2 * SECOND_NS);
    rs.partitions = Some(3);
    assert_eq!((0..3).map(|p| rs.partition_end(p).unwrap()).sum::<u64>(), 2000);
    rs.records = Some(1001);
    assert_eq!((0..3).map(|p| rs.partition_end(p).unwrap()).collect::<Vec<_>>(), [334, 334, 333]);
}

#[test]
fn word_skew_matches_zipf() {
    let spec = WordCountSpec::default();
    let gen = LineGenerator::new(&spec, schedule(1, 11), 11).unwrap();
    let totals = wordcount::oracle::word_totals((0..50_000).map(|i| gen.event(0, i)));
    let all: u64 = totals.values().sum();
    assert_eq!(all, 500_000);
    let vocab = vocabulary(spec.vocabulary);
    let zipf = Zipf::new(spec.vocabulary, 1.1);
    for rank in [0, 1, 9] {
        let share = totals.get(&vocab[rank]).copied().unwrap_or(0) as f64 / all as f64;
        let expected = zipf.probability(rank);
        assert!((share - expected).abs() < 0.1 * expected, "rank {rank}: share {share:.4}, Zipf expects {expected:.4}");
    }
    // Lines hold ten words each.
    assert!((0..100).all(|i| words(&gen.event(0, i).text).count() == 10));
}

#[test]
fn hashtag_popularity_drifts_between_phases() {
    let spec = HashtagSpec::default();
    let gen = TweetGenerator::new(&spec, Schedule::new(Profile::Constant { rate: 20_000.0 }, 1, 0, 1).unwrap(), 1);
    let windows = hashtags::oracle::hashtag_windows((0..20_000 * 40).map(|i| gen.event(0, i)), &spec);
    let leaders: HashSet<&str> = windows.iter().map(|w| w.top[0].0.as_str()).collect();
    assert!(leaders.len() >= 3, "the top tag should change over 40 s, saw {leaders:?}");
    assert!(windows.iter().all(|w| w.top.len() == spec.top_k));
}

#[test]
fn sensors_have_labelled_anomalies_that_the_detector_finds() {
    let spec = SensorSpec::default();
    let gen = SensorGenerator::new(&spec, schedule(2, 4), 4);
    let n = 400_000;
    let readings: Vec<_> = (0..2).flat_map(|p| (0..n / 2).map(move |i| (p, i))).map(|(p, i)| gen.event(p, i)).collect();
    let kinds: HashSet<_> = readings.iter().filter_map(|r| r.anomaly).collect();
    assert_eq!(kinds.len(), 3, "spikes, stuck values and drifts");
    let alerts = sensors::oracle::sensor_alerts(readings.iter().copied(), &spec);
    let (precision, recall) = sensors::oracle::precision_recall(&alerts, readings.iter().copied());
    assert!(!alerts.is_empty());
    assert!(precision > 0.5, "precision {precision}");
    assert!(recall > 0.05 && recall < 1.0, "recall {recall}");
}

#[test]
fn the_sensor_major_oracle_agrees_with_the_reading_by_reading_one() {
    let spec = SensorSpec { sensors: 7, window: 20, ..SensorSpec::default() };
    let gen = SensorGenerator::new(&spec, schedule(3, 4), 9);
    // Uneven ends, one of them not a multiple of the sensors per partition.
    let ends = [30_001, 12_345, 0];
    let events: Vec<_> =
        (0..3).flat_map(|p| (0..ends[p as usize]).map(move |i| (p, i))).map(|(p, i)| gen.event(p, i)).collect();
    for p in 0..3u32 {
        let sensors: Vec<_> =
            (0..gen.per_partition()).map(|local| gen.sensor_read(p, local, ends[p as usize])).collect();
        let mut swept = vec![Vec::new(); sensors.len()];
        gen.sweep(&sensors, |k, first, millis| swept[k].extend((first..).zip(millis.iter().copied())));
        for (&(sensor, n), swept) in sensors.iter().zip(&swept) {
            let mine: Vec<_> = events.iter().filter(|r| r.sensor == sensor).collect();
            let values: Vec<_> = mine.iter().map(|r| (r.seq, r.milli)).collect();
            assert_eq!(*swept, values, "sensor {sensor}");
            assert_eq!(gen.labelled(sensor, n), mine.iter().filter(|r| r.anomaly.is_some()).count() as u64);
        }
    }
    let expected = sensors::oracle::sensor_alerts(events.iter().copied(), &spec);
    let mut got: Vec<_> = (0..3u32)
        .flat_map(|p| sensors::oracle::partition_alerts(&gen, &spec, p, 0..gen.per_partition(), ends[p as usize]))
        .collect();
    got.sort_by_key(|a| (a.sensor, a.seq));
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // Precision and recall of a detector that is half right: every other alert, plus a reading
    // that is not labelled and one past what was read.
    let mut half: Vec<_> = expected.iter().step_by(2).copied().collect();
    let plain = events.iter().find(|r| r.anomaly.is_none()).unwrap();
    half.push(Alert { sensor: plain.sensor, seq: plain.seq, milli: plain.milli });
    half.push(Alert { sensor: 0, seq: 1_000_000, milli: 0 });
    let by_readings = sensors::oracle::precision_recall(&half, events.iter().copied());
    assert_eq!(sensors::oracle::precision_recall_read(&half, &gen, &ends), by_readings);
}

#[test]
fn oracles_counting_draws_equal_the_event_by_event_ones() {
    // Two partitions with disorder, so windows and panes interleave within a range; and without,
    // so windows are runs of offsets.
    for disorder in [200_000_000, 0] {
        draws_equal_events(disorder);
    }
}

fn draws_equal_events(disorder_ns: u64) {
    let monotone = disorder_ns == 0;
    let mut rs =
        RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 40_000.0 }, SECOND_NS);
    rs.partitions = Some(2);
    rs.disorder_ns = disorder_ns;
    let (ends, window) = ([23_000u64, 17_000], SECOND_NS / 4);
    let coords = || (0..2u32).flat_map(move |p| (0..ends[p as usize]).map(move |i| (p, i)));
    let by_draws = |f: &dyn Fn(u32, std::ops::Range<u64>) -> BTreeMap<u64, Drawn>| {
        merge_all((0..2u32).flat_map(|p| [f(p, 0..ends[p as usize] / 2), f(p, ends[p as usize] / 2..ends[p as usize])]))
    };

    let lines = wordcount::generator(&rs).unwrap();
    let mut drawn = Drawn::new(1, lines.pool().len());
    for p in 0..2 {
        drawn.merge(wordcount::oracle::draws(&lines, p, 0..ends[p as usize]));
    }
    let totals: BTreeMap<String, u64> =
        wordcount::oracle::drawn_words(&lines, &drawn).into_iter().map(|(w, c)| (w.to_owned(), c)).collect();
    assert_eq!(totals, wordcount::oracle::word_totals(coords().map(|(p, i)| lines.event(p, i))));
    let windows = by_draws(&|p, r| wordcount::oracle::windowed_draws(&lines, p, r, window, monotone, |_, t| t));
    let expected = wordcount::oracle::windowed_counts(coords().map(|(p, i)| lines.event(p, i)), window);
    assert!(expected.iter().map(|w| w.window_end).collect::<HashSet<_>>().len() > 3);
    assert_eq!(wordcount::oracle::drawn_windows(&lines, &windows), expected);

    let hs = HashtagSpec { window_ns: SECOND_NS / 2, slide_ns: window, ..HashtagSpec::default() };
    rs.job = JobSpec::Hashtags(hs.clone());
    let tweets = hashtags::generator(&rs);
    let panes = by_draws(&|p, r| hashtags::oracle::pane_draws(&tweets, p, r, hs.slide_ns, monotone, |_, t| t));
    let expected = hashtags::oracle::panes(coords().map(|(p, i)| tweets.event(p, i)), &hs);
    assert_eq!(hashtags::oracle::drawn_panes(&tweets, &panes), expected);

    let ys = YsbSpec { window_ns: window, ..YsbSpec::default() };
    rs.job = JobSpec::Ysb(ys.clone());
    let ads = ysb::generator(&rs);
    let views = by_draws(&|p, r| ysb::oracle::campaign_draws(&ads, p, r, ys.window_ns, monotone, |_, t| t));
    let expected = ysb::oracle::campaign_windows(coords().map(|(p, i)| ads.event(p, i)), &ads.table(), ys.window_ns);
    assert!(!expected.is_empty());
    assert_eq!(ysb::oracle::drawn_windows(&views), expected);
}

#[test]
fn cost_loops_agree_with_the_oracles() {
    for partitions in [1, 3] {
        let mut rs =
            RunSpec::new(JobSpec::default_for(Workload::Wordcount), Profile::Constant { rate: 50_000.0 }, SECOND_NS);
        rs.partitions = Some(partitions);
        rs.disorder_ns = 300_000_000;
        let n = 20_000;
        let events = |p: u32, i: u64| (p, i);
        let coords: Vec<(u32, u64)> =
            (0..n).map(|k| events((k % partitions as u64) as u32, k / partitions as u64)).collect();

        let lines = wordcount::generator(&rs).unwrap();
        let totals = wordcount::oracle::word_totals(coords.iter().map(|&(p, i)| lines.event(p, i)));
        let digest = wordcount::cost::wordcount(&lines, n);
        assert!(digest.verify(&UpdateDigest::expected(&totals)).correct);

        rs.job = JobSpec::Hashtags(HashtagSpec {
            window_ns: 2 * SECOND_NS,
            slide_ns: SECOND_NS / 4,
            ..HashtagSpec::default()
        });
        let JobSpec::Hashtags(hs) = &rs.job else { unreachable!() };
        let tweets = hashtags::generator(&rs);
        let expected = hashtags::oracle::hashtag_windows(coords.iter().map(|&(p, i)| tweets.event(p, i)), hs);
        let got = hashtags::cost::hashtags_job(&tweets, hs, n);
        let v = hashtags::verify::hashtag_windows(&got, &expected);
        assert!(v.correct, "{}", v.message);

        rs.job = JobSpec::Sensors(SensorSpec { window: 10, sensors: 60, ..SensorSpec::default() });
        let JobSpec::Sensors(ss) = &rs.job else { unreachable!() };
        let readings = sensors::generator(&rs);
        let expected = sensors::oracle::sensor_alerts(coords.iter().map(|&(p, i)| readings.event(p, i)), ss);
        let v = sensors::alerts(&sensors::cost::sensors(&readings, ss, n), &expected);
        assert!(v.correct && !expected.is_empty(), "{}", v.message);
    }
}

#[test]
fn input_file_replays_its_lines_in_order() {
    let dir = std::env::temp_dir().join(format!("sb-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("in.txt");
    std::fs::write(&path, "one two\n\nthree\nfour four\n").unwrap();
    let spec = WordCountSpec { input: Some(path.clone()), ..WordCountSpec::default() };
    let gen = LineGenerator::new(&spec, schedule(2, 1), 1).unwrap();
    let texts: Vec<String> = (0..4).map(|k| gen.event(k % 2, k as u64 / 2).text.into_owned()).collect();
    assert_eq!(texts, ["one two", "three", "four four", "one two"]);
    let totals = wordcount::oracle::word_totals((0..3).map(|k| gen.event(k % 2, k as u64 / 2)));
    assert_eq!(totals, BTreeMap::from([("four".into(), 2), ("one".into(), 1), ("three".into(), 1), ("two".into(), 1)]));
    std::fs::write(&path, "\n  \n").unwrap();
    let err = LineGenerator::new(&spec, schedule(1, 1), 1).unwrap_err().to_string();
    assert!(err.contains("no non-empty line"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
