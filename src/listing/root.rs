//! The local tree a listing is checked against, which no key can escape.
//!
//! (Being written.)

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A key that cannot name a file under a root.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key has a `..` segment.
    #[error("the key has a '..' segment, which would leave the root")]
    DotDot,
}

/// A directory opened once; files are opened beneath it only.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
}

impl Root {
    /// Opens the directory at `path`.
    pub fn open(path: &Path) -> std::io::Result<Root> {
        Ok(Root { path: path.to_path_buf() })
    }

    /// The directory's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
