//! The `s3` feature: a driver on the official AWS SDK for Rust that reads from S3 exactly what a
//! verdict needs, with the fewest requests (the sans-IO half is [`crate::remote`]).
//!
//! - [`verify_object`]: one HeadObject (ChecksumMode ENABLED) gives the ETag, the size, the
//!   encryption and the checksums, and the file is verified with them. Only an inconclusive
//!   answer reads more: HeadObject with part number 1 and with the last part number (two
//!   requests settle any uniform layout), then GetObjectAttributes with ObjectParts for uneven
//!   parts, and a HeadObject per part where GetObjectAttributes lists none.
//! - [`Listing`]: ListObjectsV2, every page, streamed into [`listing::check()`] as any listing.
//! - [`check`]: a listing checked against a local tree, where every answer that S3 can settle
//!   (a plain MD5 that differs: is the object encrypted? a multipart ETag of unknown parts) is
//!   settled with a few requests, at most `jobs` objects at a time, before it is handed over.
//! - [`fetch_inventory`]: an S3 Inventory report copied from its bucket, to be read by
//!   [`listing::inventory::Inventory`].
//!
//! The caller builds the client (with `aws_config` and its endpoint, region, profile and
//! retries) and owns the tokio runtime. Hashing blocks, on the caller's rayon pool: call
//! [`verify_object`] where blocking is allowed (a runtime's `block_on`, `spawn_blocking`).
//!
//! Errors name the request, the bucket and the key, and for a refusal the permission it needs;
//! no credential is ever part of one.
//!
//! This crate asks aws-sdk-s3 for no HTTP client and no runtime: they come with the caller's own
//! dependency on it (its default features) and its client, usually from `aws_config::load_defaults`
//! (here built by hand):
//!
//! ```no_run
//! use etagsum::s3::{verify_object, Object};
//! use etagsum::{NoProgress, ReadOptions, Verdict};
//!
//! let config = aws_sdk_s3::Config::builder()
//!     .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
//!     .region(aws_sdk_s3::config::Region::new("eu-west-1"))
//!     .build();
//! let client = aws_sdk_s3::Client::from_conf(config);
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let object = Object::new("my-bucket", "raw/data.bin");
//! let verified = runtime.block_on(verify_object(
//!     &client,
//!     "data.bin".as_ref(),
//!     &object,
//!     &ReadOptions::default(),
//!     &NoProgress,
//! ))?;
//! if verified.report.verdict == Verdict::Match {
//!     println!("unchanged ({} request(s))", verified.requests);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{ChecksumMode, EncodingType, ObjectAttributes};
use aws_sdk_s3::Client;
use thiserror::Error;
use tokio::runtime::Handle;

use crate::checksum::{Algorithm, ChecksumType};
use crate::engine::{self, NoProgress, Progress, ReadOptions};
use crate::etag::RemoteEtag;
use crate::layout::Layout;
use crate::listing::{
    self, At, CheckError, CheckOptions, CheckSummary, Checked, Entry, ListingError, Outcome, RelPath, Sink,
    Skipped, Source,
};
use crate::remote::{layout_from_part_heads, layout_from_part_sizes, Head, HeadError, PartsFinding};
use crate::verify::{verify_file, verify_reader, Need, Report, Verdict, VerifyError, VerifyOptions};

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

impl Object {
    /// The current version of `key` in `bucket`.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Object {
        Object { bucket: bucket.into(), key: key.into(), version_id: None }
    }
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        match &self.version_id {
            Some(v) => write!(f, " (version {v})"),
            None => Ok(()),
        }
    }
}

