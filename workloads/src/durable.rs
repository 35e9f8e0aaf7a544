//! Files that must survive a fault: written atomically with a length and checksum, so a reader
//! can tell a complete file from a truncated or corrupt one and fall back to an older one.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` with a header (length, CRC-32), atomically (a temporary file, then a
/// rename). Parent directories are created.
pub fn write_checked(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_checked_parts(path, &[bytes])
}

/// [`write_checked`] of the concatenation of `parts`, written part by part (a large part is not
/// copied into one buffer first).
pub fn write_checked_parts(path: &Path, parts: &[&[u8]]) -> Result<(), String> {
    use std::io::Write;
    let mut crc = crc32fast::Hasher::new();
    for part in parts {
        crc.update(part);
    }
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut header = [0u8; 12];
    header[..8].copy_from_slice(&(len as u64).to_le_bytes());
    header[8..].copy_from_slice(&crc.finalize().to_le_bytes());
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    for part in std::iter::once(&header[..]).chain(parts.iter().copied()) {
        file.write_all(part).map_err(fail)?;
    }
    drop(file);
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Reads a file written by [`write_checked`]; a missing, short, truncated or corrupt file is an
/// error that names the file and what is wrong with it.
pub fn read_checked(path: &Path) -> Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if data.len() < 12 {
        return Err(format!("{} is truncated", path.display()));
    }
    let len = u64::from_le_bytes(data[..8].try_into().expect("8 bytes")) as usize;
    let crc = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    let body = &data[12..];
    if body.len() != len {
        return Err(format!("{} is truncated ({} of {len} bytes)", path.display(), body.len()));
    }
    if crc32fast::hash(body) != crc {
        return Err(format!("{} is corrupt (checksum mismatch)", path.display()));
    }
    let mut data = data;
    data.drain(..12);
    Ok(data)
}

/// A private directory for a run's checkpoints when the user gave none (the caller removes it
/// afterwards): `streambench-{engine}-{pid}-{nanos}` under the system's temporary directory.
pub fn scratch_dir(engine: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("streambench-{engine}-{}-{nanos}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_corrupt_files_are_refused() {
        let dir = scratch_dir("durable-test");
        let path = dir.join("a/part");
        write_checked(&path, b"hello state").unwrap();
        assert_eq!(read_checked(&path).unwrap(), b"hello state");
        let mut data = std::fs::read(&path).unwrap();
        data[14] ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert!(read_checked(&path).unwrap_err().contains("corrupt"));
        std::fs::write(&path, &data[..15]).unwrap();
        assert!(read_checked(&path).unwrap_err().contains("truncated"));
        assert!(read_checked(&dir.join("missing")).unwrap_err().contains("cannot read"));
        // Written in parts: the same file as the parts written whole.
        write_checked_parts(&path, &[b"hello", b"", b" state"]).unwrap();
        let parts = std::fs::read(&path).unwrap();
        write_checked(&path, b"hello state").unwrap();
        assert_eq!(parts, std::fs::read(&path).unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
