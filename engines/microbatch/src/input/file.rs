//! `textFileStream`: the lines of the files that appear in a directory, batch by batch.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::context::StreamingContext;
use crate::dstream::DStream;
use crate::StreamingError;

impl StreamingContext {
    /// `textFileStream(dir)`: every batch, the lines of the files that appeared in `dir` since
    /// the batch before (one partition per file; names starting with `.` or `_` are ignored,
    /// so write a file under such a name and rename it into place). A file is read once. As in
    /// Spark (`newFilesOnly = true`), files already in `dir` when the context starts are not
    /// read; [`StreamingContext::text_file_stream_with`] can read them too.
    pub fn text_file_stream(&self, dir: impl Into<PathBuf>) -> Result<DStream<String>, StreamingError> {
        self.text_file_stream_with(dir, true)
    }

    /// `fileStream(dir, newFilesOnly)` of text files: as [`StreamingContext::text_file_stream`];
    /// with `new_files_only` false, the first batch also reads the files that were there at the
    /// start.
    pub fn text_file_stream_with(
        &self,
        dir: impl Into<PathBuf>,
        new_files_only: bool,
    ) -> Result<DStream<String>, StreamingError> {
        self.graph.check_not_started()?;
        let dir = dir.into();
        let sc = self.graph.sc.clone();
        let seen: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        if new_files_only {
            let (at_start, dir) = (Arc::clone(&seen), dir.clone());
            self.graph.at_start(Box::new(move || at_start.lock().expect("seen files").extend(files_in(&dir))));
        }
        Ok(DStream::new(Arc::clone(&self.graph), self.graph.batch_ns, move |_t| {
            let mut fresh = files_in(&dir);
            let mut seen = seen.lock().expect("seen files");
            fresh.retain(|p| seen.insert(p.clone()));
            Some(sc.source(fresh.len(), move |p| {
                // A file that vanished before its task ran reads as empty.
                std::fs::read(&fresh[p])
                    .map(|b| String::from_utf8_lossy(&b).lines().map(str::to_owned).collect())
                    .unwrap_or_default()
            }))
        }))
    }
}

/// The visible files in `dir` (not starting with `.` or `_`), sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|f| f.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}
