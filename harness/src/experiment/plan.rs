//! An experiment's runs: the product of each group's matrix, less the excluded, each named by its
//! parameters and validated as `streambench run` validates its options, before any run starts.

use anyhow::{bail, Context as _, Result};
use toml::{Table, Value};
use workloads::Workload;

use super::file::{option_args, value_text, ExperimentFile, Group};
use crate::engine::Engine;
use crate::run_args::{parse_run_options, RunArgs};
use crate::run_kind::RunKind;

/// A rate derived from the experiment's `max` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derived {
    /// Half the same engine's max on the same workload.
    HalfMax,
    /// Half the smaller max of the engines on the same workload.
    Common,
}

/// One run of an experiment.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// Its name: the group and every varied option's value (the file's stem under `runs/`).
    pub name: String,
    /// How the summary files it.
    pub kind: RunKind,
    /// Its parameters as written: `(option, value)`, every option the file sets.
    pub params: Vec<(String, String)>,
    /// Its `streambench run` arguments (the rate left out when it is derived).
    pub args: Vec<String>,
    /// The options parsed.
    pub options: RunArgs,
    /// A rate to derive from the `max` runs, when the file asks for one.
    pub derived: Option<Derived>,
    /// Made this many times, each after its own COST loop, the median kept (1: once).
    pub median_of: u32,
}

impl PlannedRun {
    /// The engine.
    pub fn engine(&self) -> Engine {
        self.options.engine
    }

    /// The workload.
    pub fn workload(&self) -> Workload {
        self.options.workload
    }

    /// The arguments with the rate filled in (`rate` records/s when it is derived).
    pub fn args_at(&self, rate: Option<f64>) -> Vec<String> {
        let mut args = self.args.clone();
        if let Some(rate) = rate {
            args.extend(["--rate".to_owned(), format!("{}", rate.round())]);
        }
        args
    }
}

/// Every run of `file`, in the order they run: those at a given rate first, then those whose rate
/// is derived from them.
pub fn plan(file: &ExperimentFile) -> Result<Vec<PlannedRun>> {
    let groups: Vec<Option<&Group>> =
        if file.group.is_empty() { vec![None] } else { file.group.iter().map(Some).collect() };
    let mut runs = Vec::new();
    for group in groups {
        let mut options = file.options.clone();
        let mut matrix = file.matrix.clone();
        let mut rules: Vec<&Table> = file.exclude.iter().collect();
        if let Some(g) = group {
            options.extend(g.options.clone());
            matrix.extend(g.matrix.clone());
            rules.extend(&g.exclude);
        }
        for key in matrix.keys() {
            options.remove(key);
        }
        for cell in product(&matrix) {
            let mut all = options.clone();
            all.extend(cell.iter().cloned());
            if rules.iter().any(|rule| excluded(rule, &all)) {
                continue;
            }
            let repetitions = group.and_then(|g| g.repetitions).unwrap_or(file.repetitions);
            for rep in 1..=repetitions {
                let mut name: Vec<String> = group.map(|g| g.name.clone()).into_iter().collect();
                name.extend(cell.iter().map(|(k, v)| format!("{k}={}", value_text(v))));
                if repetitions > 1 {
                    name.push(format!("rep={rep}"));
                }
                let name = file_stem(&name);
                let run = planned(&name, group, &all).with_context(|| format!("run `{name}`"))?;
                runs.push(run);
            }
        }
    }
    check(&runs)?;
    runs.sort_by_key(|r| r.derived.is_some());
    Ok(runs)
}

