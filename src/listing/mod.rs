//! Records of many objects to check against a local tree: checkfiles (the `md5sum -c` habit),
//! the JSON that `aws s3api list-objects-v2` prints, and S3 Inventory reports (CSV and Parquet).
//!
//! Every reader streams: it hands each [`Entry`] to a callback as it reads it, so a listing of a
//! billion keys is checked in the memory of one batch. [`check()`] maps each entry to a local file
//! (under a [`Root`] that no key can escape), compares the sizes, verifies the ETag on the
//! engine (small files share the kernels' lanes) and hands back one [`Checked`] per object, in
//! listing order. [`Shard`] splits a listing among machines by a stable hash of the key.
//!
//! The formats are those AWS documents; what each reader accepts is in its module.
//!
//! A sync tool checking a local copy against a saved `aws s3api list-objects-v2` listing:
//!
//! ```
//! use std::ops::ControlFlow;
//! use etagsum::listing::{check, s3api::ListObjectsV2, CheckOptions, Kind, Root};
//! use etagsum::{NoProgress, ReadOptions};
//!
//! # let dir = std::env::temp_dir().join(format!("etagsum-listing-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(dir.join("copy/photos")).unwrap();
//! # std::fs::write(dir.join("copy/photos/a.jpg"), b"hello").unwrap();
//! let listing = br#"{"Contents": [
//!     {"Key": "photos/a.jpg", "Size": 5, "ETag": "\"5d41402abc4b2a76b9719d911017c592\""},
//!     {"Key": "photos/b.jpg", "Size": 3, "ETag": "\"acbd18db4cc2f85cedef654fccc4a4d8\""}
//! ]}"#;
//! let mut opts = CheckOptions::default();
//! opts.root = Some(Root::open(&dir.join("copy"))?);
//! let mut kinds = Vec::new();
//! let summary = check(
//!     ListObjectsV2::new(&listing[..], "list.json"),
//!     &opts,
//!     &ReadOptions::default(),
//!     &NoProgress,
//!     &mut |checked| {
//!         kinds.push((String::from_utf8_lossy(&checked.key).into_owned(), checked.outcome.kind()));
//!         ControlFlow::Continue(())
//!     },
//! )?;
//! assert_eq!(kinds, [("photos/a.jpg".to_string(), Kind::Match), ("photos/b.jpg".to_string(), Kind::Missing)]);
//! # let _ = summary;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::checksum::{Algorithm, ChecksumType};
use crate::layout::Layout;
use crate::verify::Sse;

pub mod check;
pub mod checkfile;
pub mod inventory;
pub mod root;
pub mod s3api;
pub mod shard;

pub use check::{check, CheckError, CheckOptions, CheckSummary, Checked, Counts, Kind, Outcome};
pub use root::{open_plain, FileKind, KeyError, LocalFile, OpenError, RelPath, Root};
pub use shard::{Shard, ShardError};

/// One object a listing names, or one line of a checkfile.
///
/// Built with [`Entry::new`]; every other field is optional and narrows the answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The object's key, decoded (URL-encoded keys are decoded by the reader); for a checkfile,
    /// the file name as written, unescaped. Keys are UTF-8 in S3; checkfile names may be any bytes.
    pub key: Vec<u8>,
    /// The object's size (ContentLength), if the listing gives it.
    pub size: Option<u64>,
    /// The ETag as the listing gives it (with or without quotes), if it gives one. It is parsed by
    /// the checker, so that one bad value is that object's error, not the listing's.
    pub etag: Option<String>,
    /// The layout the object was uploaded with, if the record says (a tagged checkfile line).
    pub layout: Option<Layout>,
    /// Additional checksums the record gives (a checksum line of a checkfile), each as written:
    /// the checker parses them, so that one bad value is that object's error.
    pub checksums: Vec<(Algorithm, String)>,
    /// How those checksums cover the object, if the record says (`type=` on a tagged checksum
    /// line).
    pub checksum_type: Option<ChecksumType>,
    /// The object's encryption, if the listing says (S3 Inventory's `EncryptionStatus`).
    pub sse: Sse,
    /// Whether the object was uploaded in parts, if the listing says (`IsMultipartUploaded`).
    pub multipart: Option<bool>,
    /// Where the entry was read: the line of a checkfile or of a listing, the row of a data file.
    pub at: Option<At>,
}

impl Entry {
    /// An entry for `key`, with nothing else known.
    pub fn new(key: impl Into<Vec<u8>>) -> Entry {
        Entry { key: key.into(), ..Entry::default() }
    }
}

