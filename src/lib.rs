//! Compute and verify Amazon S3 ETags for local files.
//!
//! A single-part ETag is the MD5 of the object; a multipart ETag is the MD5 of the concatenated raw
//! MD5s of the parts, followed by `-N`. To reproduce a multipart ETag you need the part size, which
//! depends on the tool that uploaded the object. This crate reproduces both kinds exactly, knows the
//! part sizes of real uploaders ([`uploaders`]), guesses an unknown part size from the ETag's part
//! count ([`guess`]), hashes every candidate in one pass over the file ([`engine`]), and says honestly
//! when a value cannot be reproduced locally ([`verify`]).
//!
//! MD5 is broken as a defence against an attacker; here it is what S3 uses to identify content,
//! and that is all this crate uses it for.
//!
//! The library never prints, never exits, never reads the environment and never builds a thread
//! pool: the engine runs on the caller's rayon pool, reads within the memory of
//! [`ReadOptions::memory`], and stops when [`ReadOptions::cancel`] is raised. Answers are typed:
//! a [`Verdict`], a [`Reason`], and the [`Need`]s that would settle an inconclusive answer (the
//! part size, every part size, the encryption, the size, a checksum), for a driver with an S3
//! client to read. Words are the caller's job.
//!
//! A sync tool deciding whether to upload:
//!
//! ```
//! use etagsum::{verify_file, engine, NoProgress, ReadOptions, RemoteEtag, Verdict, VerifyOptions};
//!
//! # let dir = std::env::temp_dir().join(format!("etagsum-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("data.bin");
//! # std::fs::write(&path, vec![0u8; 10 << 20]).unwrap();
//! // What ListObjectsV2 or HeadObject said about the object.
//! let remote = RemoteEtag::parse("\"669fdad9e309b552f1e9cf7b489c1f73-2\"")?;
//! let mut facts = VerifyOptions::default();
//! facts.remote_size = Some(10 << 20);
//!
//! let (file, size) = engine::open(&path)?;
//! let report = verify_file(&file, size, &remote, &facts, &ReadOptions::default(), &NoProgress)?;
//! match report.verdict {
//!     Verdict::Match => { /* unchanged: skip the upload */ }
//!     Verdict::Mismatch => { /* the bytes differ: upload */ }
//!     Verdict::Inconclusive => { /* read report.needs from S3 and verify again */ }
//! }
//! assert_eq!(report.verdict, Verdict::Match);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Hashing alone, for any set of layouts in one pass:
//!
//! ```
//! use etagsum::{engine, Layout};
//!
//! let data = vec![0u8; 10 << 20];
//! let layouts = [Layout::Single, Layout::uniform(8 << 20).unwrap()];
//! let hashed = engine::hash_reader(&data[..], Some(data.len() as u64), &layouts, &Default::default(), &engine::NoProgress).unwrap();
//! assert_eq!(hashed.etags[0].as_ref().unwrap().to_string(), "f1c9645dbc14efddc7d8a322685f26eb");
//! assert_eq!(hashed.etags[1].as_ref().unwrap().to_string(), "669fdad9e309b552f1e9cf7b489c1f73-2");
//! ```
#![warn(missing_docs, unreachable_pub)]

// The unit tests share helpers with the integration tests, which name the crate `etagsum`.
#[cfg(test)]
extern crate self as etagsum;

pub mod checksum;
pub mod engine;
pub mod etag;
pub mod guess;
pub mod hasher;
pub mod layout;
pub mod listing;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod md5x;
#[cfg(not(feature = "internals"))]
mod md5x;
pub mod remote;
#[cfg(feature = "s3")]
pub mod s3;
pub mod size;
pub mod uploaders;
pub mod verify;

pub use checksum::{
    Algorithm as ChecksumAlgorithm, Checksum, ChecksumError, ChecksumFolder, ChecksumType,
    Hasher as ChecksumHasher,
};
pub use engine::{
    hash_path, hash_path_with, hash_reader, hash_reader_with, Cancel, ChecksumRequest, EngineError, Hashed,
    KernelChoice, NoProgress, Progress, ReadOptions,
};
pub use etag::{Etag, EtagError, Md5Digest, OpaqueShape, PartCountError, PartFolder, RemoteEtag};
pub use hasher::MultipartHasher;
pub use layout::{Layout, LayoutError, LimitWarning};
pub use size::{parse_part_sizes, parse_size, PartSizesError, SizeError};
pub use verify::{
    verify_file, verify_files, verify_path, verify_reader, ChecksumReport, Evidence, Need, Reason, Report,
    Sse, Verdict, VerifyError, VerifyJob, VerifyOptions, Warning,
};