/// Why an object could not be read from S3 or verified against it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum S3Error {
    /// There is no such object (HeadObject answered 404 and the bucket exists).
    #[error("{object}: no such object")]
    NoSuchKey {
        /// The object.
        object: Object,
        /// The requests made to find out: HeadObject, and HeadBucket to tell a missing key from
        /// a missing bucket.
        requests: u32,
    },
    /// There is no such bucket.
    #[error("{request} {object}: the bucket {} does not exist", object.bucket)]
    NoSuchBucket {
        /// The request.
        request: &'static str,
        /// The object asked for (for ListObjectsV2, the prefix).
        object: Object,
    },
    /// S3 refused the request (403): the permission it needs. (A 403 to HeadObject has no body:
    /// refused credentials answer the same.)
    #[error("{request} {object}: access denied (403): it needs the permission {permission}, and credentials the store accepts")]
    AccessDenied {
        /// The request (`HeadObject`, `GetObjectAttributes`, `ListObjectsV2`, `GetObject`).
        request: &'static str,
        /// The object (for ListObjectsV2, the prefix).
        object: Object,
        /// The IAM action that allows it, and what else matters.
        permission: &'static str,
    },
    /// Any other failure of a request, after the SDK's retries: throttling, a timeout, no
    /// credentials, a connection refused, a store that answers what S3 would not.
    #[error("{request} {object}: {message}")]
    Request {
        /// The request.
        request: &'static str,
        /// The object (for ListObjectsV2, the prefix).
        object: Object,
        /// What happened, and what to do.
        message: String,
    },
    /// The object was replaced while it was being checked: GetObjectAttributes, or the HeadObject
    /// that confirms a mismatch, gave another ETag than the first HeadObject. Nothing is said about
    /// the bytes; check it again.
    #[error("{object} changed while it was being checked (its ETag was {etag}): check it again")]
    Changed {
        /// The object.
        object: Object,
        /// The ETag it had at first.
        etag: String,
    },
    /// The answer cannot be read as facts.
    #[error("{object}: {error}")]
    Answer {
        /// The object.
        object: Object,
        /// What is wrong with it.
        error: HeadError,
    },
    /// A local file could not be written (a fetched inventory report).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The local file could not be verified.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// The requests the driver makes, with the IAM action each needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    HeadObject,
    GetObjectAttributes,
    ListObjectsV2,
    GetObject,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::HeadObject => "HeadObject",
            Call::GetObjectAttributes => "GetObjectAttributes",
            Call::ListObjectsV2 => "ListObjectsV2",
            Call::GetObject => "GetObject",
        }
    }

    fn permission(self, versioned: bool) -> &'static str {
        match (self, versioned) {
            (Call::HeadObject | Call::GetObject, false) => {
                "s3:GetObject (and s3:ListBucket, without which a missing key is also refused)"
            }
            (Call::HeadObject | Call::GetObject, true) => "s3:GetObjectVersion",
            (Call::GetObjectAttributes, false) => "s3:GetObjectAttributes (or s3:GetObject)",
            (Call::GetObjectAttributes, true) => "s3:GetObjectVersionAttributes",
            (Call::ListObjectsV2, _) => "s3:ListBucket",
        }
    }

    /// The error for `e`, a failure of this request about `object`.
    fn failed<E>(self, object: &Object, e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().map(str::to_string);
        let object = object.clone();
        match (status, code.as_deref()) {
            (_, Some("NoSuchBucket")) => S3Error::NoSuchBucket { request: self.name(), object },
            (_, Some("NoSuchKey")) => S3Error::NoSuchKey { object, requests: 1 },
            (_, Some("InvalidAccessKeyId")) => S3Error::Request {
                request: self.name(),
                object,
                message: "the store does not know the access key (AWS_ACCESS_KEY_ID, the profile's \
                          aws_access_key_id)"
                    .to_string(),
            },
            (_, Some("SignatureDoesNotMatch")) => S3Error::Request {
                request: self.name(),
                object,
                message: "the signature does not match: the secret key is not the access key's".to_string(),
            },
            (Some(403), _) | (_, Some("AccessDenied")) => S3Error::AccessDenied {
                request: self.name(),
                permission: self.permission(object.version_id.is_some()),
                object,
            },
            _ => {
                let message = match (&e, status, code.as_deref()) {
                    (SdkError::TimeoutError(_), _, _) => {
                        "no answer within the time limit (--timeout), retries included".to_string()
                    }
                    (_, Some(503), _) | (_, _, Some("SlowDown" | "Throttling" | "RequestLimitExceeded")) => {
                        "throttled, still after the SDK's retries: try again later, or with more attempts \
                         (--max-attempts, AWS_MAX_ATTEMPTS)"
                            .to_string()
                    }
                    // A version id S3 cannot read: 400, no body.
                    (SdkError::ServiceError(_), Some(400), None)
                        if self == Call::HeadObject && object.version_id.is_some() =>
                    {
                        "HTTP 400: no such version (a version id of a form the store does not read, or \
                         of an object encrypted with SSE-C)"
                            .to_string()
                    }
                    // A HeadObject of an SSE-C object without its key: S3 answers 400, no body.
                    (SdkError::ServiceError(_), Some(400), None) if self == Call::HeadObject => {
                        "HTTP 400 (an object encrypted with SSE-C cannot be read without its key, which \
                         etagsum does not send)"
                            .to_string()
                    }
                    (SdkError::ServiceError(_), Some(s), c) => {
                        let what = e.message().or(c).unwrap_or("no message");
                        format!("HTTP {s}: {what}")
                    }
                    _ => causes(&e),
                };
                S3Error::Request { request: self.name(), object, message }
            }
        }
    }
}

/// What went wrong, from the outermost error to its root cause, each said once; a missing
/// credential says where credentials come from.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    let text = parts.join(": ");
    if text.contains("no credentials found") || text.contains("credentials not loaded") {
        return "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (--profile), \
                or use --no-sign-request for a public bucket"
            .to_string();
    }
    text
}

/// HeadObject with ChecksumMode ENABLED, and with a part number if given.
///
/// A 404 is told apart with one HeadBucket: [`S3Error::NoSuchBucket`] or
/// [`S3Error::NoSuchKey`] (HeadObject's answer has no body to say which).
pub async fn head(client: &Client, object: &Object, part: Option<u32>) -> Result<Head, S3Error> {
    match head_request(client, object, part, None).await {
        Ok(h) => Ok(h),
        Err(e) if status_of(&e) == Some(404) => Err(missing(client, object).await),
        // A version that is a delete marker cannot be read.
        Err(e) if status_of(&e) == Some(405) && object.version_id.is_some() => Err(S3Error::Request {
            request: "HeadObject",
            object: object.clone(),
            message: "this version is a delete marker".to_string(),
        }),
        Err(e) => Err(Call::HeadObject.failed(object, e)),
    }
}

type HeadFailure = SdkError<aws_sdk_s3::operation::head_object::HeadObjectError, HttpResponse>;

