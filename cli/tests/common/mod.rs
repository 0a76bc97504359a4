//! What the command-line test binaries share: a temporary directory to run the real binary in, and
//! the digests the tests name. Each binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// MD5("hello").
pub const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";
/// MD5 of nothing.
pub const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// A temporary directory, removed when dropped.
pub struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { dir: tempfile::tempdir().unwrap() }
    }

    /// Writes `content` to `name` under the directory (making its folders) and returns its path.
    pub fn file(&self, name: impl AsRef<Path>, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The real binary, run in `dir`.
pub fn etagsum(dir: &Dir) -> Command {
    let mut c = Command::cargo_bin("etagsum").unwrap();
    c.current_dir(dir.path());
    c
}
