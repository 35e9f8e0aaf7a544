//! An experiment file: TOML that names its runs as a matrix of `streambench run` options.
//!
//! ```toml
//! description = "the micro-batch engine's latency against its batch interval"
//! repetitions = 1                 # every run this many times
//! cost = true                     # each workload's COST loop first (cost-records = N: its size)
//!
//! [options]                       # options of every run, as `streambench run` takes them
//! workload = "wordcount"
//! duration = "30s"
//!
//! [matrix]                        # each key a list of values; the product is taken
//! engine = ["microbatch", "native"]
//! batch-interval = ["10ms", "100ms", "1s"]
//!
//! [[exclude]]                     # a run matching every key of a rule is left out
//! engine = "native"               # (a list matches any of its values)
//! batch-interval = ["10ms", "100ms"]
//! ```
//!
//! A file with several kinds of run writes `[[group]]` tables instead of a top-level matrix:
//! each names its `kind` (how the summary and report file it) and has its own `options`,
//! `matrix` and `exclude`; the top-level `options` and `matrix` apply to every group (a group's
//! own key wins). A `rate` of `half-max` is half the throughput of the same engine's `max` run
//! of the same workload in this experiment, `common` half the smaller such max of the engines.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use toml::{Table, Value};

use workloads::Workload;

use crate::run_kind::RunKind;

/// An experiment file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    /// What the experiment shows (the report's first line).
    #[serde(default)]
    pub description: Option<String>,
    /// How many times each run is made (`rep=1`, `rep=2`, ... in its name).
    #[serde(default = "one")]
    pub repetitions: u32,
    /// Whether each workload's COST loop runs first (for throughput as a ratio to it).
    #[serde(default = "yes")]
    pub cost: bool,
    /// Records per COST loop: a number, or a table of numbers by workload (default: the
    /// workload's own size, a few seconds of work).
    #[serde(default, rename = "cost-records")]
    pub cost_records: Option<Value>,
    /// The options of every run.
    #[serde(default)]
    pub options: Table,
    /// The varied options of every run.
    #[serde(default)]
    pub matrix: Table,
    /// Runs left out.
    #[serde(default)]
    pub exclude: Vec<Table>,
    /// Groups of runs, each of one kind.
    #[serde(default)]
    pub group: Vec<Group>,
}

/// A group of runs of one kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name, first in its runs' names.
    pub name: String,
    /// How the summary files its runs (default: `fault` with a fault, else from the rate).
    #[serde(default)]
    pub kind: Option<RunKind>,
    /// How many times each run of the group is made (over the file's `repetitions`).
    #[serde(default)]
    pub repetitions: Option<u32>,
    /// Make each run this many times, each right after its own COST loop, and keep the one with
    /// the median ratio to its loop (what the CI gate compares at `max`).
    #[serde(default, rename = "median-of")]
    pub median_of: Option<u32>,
    /// The group's options (over the file's).
    #[serde(default)]
    pub options: Table,
    /// The group's varied options (over the file's).
    #[serde(default)]
    pub matrix: Table,
    /// Runs of the group left out (beside the file's rules).
    #[serde(default)]
    pub exclude: Vec<Table>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// Options an experiment sets itself.
const OWN: &[&str] = &["out", "process-id", "hostfile", "unjudged"];

impl ExperimentFile {
    /// Reads and checks a file; the error names the key and what it allows.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not a valid experiment file", path.display()))
    }

    /// Parses and checks a file's text.
    pub fn parse(text: &str) -> Result<Self> {
        let file: ExperimentFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?;
        let counts = [("repetitions", Some(file.repetitions))]
            .into_iter()
            .chain(file.group.iter().flat_map(|g| [("repetitions", g.repetitions), ("median-of", g.median_of)]));
        if let Some((key, _)) = counts.into_iter().find(|(_, n)| *n == Some(0)) {
            bail!("`{key}` must be at least 1");
        }
        file.cost_records(Workload::Wordcount)?;
        let allowed = run_option_names();
        let mut tables: Vec<(String, &Table)> =
            vec![("options".into(), &file.options), ("matrix".into(), &file.matrix)];
        tables.extend(file.exclude.iter().map(|t| ("exclude".to_owned(), t)));
        for g in &file.group {
            tables.push((format!("group `{}` options", g.name), &g.options));
            tables.push((format!("group `{}` matrix", g.name), &g.matrix));
            tables.extend(g.exclude.iter().map(|t| (format!("group `{}` exclude", g.name), t)));
        }
        for (table, t) in &tables {
            for key in t.keys() {
                if OWN.contains(&key.as_str()) {
                    bail!("[{table}] `{key}`: the experiment sets this itself; leave it out");
                }
                if !allowed.iter().any(|a| a == key) {
                    bail!("[{table}] `{key}` is not a run option; the run options are: {}", allowed.join(", "));
                }
            }
        }
        for (table, t) in tables.iter().filter(|(n, _)| n.ends_with("matrix")) {
            for (key, v) in t.iter() {
                match v {
                    Value::Array(values) if !values.is_empty() => {}
                    _ => bail!("[{table}] `{key}` must be a non-empty list of values, e.g. {key} = [\"a\", \"b\"]"),
                }
            }
        }
        let mut names: Vec<&str> = file.group.iter().map(|g| g.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!("two groups are named `{}`: give each group its own name", w[0]);
        }
        Ok(file)
    }
}

