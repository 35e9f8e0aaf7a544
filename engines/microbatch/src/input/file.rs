//! `textFileStream`: the lines of the files that appear in a directory, batch by batch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::rdd::Rdd;
use crate::StreamingError;

impl StreamingContext {
    /// `textFileStream(dir)`: every batch, the lines of the files that appeared in `dir` since
    /// the batch before (one partition per file; names starting with `.` or `_` are ignored,
    /// so write a file under such a name and rename it into place). A file is read once.
    pub fn text_file_stream(&self, dir: impl Into<PathBuf>) -> Result<DStream<String>, StreamingError> {
        self.graph.check_not_started()?;
        let dir = dir.into();
        let ids = self.graph.ids.clone();
        let seen: Mutex<std::collections::HashSet<PathBuf>> = Mutex::default();
        Ok(DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |_t| {
            let mut fresh: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|f| f.is_file()))
                .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
                .map(|e| e.path())
                .collect();
            fresh.sort();
            let mut seen = seen.lock().expect("seen files");
            fresh.retain(|p| seen.insert(p.clone()));
            Some(Rdd::source(&ids, fresh.len(), move |p| {
                // A file that vanished before its task ran reads as empty.
                std::fs::read(&fresh[p])
                    .map(|b| String::from_utf8_lossy(&b).lines().map(str::to_owned).collect())
                    .unwrap_or_default()
            }))
        }))
    }
}
