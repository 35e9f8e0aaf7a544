//! Writing results: pretty JSON to a file (its directory made, the file replaced whole) or to
//! stdout.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

/// Writes pretty JSON to a file, or to stdout.
pub fn write_json<T: Serialize>(path: Option<&Path>, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            // Written beside and renamed: a run interrupted while writing leaves no partial file.
            let mut partial = p.as_os_str().to_owned();
            partial.push(".partial");
            std::fs::write(&partial, text + "\n").with_context(|| format!("writing {}", p.display()))?;
            std::fs::rename(&partial, p).with_context(|| format!("writing {}", p.display()))
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{text}").and_then(|()| out.flush()) {
                // The reader went away (`streambench merge r.json | head`): not an error of ours.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("writing to standard output"),
            }
        }
    }
}
