//! Shared helpers for the CLI tests: run the binary, read results, make scratch directories.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `streambench` with `args`.
pub fn streambench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streambench")).args(args).output().expect("run streambench")
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("streambench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads a JSON file.
pub fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `streambench` with `args` and asserts that it is refused with a message containing
/// `message`.
pub fn refused(args: &[&str], message: &str) {
    let o = streambench(args);
    assert!(!o.status.success(), "{args:?} was not refused");
    assert!(stderr(&o).contains(message), "{args:?}: expected {message:?} in: {}", stderr(&o));
}

/// Starts `streambench feed` with `args` (its standard error kept for a failure's message).
pub fn feed(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_streambench"))
        .arg("feed")
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start streambench feed")
}

/// Runs `streambench cluster` with the cluster options `cluster`, then the run options `run`
/// writing to `out`; asserts it succeeded (saying `what` otherwise) and returns the result.
pub fn cluster_run(cluster: &[&str], run: &[&str], out: &std::path::Path, what: &str) -> serde_json::Value {
    let out_arg = out.to_str().expect("a UTF-8 path");
    let args: Vec<&str> =
        ["cluster"].iter().chain(cluster).chain(&["--"]).chain(run).chain(&["--out", out_arg]).copied().collect();
    let o = streambench(&args);
    assert!(o.status.success(), "{what}: {}", stderr(&o));
    json(out)
}