fn status_of<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// One HeadObject, with a part number and an `If-Match` if given.
async fn head_request(
    client: &Client,
    object: &Object,
    part: Option<u32>,
    if_match: Option<&str>,
) -> Result<Head, HeadFailure> {
    let mut req = client
        .head_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .set_if_match(if_match.map(str::to_string))
        .checksum_mode(ChecksumMode::Enabled);
    if let Some(n) = part {
        req = req.part_number(i32::try_from(n).unwrap_or(i32::MAX));
    }
    let out = req.send().await?;
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

/// What a part's HeadObject answered.
enum PartHead {
    Read(Head),
    /// The store would not tell (a part number it does not have, a server error): the layout
    /// stays unknown, and this says why.
    Unread(String),
}

/// HeadObject with part number `n`. (Not pinned with `If-Match`: some stores compare it with the
/// part's own ETag, which they give for a part; see [`Asking::confirm`].)
async fn part_head(client: &Client, object: &Object, n: u32) -> Result<PartHead, S3Error> {
    match head_request(client, object, Some(n), None).await {
        Ok(h) => Ok(PartHead::Read(h)),
        Err(e) => match status_of(&e) {
            Some(403) | None => Err(Call::HeadObject.failed(object, e)),
            Some(s) => Ok(PartHead::Unread(format!(
                "HeadObject with part number {n} answered HTTP {s} (a part number the store does not have: \
                 parts need not be numbered 1 to N)"
            ))),
        },
    }
}

/// Which is missing after a 404: the bucket or the key (one HeadBucket).
async fn missing(client: &Client, object: &Object) -> S3Error {
    match client.head_bucket().bucket(&object.bucket).send().await {
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            S3Error::NoSuchBucket { request: "HeadObject", object: object.clone() }
        }
        // The bucket exists (or cannot be looked at): the key is what is missing.
        _ => S3Error::NoSuchKey { object: object.clone(), requests: 2 },
    }
}

/// What GetObjectAttributes says about the parts and the checksum.
#[derive(Debug, Default)]
struct Attributes {
    /// Every part's size, in part order; empty when S3 lists none (an object without an
    /// additional checksum, or a store that does not list them).
    part_sizes: Vec<u64>,
    checksum_type: Option<ChecksumType>,
    requests: u32,
}

