//! Checking every entry of a listing against local files.
//!
//! (Being written.)

use std::ops::ControlFlow;
use std::path::PathBuf;

use super::{At, ListingError, Root, Shard, Skipped, Source};
use crate::engine::{Progress, ReadOptions};
use crate::verify::Report;

/// How [`check`] maps keys to files and which keys it checks.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The tree the keys live under; `None`: each key is a path relative to the working directory
    /// (a checkfile).
    pub root: Option<Root>,
    /// Keys start with this; it is cut off before the key is joined to the root.
    pub prefix: Vec<u8>,
    /// Also report files under the root that the listing does not name.
    pub extra: bool,
    /// Check only the keys of this shard.
    pub shard: Option<Shard>,
}

/// The answer for one object.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The file was verified: match, mismatch or inconclusive.
    Verified(Box<Report>),
    /// No local file for the key.
    Missing,
    /// A local file the listing does not name.
    Extra,
}

/// One object checked.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// The key.
    pub key: Vec<u8>,
    /// The local file it maps to.
    pub path: Option<PathBuf>,
    /// Where it was read.
    pub at: Option<At>,
    /// The answer.
    pub outcome: Outcome,
}

/// Counts for the whole run.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CheckSummary {
    /// What the reader skipped on purpose.
    pub skipped: Skipped,
}

/// Checks every entry of `source` (being written).
pub fn check<S: Source>(
    source: S,
    opts: &CheckOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
    on: &mut dyn FnMut(Checked) -> ControlFlow<()>,
) -> Result<CheckSummary, ListingError> {
    let _ = (source, opts, read, progress, on);
    unimplemented!("being written")
}
