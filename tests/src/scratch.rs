//! Names and SQLite files no other test, and no earlier run, has used: tests share one
//! PostgreSQL database and one temporary directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `prefix` followed by this process's id, the time and a counter.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// A SQLite file in the temporary directory, removed (with its WAL files) on drop.
#[derive(Debug)]
pub struct TempDb(PathBuf);

impl TempDb {
    /// A new file name starting with `prefix`; the file is created by whoever opens it.
    pub fn new(prefix: &str) -> Self {
        Self(std::env::temp_dir().join(format!("{}.db", unique(prefix))))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The file's `sqlite://` URL.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}