/// GetObjectAttributes with ObjectParts and Checksum, every page.
async fn attributes(client: &Client, object: &Object, etag: Option<&str>) -> Result<Attributes, S3Error> {
    let mut out = Attributes::default();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .get_object_attributes()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .object_attributes(ObjectAttributes::ObjectParts)
            .object_attributes(ObjectAttributes::Checksum)
            .object_attributes(ObjectAttributes::Etag)
            .max_parts(1000)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .map_err(|e| Call::GetObjectAttributes.failed(object, e))?;
        out.requests += 1;
        // GetObjectAttributes takes no If-Match: the ETag it gives says whether it is the object
        // whose ETag is being checked.
        if let (Some(want), Some(got)) = (etag, page.e_tag()) {
            if unquoted(want) != unquoted(got) {
                return Err(S3Error::Changed { object: object.clone(), etag: unquoted(want) });
            }
        }
        out.checksum_type = match page.checksum().and_then(|c| c.checksum_type()).map(|t| t.as_str()) {
            Some("FULL_OBJECT") => Some(ChecksumType::FullObject),
            Some("COMPOSITE") => Some(ChecksumType::Composite),
            _ => out.checksum_type,
        };
        let Some(parts) = page.object_parts() else { return Ok(out) };
        for p in parts.parts() {
            out.part_sizes.push(p.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0));
        }
        match (parts.is_truncated(), parts.next_part_number_marker()) {
            (Some(true), Some(m)) if marker.as_deref() != Some(m) => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

/// Part heads in flight at once when every part must be asked for.
const PART_HEADS_IN_FLIGHT: usize = 16;

/// HeadObject for each of `parts`, up to [`PART_HEADS_IN_FLIGHT`] at a time: each part's answer,
/// by part number; the first part the store would not tell about ends it.
async fn part_heads(
    client: &Client,
    object: &Object,
    parts: &[u32],
    requests: &mut u32,
) -> Result<Result<Vec<(u32, Head)>, String>, S3Error> {
    let mut out = Vec::with_capacity(parts.len());
    for chunk in parts.chunks(PART_HEADS_IN_FLIGHT) {
        let mut set = tokio::task::JoinSet::new();
        for &n in chunk {
            let (client, object) = (client.clone(), object.clone());
            set.spawn(async move { (n, part_head(&client, &object, n).await) });
        }
        let mut unread = None;
        while let Some(done) = set.join_next().await {
            let (n, h) = done.map_err(|e| S3Error::Request {
                request: "HeadObject",
                object: object.clone(),
                message: format!("the request's task failed: {e}"),
            })?;
            *requests += 1;
            match h? {
                PartHead::Read(h) => out.push((n, h)),
                PartHead::Unread(why) => unread = unread.or(Some(why)),
            }
        }
        if let Some(why) = unread {
            return Ok(Err(why));
        }
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(Ok(out))
}

/// The answer for one object.
#[derive(Debug)]
#[non_exhaustive]
pub struct Verified {
    /// The report, made with every fact read.
    pub report: Report,
    /// The requests made to S3 for it.
    pub requests: u32,
    /// What HeadObject answered.
    pub head: Head,
    /// Why the layout could not be read, when a store answered what S3 would not (a part
    /// number ignored, parts that do not add up): the report stays inconclusive.
    pub untrusted: Option<String>,
}

/// Verifies the file at `path` against `object` (see [`verify_object_file`]).
pub async fn verify_object(
    client: &Client,
    path: &Path,
    object: &Object,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Verified, S3Error> {
    let (file, size) = engine::open(path).map_err(VerifyError::from)?;
    verify_object_file(client, &file, size, object, read, progress).await
}

/// Verifies an open file of `size` bytes (`None`: read to its end, once) against `object`: one
/// HeadObject, the file hashed once, and only when the answer is inconclusive, what it needs: the
/// first and last part's HeadObject for a part size, GetObjectAttributes (or a HeadObject per
/// part) for uneven parts or a checksum's type; then the file is hashed once more with the
/// layout found. A file of unknown size (a pipe) is verified as [`verify_object_reader`] verifies.
pub async fn verify_object_file(
    client: &Client,
    file: &File,
    size: Option<u64>,
    object: &Object,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Verified, S3Error> {
    if size.is_none() {
        return verify_object_reader(client, file, object, read, progress).await;
    }
    let (head, etag, mut facts) = first_head(client, object).await?;
    let mut asking = Asking::new(client, object, head.etag.as_deref());
    let mut report = verify_file(file, size, etag.as_ref(), &facts, read, progress)?;
    let mut untrusted = None;
    // At most two rounds: the part heads (which settle a uniform layout, and often the checksum
    // with it), then GetObjectAttributes if the answer still needs it.
    for _ in 0..2 {
        if report.verdict != Verdict::Inconclusive {
            break;
        }
        match asking.read_layout(&report, &mut facts).await? {
            Found::More => report = verify_file(file, size, etag.as_ref(), &facts, read, progress)?,
            Found::Untrusted(why) => {
                untrusted = Some(why);
                break;
            }
            Found::Nothing => break,
        }
    }
    asking.confirm(&report).await?;
    let requests = asking.requests;
    Ok(Verified::new(report, requests, head, untrusted))
}

/// Verifies a stream, which can be read only once, against `object`: one HeadObject, then, for
/// a multipart object (an ETag or a composite checksum with `-N`), its layout is read before the
/// stream (two part heads for a uniform layout, more for uneven parts), so that one read decides.
pub async fn verify_object_reader<R: std::io::Read + Send>(
    client: &Client,
    reader: R,
    object: &Object,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Verified, S3Error> {
    let (head, etag, mut facts) = first_head(client, object).await?;
    let mut asking = Asking::new(client, object, head.etag.as_deref());
    let mut untrusted = None;
    let parts = etag
        .as_ref()
        .and_then(RemoteEtag::md5)
        .and_then(|e| e.parts())
        .or_else(|| facts.checksums.iter().find_map(|c| c.parts()));
    if let (Some(n), Some(size)) = (parts, facts.remote_size) {
        let found = asking.read_parts(size, n, true).await?;
        asking.type_checksums(&mut facts, found.checksum_type);
        match found.layout {
            Ok(layout) => facts.layout = layout,
            Err(why) => untrusted = Some(why),
        }
    }
    let report = verify_reader(reader, None, etag.as_ref(), &facts, read, progress)?;
    asking.confirm(&report).await?;
    let requests = asking.requests;
    Ok(Verified::new(report, requests, head, untrusted))
}

/// The object's HeadObject, read as facts; an answer with neither an ETag nor a checksum is
/// no S3 store's.
async fn first_head(
    client: &Client,
    object: &Object,
) -> Result<(Head, Option<RemoteEtag>, VerifyOptions), S3Error> {
    let head = head(client, object, None).await?;
    let (etag, facts) = head.facts().map_err(|error| S3Error::Answer { object: object.clone(), error })?;
    if etag.is_none() && facts.checksums.is_empty() {
        return Err(S3Error::Request {
            request: "HeadObject",
            object: object.clone(),
            message: "the answer has neither an ETag nor a checksum: is the endpoint an S3 store?"
                .to_string(),
        });
    }
    Ok((head, etag, facts))
}

impl Verified {
    /// The answer, its needs cleared: S3 was asked every fact it can give (the encryption, the size
    /// and the checksums with HeadObject, the parts when the answer needed them), so what is still
    /// unknown cannot be read from it.
    fn new(mut report: Report, requests: u32, head: Head, untrusted: Option<String>) -> Verified {
        report.needs.clear();
        Verified { report, requests, head, untrusted }
    }
}

/// What [`Asking::read_layout`] found.
enum Found {
    /// Facts were added: verify again.
    More,
    /// The store's answers contradict each other.
    Untrusted(String),
    /// Nothing more can be read.
    Nothing,
}

/// What [`Asking::read_parts`] read.
struct PartsRead {
    /// The layout; `None` when it cannot be read; an error when the store's answers contradict
    /// each other or the object.
    layout: Result<Option<Layout>, String>,
    /// The checksum's type, when GetObjectAttributes was asked.
    checksum_type: Option<ChecksumType>,
}

/// The requests after the first HeadObject, counted, and whether each answered for the object
/// whose ETag is checked.
struct Asking<'a> {
    client: &'a Client,
    object: &'a Object,
    etag: Option<&'a str>,
    requests: u32,
    /// A part's HeadObject gave another ETag than the object's: S3 gives the object's, so the
    /// object may have been replaced meanwhile (or the store gives each part's own ETag).
    unpinned: bool,
}

fn unquoted(e: &str) -> String {
    e.trim().trim_matches('"').to_ascii_lowercase()
}

impl Asking<'_> {
    fn new<'a>(client: &'a Client, object: &'a Object, etag: Option<&'a str>) -> Asking<'a> {
        Asking { client, object, etag, requests: 1, unpinned: false }
    }

    /// Notes whether every part's answer named the object's ETag.
    fn note_etags(&mut self, heads: &[(u32, Head)]) {
        let same = |h: &Head| match (self.etag, h.etag.as_deref()) {
            (Some(want), Some(got)) => unquoted(want) == unquoted(got),
            _ => false,
        };
        self.unpinned |= !heads.iter().all(|(_, h)| same(h));
    }

    /// Before a mismatch found with parts read from answers that did not name the object's ETag:
    /// one more HeadObject, which must still give the ETag the parts were read for. A layout read
    /// from an object replaced meanwhile is never evidence against the bytes.
    async fn confirm(&mut self, report: &Report) -> Result<(), S3Error> {
        if report.verdict != Verdict::Mismatch || !self.unpinned {
            return Ok(());
        }
        let now = head(self.client, self.object, None).await?;
        self.requests += 1;
        let want = self.etag.map(unquoted).unwrap_or_default();
        match now.etag.as_deref().map(unquoted) {
            Some(got) if got == want => Ok(()),
            _ => Err(S3Error::Changed { object: self.object.clone(), etag: want }),
        }
    }

    /// Reads what an inconclusive `report` needs into `facts`: the layout (part heads, then every
    /// part's size), or else a checksum's type.
    async fn read_layout(&mut self, report: &Report, facts: &mut VerifyOptions) -> Result<Found, S3Error> {
        let wants = |n: Need| report.needs.contains(&n);
        let Some(size) = facts.remote_size else { return Ok(Found::Nothing) };
        let parts = crate::remote::part_count(report);
        if facts.layout.is_none() && (wants(Need::PartSize) || wants(Need::PartSizes)) {
            if let Some(n) = parts {
                // A part size is tried first (two requests); every part's size only when needed.
                let found = self.read_parts(size, n, wants(Need::PartSize)).await?;
                let typed = self.type_checksums(facts, found.checksum_type);
                return Ok(match found.layout {
                    Ok(Some(layout)) => {
                        facts.layout = Some(layout);
                        Found::More
                    }
                    Ok(None) if typed => Found::More,
                    Ok(None) => Found::Nothing,
                    Err(why) => Found::Untrusted(why),
                });
            }
        }
        if wants(Need::ChecksumType) && facts.checksum_type.is_none() {
            let attrs = attributes(self.client, self.object, self.etag).await?;
            self.requests += attrs.requests;
            if self.type_checksums(facts, attrs.checksum_type) {
                return Ok(Found::More);
            }
        }
        Ok(Found::Nothing)
    }

    /// Takes the checksum type GetObjectAttributes gave, if the object has a checksum it types
    /// (a store may name a type with no value) and none was known; whether it was taken.
    fn type_checksums(&self, facts: &mut VerifyOptions, found: Option<ChecksumType>) -> bool {
        if facts.checksum_type.is_some() || facts.checksums.is_empty() || found.is_none() {
            return false;
        }
        facts.checksum_type = found;
        true
    }

    /// Reads the layout of an object of `size` bytes in `n` parts: with `uniform`, HeadObject for
    /// part 1 and part `n` first (which settle a uniform layout); then, for uneven parts,
    /// GetObjectAttributes, and a HeadObject for every part not yet read where it lists none.
    async fn read_parts(&mut self, size: u64, n: u32, uniform: bool) -> Result<PartsRead, S3Error> {
        let untrusted = |why| PartsRead { layout: Err(why), checksum_type: None };
        let (client, object, etag) = (self.client, self.object, self.etag);
        let mut known: Vec<(u32, Head)> = Vec::new();
        if uniform {
            let asked: Vec<u32> = if n > 1 { vec![1, n] } else { vec![1] };
            let heads = match part_heads(client, object, &asked, &mut self.requests).await? {
                Ok(heads) => heads,
                Err(why) => return Ok(untrusted(why)),
            };
            self.note_etags(&heads);
            let len = |h: &Head| h.content_length.unwrap_or(0);
            let (first, last) = (&heads[0].1, &heads[heads.len() - 1].1);
            match layout_from_part_heads(
                size,
                n,
                len(first),
                len(last),
                [first.parts_count, last.parts_count],
            ) {
                PartsFinding::Uniform(layout) => {
                    return Ok(PartsRead { layout: Ok(Some(layout)), checksum_type: None })
                }
                PartsFinding::Contradiction(why) => return Ok(untrusted(why)),
                _ => known = heads,
            }
        }
        let attrs = attributes(client, object, etag).await?;
        self.requests += attrs.requests;
        let checksum_type = attrs.checksum_type;
        let mut sizes = attrs.part_sizes;
        if sizes.is_empty() {
            let asked: Vec<u32> = (1..=n).filter(|k| !known.iter().any(|(m, _)| m == k)).collect();
            let mut heads = match part_heads(client, object, &asked, &mut self.requests).await? {
                Ok(heads) => heads,
                Err(why) => return Ok(untrusted(why)),
            };
            self.note_etags(&heads);
            heads.append(&mut known);
            heads.sort_by_key(|(k, _)| *k);
            if let Some(c) = heads.iter().find_map(|(_, h)| h.parts_count.filter(|&c| c != u64::from(n))) {
                return Ok(untrusted(format!(
                    "the store reports {c} parts where the ETag has {n} (a store that ignores the part number?)"
                )));
            }
            sizes = heads.iter().map(|(_, h)| h.content_length.unwrap_or(0)).collect();
        }
        let layout = match layout_from_part_sizes(size, sizes) {
            Ok(layout) => Ok(Some(layout)),
            Err(PartsFinding::Contradiction(why)) => Err(why),
            Err(_) => Ok(None),
        };
        Ok(PartsRead { layout, checksum_type })
    }
}

/// A prefix of a bucket listed with ListObjectsV2, every page, as a [`Source`] for
/// [`listing::check()`] (or [`check`]): one page is read at a time, ahead of the files being
/// hashed. Keys are asked for URL-encoded (S3's XML cannot carry every key) and decoded.
///
/// Reading blocks the calling thread on `handle`: read it from a thread that is not one of the
/// runtime's (as [`listing::check()`] does).
#[derive(Debug)]
pub struct Listing {
    client: Client,
    handle: Handle,
    bucket: String,
    prefix: String,
}

impl Listing {
    /// The keys of `bucket` that start with `prefix`.
    pub fn new(
        client: Client,
        handle: Handle,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Listing {
        Listing { client, handle, bucket: bucket.into(), prefix: prefix.into() }
    }
}

impl Source for Listing {
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        let place = Object::new(&self.bucket, &self.prefix);
        let at = At { file: PathBuf::from(format!("s3://{}/{}", self.bucket, self.prefix)), line: None };
        let mut token: Option<String> = None;
        loop {
            let page = self
                .handle
                .block_on(
                    self.client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(&self.prefix)
                        .encoding_type(EncodingType::Url)
                        .set_continuation_token(token.take())
                        .send(),
                )
                .map_err(|e| ListingError::Source(Box::new(Call::ListObjectsV2.failed(&place, e))))?;
            for o in page.contents() {
                let Some(raw) = o.key() else { continue };
                let key = listing::s3api::url_decode(raw).map_err(|what| {
                    ListingError::format(at.clone(), format!("the key '{raw}' does not URL-decode: {what}"))
                })?;
                let mut entry = Entry::new(key);
                entry.size = o.size().and_then(|s| u64::try_from(s).ok());
                entry.etag = o.e_tag().map(str::to_string);
                if sink(Ok(entry)).is_break() {
                    return Ok(Skipped::default());
                }
            }
            match (page.is_truncated(), page.next_continuation_token()) {
                (Some(true), Some(t)) => token = Some(t.to_string()),
                _ => return Ok(Skipped::default()),
            }
        }
    }
}

/// Whether S3 can settle `checked` with a few requests: a plain MD5 that differs where the
/// encryption is unknown (an SSE-KMS ETag looks like an MD5), or an inconclusive answer that
/// HeadObject and the part requests can decide.
fn needs_s3(checked: &Checked) -> bool {
    let Outcome::Verified(report) = &checked.outcome else { return false };
    // An SSE-C object cannot be read without its key: HeadObject would be refused.
    if report.facts.sse == crate::verify::Sse::C {
        return false;
    }
    match report.verdict {
        Verdict::Match => false,
        Verdict::Mismatch => report.needs.contains(&Need::Encryption),
        Verdict::Inconclusive => report.needs.iter().any(|n| {
            matches!(
                n,
                Need::Encryption | Need::Checksum | Need::PartSize | Need::PartSizes | Need::ChecksumType
            )
        }),
    }
}

/// Settles `checked` with S3: the object verified again with what S3 says about it.
fn settle(
    client: &Client,
    handle: &Handle,
    bucket: &str,
    opts: &CheckOptions,
    read: &ReadOptions,
    mut checked: Checked,
) -> Checked {
    let Ok(key) = String::from_utf8(checked.key.clone()) else { return checked };
    let object = Object::new(bucket, key);
    // Opened again beneath the root, never by path: no symlink placed meanwhile is followed.
    let rel = checked.key.get(opts.prefix.len()..).unwrap_or_default();
    let file = match (&opts.root, RelPath::new(rel)) {
        (Some(root), Ok(rel)) => root.open_file(rel).map(|f| (f.file, f.size)),
        _ => return checked,
    };
    let (file, size) = match file {
        Ok(f) => f,
        Err(e) => {
            checked.outcome = Outcome::Error(CheckError::Open(e));
            return checked;
        }
    };
    match handle.block_on(verify_object_file(client, &file, size, &object, read, &NoProgress)) {
        Ok(v) => {
            checked.requests = v.requests;
            checked.remote_checksums = v.head.checksums.clone();
            checked.outcome = Outcome::Verified(Box::new(v.report));
        }
        Err(S3Error::NoSuchKey { .. }) => {
            checked.outcome =
                Outcome::Error(CheckError::Remote("the object was deleted after it was listed".into()))
        }
        Err(e) => checked.outcome = Outcome::Error(CheckError::Remote(e.to_string())),
    }
    checked
}

/// Answers waiting to be handed over in listing order.
const QUEUE_MAX: usize = 4096;

/// Checks every entry of `source` (a [`Listing`] of `bucket`, an inventory of it...) as
/// [`listing::check()`] does, and settles with S3 every answer it can settle (see the module)
/// before handing it to `on`, at most `jobs` objects at a time, in listing order. The summary's
/// counts are the answers handed over.
///
/// Blocks the calling thread on `handle` for the requests: call it from outside the runtime.
#[allow(clippy::too_many_arguments)]
pub fn check<S: Source + Send>(
    source: S,
    client: &Client,
    handle: &Handle,
    bucket: &str,
    jobs: usize,
    opts: &CheckOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
    on: &mut dyn FnMut(Checked) -> ControlFlow<()>,
) -> Result<CheckSummary, ListingError> {
    let jobs = jobs.max(1);
    let (task_tx, task_rx) = mpsc::channel::<(u64, Checked)>();
    let (done_tx, done_rx) = mpsc::channel::<(u64, Checked)>();
    let task_rx = Mutex::new(task_rx);
    std::thread::scope(|scope| {
        // A worker that cannot start leaves the others; with none, each object is settled here.
        let started = (0..jobs)
            .filter(|_| {
                let (task_rx, done_tx) = (&task_rx, done_tx.clone());
                let worker = std::thread::Builder::new().name("etagsum-s3".into());
                worker
                    .spawn_scoped(scope, move || loop {
                        let task = task_rx.lock().ok().and_then(|rx| rx.recv().ok());
                        let Some((i, checked)) = task else { return };
                        if done_tx.send((i, settle(client, handle, bucket, opts, read, checked))).is_err() {
                            return;
                        }
                    })
                    .is_ok()
            })
            .count();
        drop(done_tx);
        let mut queue =
            Queue { waiting: VecDeque::new(), done: HashMap::new(), next: 0, counts: Default::default() };
        let mut stopped = false;
        let mut hand = |c: Checked, queue: &mut Queue| {
            queue.counts.add(c.outcome.kind());
            on(c)
        };
        let result = listing::check(source, opts, read, progress, &mut |checked| {
            let i = queue.next;
            queue.next += 1;
            if needs_s3(&checked) {
                if started == 0 {
                    queue.done.insert(i, settle(client, handle, bucket, opts, read, checked));
                } else if let Err(mpsc::SendError((_, c))) = task_tx.send((i, checked)) {
                    queue.done.insert(i, settle(client, handle, bucket, opts, read, c));
                }
                queue.waiting.push_back(Slot::Pending(i));
            } else {
                queue.waiting.push_back(Slot::Ready(Box::new(checked)));
            }
            let block = queue.waiting.len() > QUEUE_MAX;
            match queue.flush(&done_rx, block, &mut hand) {
                ControlFlow::Break(()) => {
                    stopped = true;
                    ControlFlow::Break(())
                }
                c => c,
            }
        });
        drop(task_tx);
        if !stopped {
            let _ = queue.flush(&done_rx, true, &mut hand);
        }
        let mut summary = result?;
        summary.counts = queue.counts;
        summary.stopped |= stopped;
        Ok(summary)
    })
}

enum Slot {
    Ready(Box<Checked>),
    Pending(u64),
}

struct Queue {
    waiting: VecDeque<Slot>,
    done: HashMap<u64, Checked>,
    next: u64,
    counts: listing::Counts,
}

impl Queue {
    /// Hands over the answers at the front that are ready; with `block`, waits for every one.
    fn flush(
        &mut self,
        done: &mpsc::Receiver<(u64, Checked)>,
        block: bool,
        hand: &mut dyn FnMut(Checked, &mut Queue) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        while let Ok((i, c)) = done.try_recv() {
            self.done.insert(i, c);
        }
        while let Some(front) = self.waiting.pop_front() {
            let checked = match front {
                Slot::Ready(c) => *c,
                Slot::Pending(i) => match self.done.remove(&i) {
                    Some(c) => c,
                    None if block => loop {
                        match done.recv() {
                            Ok((j, c)) if j == i => break c,
                            Ok((j, c)) => {
                                self.done.insert(j, c);
                            }
                            // Every worker is gone: nothing more will come.
                            Err(_) => return ControlFlow::Break(()),
                        }
                    },
                    None => {
                        self.waiting.push_front(Slot::Pending(i));
                        return ControlFlow::Continue(());
                    }
                },
            };
            hand(checked, self)?;
        }
        ControlFlow::Continue(())
    }
}

/// Copies the S3 Inventory report whose manifest is `manifest` (a key of `bucket`) and its data
/// files into `dir`, laid out as `aws s3 sync` lays them out (`dir/manifest/manifest.json`,
/// `dir/data/FILE`), and returns the manifest's path for
/// [`Inventory::open`](crate::listing::inventory::Inventory::open), which checks each data file
/// against the manifest's MD5 before reading it.
pub async fn fetch_inventory(
    client: &Client,
    bucket: &str,
    manifest: &str,
    dir: &Path,
) -> Result<PathBuf, S3Error> {
    let object = Object::new(bucket, manifest);
    let folder = dir.join("manifest");
    std::fs::create_dir_all(&folder).map_err(|source| S3Error::Io { path: folder.clone(), source })?;
    let path = folder.join("manifest.json");
    download(client, &object, &path, crate::listing::inventory::MANIFEST_MAX, "a manifest can be").await?;
    let text = std::fs::read(&path).map_err(|source| S3Error::Io { path: path.clone(), source })?;
    let bad = |what: String| S3Error::Request { request: "GetObject", object: object.clone(), message: what };
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("the manifest is not JSON: {e}")))?;
    // Data files live in the destination bucket (an ARN), which is the manifest's bucket when
    // the manifest does not say.
    let dest = json
        .get("destinationBucket")
        .and_then(|b| b.as_str())
        .map(|arn| arn.rsplit(':').next().unwrap_or(arn).to_string())
        .unwrap_or_else(|| bucket.to_string());
    let files = json.get("files").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    let mut written: HashSet<PathBuf> = HashSet::from([path.clone()]);
    for f in files {
        let Some(key) = f.get("key").and_then(|k| k.as_str()) else { continue };
        // Where the inventory reader looks first: `data/NAME` beside the manifest's folder (the
        // last two segments of the key), or the file alone there. A hostile segment is left for
        // the reader to refuse, and nothing is written for it.
        let names: Vec<&str> = key.rsplit('/').filter(|s| !s.is_empty() && *s != ".").take(2).collect();
        let safe = |s: &str| s != ".." && !s.contains('\\') && !s.contains('\0');
        if names.is_empty() || !names.iter().all(|n| safe(n)) {
            continue;
        }
        let target = names.iter().rev().fold(dir.to_path_buf(), |p, n| p.join(n));
        if !written.insert(target.clone()) {
            return Err(bad(format!(
                "two files of the report would be copied to {}: copy the report with `aws s3 sync` and \
                 give its manifest.json to --listing",
                target.strip_prefix(dir).unwrap_or(&target).display()
            )));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| S3Error::Io { path: parent.to_path_buf(), source })?;
        }
        // Never more than the manifest says.
        let max = f.get("size").and_then(serde_json::Value::as_u64).unwrap_or(u64::MAX);
        download(client, &Object::new(&dest, key), &target, max, "the manifest's size for it").await?;
    }
    Ok(path)
}

