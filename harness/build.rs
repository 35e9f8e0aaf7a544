//! Records the git revision and the versions of the engines' main dependencies, for the
//! `context` of every result.

use std::process::Command;

fn main() {
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    println!("cargo:rustc-env=STREAMBENCH_GIT_REV={rev}{}", if dirty { "-dirty" } else { "" });
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let mut versions = Vec::new();
    for name in ["timely", "differential-dataflow", "tokio", "hdrhistogram", "plotters", "criterion"] {
        let needle = format!("name = \"{name}\"\nversion = \"");
        if let Some(at) = lock.find(&needle) {
            let rest = &lock[at + needle.len()..];
            if let Some(end) = rest.find('"') {
                versions.push(format!("{name}={}", &rest[..end]));
            }
        }
    }
    println!("cargo:rustc-env=STREAMBENCH_DEP_VERSIONS={}", versions.join(","));
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/index");
}