/// Where an entry or an error was read: a file and a line (or row) in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    /// The file read (a checkfile, a listing, an inventory data file).
    pub file: PathBuf,
    /// The line (1-based) for a text file, the row (1-based) for a data file.
    pub line: Option<u64>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "{}:{n}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// A record that cannot be read as an entry (a garbled checkfile line). It is that record's error;
/// the other records are still checked.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{at}: {what}")]
pub struct BadEntry {
    /// Where.
    pub at: At,
    /// What was expected and what was found.
    pub what: String,
}

/// What a reader skipped on purpose, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// S3 Inventory rows for delete markers.
    pub delete_markers: u64,
    /// S3 Inventory rows for versions that are not the latest.
    pub old_versions: u64,
    /// Empty lines of a checkfile, and comment lines (starting with `#`).
    pub blank_lines: u64,
}

impl std::ops::AddAssign for Skipped {
    fn add_assign(&mut self, o: Skipped) {
        self.delete_markers += o.delete_markers;
        self.old_versions += o.old_versions;
        self.blank_lines += o.blank_lines;
    }
}

/// Why a listing could not be read: the run stops, naming the file and where in it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListingError {
    /// A file of the listing cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file of the listing is not what its format says: truncated JSON, a CSV row with the wrong
    /// number of columns, a broken gzip stream, a manifest without `files`...
    #[error("{at}: {what}")]
    Format {
        /// Where.
        at: At,
        /// What was expected and what was found.
        what: String,
    },
    /// A data file of an S3 Inventory report is not the one its manifest names.
    #[error("{}: its MD5 is {actual}, but the manifest {} says {expected}: the file is damaged or from another report", path.display(), manifest.display())]
    DataFileDamaged {
        /// The data file.
        path: PathBuf,
        /// The manifest.
        manifest: PathBuf,
        /// `MD5checksum` in the manifest.
        expected: String,
        /// The MD5 of the file.
        actual: String,
    },
    /// A data file the manifest names is not where `aws s3 sync` would have put it.
    #[error("{}: the data file {key} named by the manifest is not there (looked for {})", manifest.display(), looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DataFileMissing {
        /// The manifest.
        manifest: PathBuf,
        /// The data file's key in the destination bucket.
        key: String,
        /// Where it was looked for.
        looked: Vec<PathBuf>,
    },
    /// The listing's own source failed: a request of a bucket listing read from S3, with the
    /// bucket, the prefix and what to do.
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
    /// A format etagsum does not read (ORC).
    #[error("{}: {format} inventory reports are not read; configure the inventory as CSV or Parquet", path.display())]
    Unsupported {
        /// The manifest.
        path: PathBuf,
        /// The format named.
        format: String,
    },
}

impl ListingError {
    /// A format error at `at`.
    pub fn format(at: At, what: impl Into<String>) -> ListingError {
        ListingError::Format { at, what: what.into() }
    }
}

/// A callback that receives each entry (or each bad record) in order, and may stop the reading.
pub type Sink<'a> = dyn FnMut(Result<Entry, BadEntry>) -> ControlFlow<()> + 'a;

/// A listing that can be read once, front to back.
pub trait Source {
    /// Hands every entry to `sink`, in order, and says what was skipped on purpose. When `sink`
    /// breaks, reading stops at once and the result is `Ok`.
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError>;
}

/// The formats [`sniff`] tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The JSON printed by `aws s3api list-objects-v2`.
    ListObjectsV2,
    /// An S3 Inventory report's `manifest.json`, with its data files beside it.
    Inventory,
}

/// Tells which format the listing at `path` is: an S3 Inventory manifest (its name ends in
/// `manifest.json`, or its first bytes hold `"sourceBucket"` or `"fileFormat"`), or else the
/// output of `aws s3api list-objects-v2`.
pub fn sniff(path: &Path) -> Result<Format, ListingError> {
    use std::io::Read as _;
    if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("manifest.json")) {
        return Ok(Format::Inventory);
    }
    let io_err = |source| ListingError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut head = Vec::with_capacity(4096);
    file.take(4096).read_to_end(&mut head).map_err(io_err)?;
    let has = |s: &[u8]| head.windows(s.len()).any(|w| w == s);
    if has(b"\"sourceBucket\"") || has(b"\"fileFormat\"") {
        Ok(Format::Inventory)
    } else {
        Ok(Format::ListObjectsV2)
    }
}