/// GetObject into a new file at `path`, refused past `max` bytes.
async fn download(
    client: &Client,
    object: &Object,
    path: &Path,
    max: u64,
    what: &str,
) -> Result<(), S3Error> {
    let mut out = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| Call::GetObject.failed(object, e))?;
    let too_large = || S3Error::Request {
        request: "GetObject",
        object: object.clone(),
        message: format!("larger than {what} ({max} bytes at most): not copied"),
    };
    if out.content_length().and_then(|n| u64::try_from(n).ok()).is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let io = |source| S3Error::Io { path: path.to_path_buf(), source };
    let mut file = File::create(path).map_err(io)?;
    let mut written = 0u64;
    while let Some(chunk) = out.body.next().await {
        let chunk = chunk.map_err(|e| S3Error::Request {
            request: "GetObject",
            object: object.clone(),
            message: format!("the download broke off: {e}"),
        })?;
        written = written.saturating_add(chunk.len() as u64);
        if written > max {
            return Err(too_large());
        }
        file.write_all(&chunk).map_err(io)?;
    }
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::head_object::HeadObjectError;
    use aws_sdk_s3::primitives::SdkBody;

    fn answer(status: u16, code: Option<&str>) -> SdkError<HeadObjectError, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message("the store's words");
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let response = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(HeadObjectError::generic(meta.build()), response)
    }

    #[test]
    fn failures_name_the_request_the_object_and_what_to_do() {
        let object = Object::new("bucket", "some/key");
        let versioned = Object { version_id: Some("v1".into()), ..object.clone() };
        let said = |e: S3Error| e.to_string();
        assert_eq!(
            said(Call::HeadObject.failed(&object, answer(403, None))),
            "HeadObject s3://bucket/some/key: access denied (403): it needs the permission s3:GetObject \
             (and s3:ListBucket, without which a missing key is also refused), and credentials the store \
             accepts"
        );
        assert!(said(Call::HeadObject.failed(&versioned, answer(403, Some("AccessDenied"))))
            .contains("it needs the permission s3:GetObjectVersion,"));
        assert!(said(Call::GetObjectAttributes.failed(&object, answer(403, None)))
            .contains("s3:GetObjectAttributes"));
        assert!(said(Call::ListObjectsV2.failed(&object, answer(403, None))).contains("s3:ListBucket"));
        assert!(matches!(
            Call::ListObjectsV2.failed(&object, answer(404, Some("NoSuchBucket"))),
            S3Error::NoSuchBucket { request: "ListObjectsV2", object: o } if o == object
        ));
        assert!(matches!(
            Call::GetObject.failed(&object, answer(404, Some("NoSuchKey"))),
            S3Error::NoSuchKey { object: o, .. } if o == object
        ));
        for (status, code) in [(503, Some("SlowDown")), (503, None), (400, Some("Throttling"))] {
            let e = said(Call::HeadObject.failed(&object, answer(status, code)));
            assert!(e.contains("throttled, still after the SDK's retries"), "{e}");
        }
        let e = said(Call::HeadObject.failed(&object, answer(500, Some("InternalError"))));
        assert_eq!(e, "HeadObject s3://bucket/some/key: HTTP 500: the store's words");
        let timeout: SdkError<HeadObjectError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(said(Call::HeadObject.failed(&object, timeout)).contains("--timeout"));
    }

    #[test]
    fn a_missing_credential_says_where_credentials_come_from() {
        let e = std::io::Error::other("no credentials found in chain. Attempted: Environment");
        let said = causes(&e);
        assert!(said.starts_with("no credentials: set AWS_ACCESS_KEY_ID"), "{said}");
        assert!(said.contains("--no-sign-request"), "{said}");
    }

    #[test]
    fn answers_are_handed_over_in_listing_order_whatever_order_s3_settles_them_in() {
        let (tx, rx) = mpsc::channel::<(u64, Checked)>();
        let mut queue =
            Queue { waiting: VecDeque::new(), done: HashMap::new(), next: 0, counts: Default::default() };
        let checked = |k: &str| Checked::new(Entry::new(k));
        // 0 ready, 1 and 2 waiting on S3, 3 ready.
        queue.waiting.push_back(Slot::Ready(Box::new(checked("a"))));
        queue.waiting.push_back(Slot::Pending(1));
        queue.waiting.push_back(Slot::Pending(2));
        queue.waiting.push_back(Slot::Ready(Box::new(checked("d"))));
        let mut out = Vec::new();
        let mut hand = |c: Checked, _: &mut Queue| {
            out.push(String::from_utf8(c.key).unwrap());
            ControlFlow::Continue(())
        };
        let _ = queue.flush(&rx, false, &mut hand);
        tx.send((2, checked("c"))).unwrap();
        let _ = queue.flush(&rx, false, &mut hand);
        tx.send((1, checked("b"))).unwrap();
        let _ = queue.flush(&rx, true, &mut hand);
        assert_eq!(out, ["a", "b", "c", "d"]);
        assert!(queue.waiting.is_empty() && queue.done.is_empty());
    }

    #[test]
    fn only_answers_that_s3_can_settle_are_sent_to_it() {
        let report = |verdict, needs: Vec<Need>| {
            let mut c = Checked::new(Entry::new("k"));
            let mut r = crate::verify::verify_reader(
                &b""[..],
                Some(0),
                None,
                &VerifyOptions::default(),
                &ReadOptions::default(),
                &NoProgress,
            );
            if r.is_err() {
                // Nothing to verify against: build the answer from a file's own ETag.
                r = crate::verify::verify_reader(
                    &b"x"[..],
                    Some(1),
                    &crate::etag::RemoteEtag::parse("9dd4e461268c8034f5c8564e155c67a6").unwrap(),
                    &VerifyOptions::default(),
                    &ReadOptions::default(),
                    &NoProgress,
                );
            }
            let mut r = r.unwrap();
            r.verdict = verdict;
            r.needs = needs;
            c.outcome = Outcome::Verified(Box::new(r));
            c
        };
        assert!(!needs_s3(&report(Verdict::Match, vec![])));
        assert!(needs_s3(&report(Verdict::Mismatch, vec![Need::Encryption, Need::Checksum])));
        assert!(!needs_s3(&report(Verdict::Mismatch, vec![])));
        assert!(needs_s3(&report(Verdict::Inconclusive, vec![Need::PartSize])));
        assert!(!needs_s3(&report(Verdict::Inconclusive, vec![Need::RemoteSize])));
        assert!(!needs_s3(&Checked::new(Entry::new("missing"))));
    }
}
