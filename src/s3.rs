//! The `s3` feature: a driver on the official AWS SDK for Rust that reads from S3 exactly what a
//! verdict needs, with the fewest requests (see [`crate::remote`] for the sans-IO half).
//!
//! The caller builds the client (`aws_config::load_defaults` and `aws_sdk_s3::Client::new`, with its
//! endpoint, region, profile and retries) and owns the async runtime. Hashing is blocking work on
//! the caller's rayon pool: call [`verify_object`] where blocking is allowed (inside
//! `spawn_blocking`, or from a runtime's `block_on`).

use std::path::Path;

use aws_sdk_s3::types::{ChecksumMode, ObjectAttributes};
use aws_sdk_s3::Client;
use thiserror::Error;

use crate::checksum::Algorithm;
use crate::engine::{Progress, ReadOptions};
use crate::remote::{
    layout_from_part_heads, layout_from_part_sizes, next_requests, Head, HeadError, PartsFinding, Request,
};
use crate::verify::{verify_path, Report, Verdict, VerifyError};

/// Which object: a bucket, a key and, optionally, a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The version, if not the current one.
    pub version_id: Option<String>,
}

/// Why an object could not be verified against S3.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum S3Error {
    /// A request failed: the request, the object, and the SDK's error (never credentials).
    #[error("{request} s3://{bucket}/{key}: {message}")]
    Request {
        /// The request (`HeadObject`, `GetObjectAttributes`).
        request: &'static str,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What the SDK says.
        message: String,
    },
    /// The answer cannot be read as facts.
    #[error("s3://{bucket}/{key}: {error}")]
    Answer {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What is wrong with it.
        error: HeadError,
    },
    /// The local file could not be verified.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl Object {
    fn failed(&self, request: &'static str, e: impl std::fmt::Display) -> S3Error {
        S3Error::Request {
            request,
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            message: e.to_string(),
        }
    }
}

/// HeadObject with ChecksumMode ENABLED, and with a part number if given.
pub async fn head(client: &Client, object: &Object, part: Option<u32>) -> Result<Head, S3Error> {
    let mut req = client
        .head_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .checksum_mode(ChecksumMode::Enabled);
    if let Some(n) = part {
        req = req.part_number(i32::try_from(n).unwrap_or(i32::MAX));
    }
    let out = req
        .send()
        .await
        .map_err(|e| object.failed("HeadObject", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let sums = [
        (Algorithm::Crc32, out.checksum_crc32()),
        (Algorithm::Crc32c, out.checksum_crc32_c()),
        (Algorithm::Crc64Nvme, out.checksum_crc64_nvme()),
        (Algorithm::Sha1, out.checksum_sha1()),
        (Algorithm::Sha256, out.checksum_sha256()),
    ];
    Ok(Head {
        etag: out.e_tag().map(str::to_string),
        content_length: out.content_length().and_then(|n| u64::try_from(n).ok()),
        server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_string()),
        sse_customer_algorithm: out.sse_customer_algorithm().map(str::to_string),
        checksums: sums.into_iter().filter_map(|(a, v)| Some((a, v?.to_string()))).collect(),
        checksum_type: out.checksum_type().map(|t| t.as_str().to_string()),
        parts_count: out.parts_count().and_then(|n| u64::try_from(n).ok()),
    })
}

/// GetObjectAttributes with ObjectParts, every page: each part's size, in part order (empty when
/// S3 lists none: an object without an additional checksum).
pub async fn part_sizes(client: &Client, object: &Object) -> Result<Vec<u64>, S3Error> {
    let mut sizes = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .get_object_attributes()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .object_attributes(ObjectAttributes::ObjectParts)
            .max_parts(1000)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .map_err(|e| object.failed("GetObjectAttributes", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let Some(parts) = out.object_parts() else { return Ok(sizes) };
        for p in parts.parts() {
            sizes.push(p.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0));
        }
        match (parts.is_truncated(), parts.next_part_number_marker()) {
            (Some(true), Some(m)) => marker = Some(m.to_string()),
            _ => return Ok(sizes),
        }
    }
}

/// Verifies the file at `path` against the object: one HeadObject, then only what the report
/// needs (the first and last part's HeadObject for a part size, GetObjectAttributes or a
/// HeadObject per part for uneven parts). Returns the report and the number of requests made.
pub async fn verify_object(
    client: &Client,
    path: &Path,
    object: &Object,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<(Report, usize), S3Error> {
    let answer = |error| S3Error::Answer { bucket: object.bucket.clone(), key: object.key.clone(), error };
    let (etag, mut facts) = head(client, object, None).await?.facts().map_err(answer)?;
    let mut requests = 1;
    loop {
        let report = verify_path(path, etag.as_ref(), &facts, read, progress)?;
        let next = next_requests(&report);
        if report.verdict != Verdict::Inconclusive || next.is_empty() || facts.layout.is_some() {
            return Ok((report, requests));
        }
        let Some(size) = facts.remote_size else { return Ok((report, requests)) };
        let mut heads = Vec::new();
        for r in &next {
            if let Request::HeadPart(n) = r {
                let h = head(client, object, Some(*n)).await?;
                requests += 1;
                heads.push((*n, h.content_length.unwrap_or(0), h.parts_count));
            }
        }
        if let [(1, first, c1), .., (n, last, cn)] = heads[..] {
            match layout_from_part_heads(size, n, first, last, [c1, cn]) {
                PartsFinding::Uniform(l) => {
                    facts.layout = Some(l);
                    continue;
                }
                PartsFinding::Contradiction(_) => return Ok((report, requests)),
                _ => {}
            }
        }
        if next.contains(&Request::ObjectParts) || heads.len() > 1 {
            let mut sizes = part_sizes(client, object).await?;
            requests += 1;
            if sizes.is_empty() {
                let parts = heads.iter().map(|h| h.0).max().unwrap_or(0);
                for k in 1..=parts {
                    sizes.push(head(client, object, Some(k)).await?.content_length.unwrap_or(0));
                    requests += 1;
                }
            }
            match layout_from_part_sizes(size, sizes) {
                Ok(l) => facts.layout = Some(l),
                Err(_) => return Ok((report, requests)),
            }
        } else {
            return Ok((report, requests));
        }
    }
}
