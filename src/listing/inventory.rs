//! S3 Inventory reports: `manifest.json` and the data files it names (CSV gzip, Parquet).
//!
//! (Being written.)

use std::path::{Path, PathBuf};

use super::{ListingError, Sink, Skipped, Source};

/// An S3 Inventory report, opened from its manifest.
#[derive(Debug)]
pub struct Inventory {
    manifest: PathBuf,
}

impl Inventory {
    /// Reads the manifest at `manifest` and finds its data files.
    pub fn open(manifest: &Path) -> Result<Inventory, ListingError> {
        Ok(Inventory { manifest: manifest.to_path_buf() })
    }
}

impl Source for Inventory {
    fn read(self, _sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        let _ = self.manifest;
        unimplemented!("being written")
    }
}