/// The run of one cell: its arguments parsed and validated.
fn planned(name: &str, group: Option<&Group>, all: &Table) -> Result<PlannedRun> {
    let mut args = Vec::new();
    let mut derived = None;
    let duration_ns = match all.get("duration").and_then(Value::as_str) {
        Some(d) => crate::options::parse_duration(d).map_err(anyhow::Error::msg)?,
        None => DEFAULT_DURATION_NS,
    };
    for (key, value) in all {
        match (key.as_str(), value.as_str()) {
            ("rate", Some("half-max")) => derived = Some(Derived::HalfMax),
            ("rate", Some("common")) => derived = Some(Derived::Common),
            ("fault", _) => option_args(key, &at_share(value, duration_ns)?, &mut args)?,
            _ => option_args(key, value, &mut args)?,
        }
    }
    let placeholder: &[String] = if derived.is_some() { &["--rate".to_owned(), "1".to_owned()] } else { &[] };
    let options = parse_run_options(&args, placeholder)?;
    options.to_spec_alone()?;
    let kind = match group.and_then(|g| g.kind) {
        Some(kind) => kind,
        None if !options.faults.is_empty() => RunKind::Fault,
        None if derived == Some(Derived::HalfMax) => RunKind::HalfMax,
        None if options.rate == crate::options::Rate::Max => RunKind::Max,
        None => RunKind::CommonRate,
    };
    let params = all.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
    let median_of = group.and_then(|g| g.median_of).unwrap_or(1);
    Ok(PlannedRun { name: name.to_owned(), kind, params, args, options, derived, median_of })
}

/// `streambench run`'s default `--duration`.
const DEFAULT_DURATION_NS: u64 = 10_000_000_000;

/// A fault's time written as a share of the run (`kill-worker:1@50%`) made a time in ms.
fn at_share(value: &Value, duration_ns: u64) -> Result<Value> {
    Ok(match value {
        Value::String(s) => match s.split_once('@') {
            Some((what, rest)) if rest.contains('%') => {
                let (share, tail) = rest.split_once('%').expect("contains %");
                let share: f64 =
                    share.parse().ok().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                        anyhow::anyhow!("`{s}`: write the time as a share of the run from 0% to 100%")
                    })?;
                let ms = (duration_ns as f64 * share / 100.0 / 1e6).round() as u64;
                Value::String(format!("{what}@{ms}ms{tail}"))
            }
            _ => value.clone(),
        },
        Value::Array(values) => Value::Array(values.iter().map(|v| at_share(v, duration_ns)).collect::<Result<_>>()?),
        other => other.clone(),
    })
}