impl ExperimentFile {
    /// The records of `workload`'s COST loop, if the file sets them.
    pub fn cost_records(&self, workload: Workload) -> Result<Option<u64>> {
        let bad = || {
            anyhow::anyhow!("`cost-records` must be a positive whole number, or a table of them by workload (e.g. {{ wordcount = 300000 }})")
        };
        let positive = |v: &Value| v.as_integer().filter(|n| *n > 0).map(|n| n as u64).ok_or_else(bad);
        match &self.cost_records {
            None => Ok(None),
            Some(Value::Table(by)) => {
                if let Some(k) = by.keys().find(|k| k.parse::<Workload>().is_err()) {
                    bail!(
                        "`cost-records`: `{k}` is not a workload; the workloads are: {}",
                        Workload::ALL.map(Workload::name).join(", ")
                    );
                }
                by.get(workload.name()).map(positive).transpose()
            }
            Some(v) => positive(v).map(Some),
        }
    }
}

/// The long names of `streambench run`'s options.
pub fn run_option_names() -> Vec<String> {
    use clap::CommandFactory as _;
    crate::run_args::RunOnly::command().get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect()
}

/// The `streambench run` arguments of one option's value: a string or number is its value, `true`
/// the bare flag, `false` or `[]` nothing, a list the option once per element.
pub fn option_args(key: &str, value: &Value, out: &mut Vec<String>) -> Result<()> {
    let flag = format!("--{key}");
    match value {
        Value::String(s) => out.extend([flag, s.clone()]),
        Value::Integer(i) => out.extend([flag, i.to_string()]),
        Value::Float(f) => out.extend([flag, f.to_string()]),
        Value::Boolean(true) => out.push(flag),
        Value::Boolean(false) => {}
        Value::Array(values) => {
            for v in values {
                if matches!(v, Value::Array(_)) {
                    bail!("`{key}`: a list inside a list of options; give each value once");
                }
                option_args(key, v, out)?;
            }
        }
        other => bail!("`{key}` = {other}: give a string, a number, true or false"),
    }
    Ok(())
}

/// A value as it appears in a run's name and in an exclude rule's comparison.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(values) if values.is_empty() => "none".to_owned(),
        Value::Array(values) => values.iter().map(value_text).collect::<Vec<_>>().join("+"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_refused_with_the_run_options_listed() {
        let e = ExperimentFile::parse("[matrix]\nengines = [\"native\"]\n").unwrap_err().to_string();
        assert!(e.contains("`engines` is not a run option"), "{e}");
        assert!(e.contains("engine, workload, rate"), "{e}");
        let e = ExperimentFile::parse("repetition = 2\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `repetition`") && e.contains("repetitions"), "{e}");
        let e = ExperimentFile::parse("[options]\nout = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("sets this itself"), "{e}");
        let e = ExperimentFile::parse("[matrix]\nrate = \"100k\"\n").unwrap_err().to_string();
        assert!(e.contains("non-empty list"), "{e}");
        let e = ExperimentFile::parse("[[group]]\nname = \"a\"\nkind = \"fastest\"\n").unwrap_err().to_string();
        assert!(e.contains("unknown variant `fastest`") && e.contains("batch-interval"), "{e}");
    }

    #[test]
    fn values_become_run_arguments() {
        let mut out = Vec::new();
        let v: Table = toml::from_str("a = \"1s\"\nb = 4\nc = true\nd = false\ne = [\"x\", \"y\"]\nf = []\n").unwrap();
        for (k, v) in &v {
            option_args(k, v, &mut out).unwrap();
        }
        assert_eq!(out, ["--a", "1s", "--b", "4", "--c", "--e", "x", "--e", "y"]);
        assert_eq!(value_text(&v["f"]), "none");
        assert_eq!(value_text(&v["e"]), "x+y");
    }
}