/// Every combination of the matrix's values, in the file's key order.
fn product(matrix: &Table) -> Vec<Vec<(String, Value)>> {
    let mut cells = vec![Vec::new()];
    for (key, values) in matrix {
        let values = values.as_array().expect("a checked matrix holds lists");
        cells = cells
            .into_iter()
            .flat_map(|cell| {
                values.iter().map(move |v| {
                    let mut next = cell.clone();
                    next.push((key.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    cells
}

/// Whether a run with options `all` matches every key of `rule` (a list: any of its values).
fn excluded(rule: &Table, all: &Table) -> bool {
    rule.iter().all(|(key, want)| {
        let Some(have) = all.get(key) else { return false };
        let have = value_text(have);
        match want {
            Value::Array(any) => any.iter().any(|w| value_text(w) == have),
            one => value_text(one) == have,
        }
    })
}

/// A file stem from a run's parts: `,` between parts, anything but letters, digits and `.-_+=`
/// made `_`.
fn file_stem(parts: &[String]) -> String {
    let joined = if parts.is_empty() { "run".to_owned() } else { parts.join(",") };
    joined.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_+=,".contains(c) { c } else { '_' }).collect()
}

/// Names are unique; a derived rate has `max` runs to derive from.
fn check(runs: &[PlannedRun]) -> Result<()> {
    if runs.is_empty() {
        bail!("the experiment has no runs: every combination of its matrix is excluded");
    }
    let mut names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("two runs are both named `{}`: vary an option in the matrix, or give the groups other names", w[0]);
    }
    for r in runs.iter().filter(|r| r.derived.is_some()) {
        let has_max =
            |e: Engine| runs.iter().any(|m| m.kind == RunKind::Max && m.engine() == e && m.workload() == r.workload());
        let needs: Vec<Engine> = match r.derived {
            Some(Derived::HalfMax) => vec![r.engine()],
            _ => runs.iter().filter(|m| m.workload() == r.workload()).map(PlannedRun::engine).collect(),
        };
        if let Some(e) = needs.into_iter().find(|&e| !has_max(e)) {
            bail!(
                "run `{}`: its rate is derived from a `max` run of {} on {}, and the experiment has none: add one (rate = \"max\")",
                r.name,
                e.name(),
                r.workload()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(text: &str) -> Result<Vec<PlannedRun>> {
        plan(&ExperimentFile::parse(text)?)
    }

    #[test]
    fn the_product_less_the_excluded_each_named_by_its_parameters() {
        let r = runs(
            r#"
            repetitions = 2
            [options]
            workload = "wordcount"
            duration = "2s"
            warmup = "1s"
            [matrix]
            engine = ["microbatch", "native"]
            batch-interval = ["100ms", "1s"]
            [[exclude]]
            engine = "native"
            batch-interval = ["100ms"]
            "#,
        )
        .unwrap();
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "engine=microbatch,batch-interval=100ms,rep=1",
                "engine=microbatch,batch-interval=100ms,rep=2",
                "engine=microbatch,batch-interval=1s,rep=1",
                "engine=microbatch,batch-interval=1s,rep=2",
                "engine=native,batch-interval=1s,rep=1",
                "engine=native,batch-interval=1s,rep=2",
            ]
        );
        assert_eq!(r[0].options.batch_interval, 100_000_000);
        assert_eq!(r[0].kind, RunKind::CommonRate);
    }

    #[test]
    fn groups_derive_rates_from_max_runs_and_run_after_them() {
        let text = r#"
            [options]
            workload = "wordcount"
            [matrix]
            engine = ["microbatch", "native"]
            [[group]]
            name = "half"
            options = { rate = "half-max" }
            [[group]]
            name = "max"
            options = { rate = "max" }
            [[group]]
            name = "fault"
            options = { rate = "common", workers = 2, duration = "20s", fault = "kill-worker:1@25%" }
            "#;
        let r = runs(text).unwrap();
        let kinds: Vec<(RunKind, Option<Derived>)> = r.iter().map(|r| (r.kind, r.derived)).collect();
        assert_eq!(kinds[..2], [(RunKind::Max, None), (RunKind::Max, None)]);
        assert!(kinds[2..].iter().all(|(_, d)| d.is_some()));
        assert_eq!(r[2].kind, RunKind::HalfMax);
        assert_eq!(r[4].kind, RunKind::Fault);
        assert_eq!(r[4].args_at(Some(1234.4)).last().map(String::as_str), Some("1234"));
        assert_eq!(r[4].options.faults, vec![workloads::Fault::KillWorker { worker: 1, at_ns: 5_000_000_000 }]);
        let e = runs(&text.replace("\"max\" }", "\"10k\" }")).unwrap_err();
        assert!(format!("{e:#}").contains("derived from a `max` run"), "{e:#}");
    }

    #[test]
    fn a_bad_value_is_refused_naming_the_run_and_the_allowed_values() {
        let e = runs("[options]\nworkload = \"wordcount\"\n[matrix]\nengine = [\"spark\"]\n").unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("run `engine=spark`") && e.contains("microbatch") && e.contains("native"), "{e}");
        let e = runs("[options]\nengine = \"native\"\nworkload = \"wordcount\"\nduration = \"1s\"\nwarmup = \"2s\"\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("--warmup"), "{e:#}");
        let e = runs("[options]\nengine = \"native\"\nworkload = \"wordcount\"\n[matrix]\nworkers = [1]\n[[exclude]]\nworkers = 1\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("no runs"), "{e:#}");
    }
}
