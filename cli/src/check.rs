//! `etagsum check`: checkfiles (the `md5sum -c` habit) and bucket listings checked against a
//! local tree. The library checks; this module prints one line (or one JSON object) per object,
//! the summary, and decides the exit status.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use etagsum::listing::{
    self, checkfile::Checkfile, inventory::Inventory, s3api::KeyEncoding, s3api::ListObjectsV2, CheckError,
    CheckOptions, CheckSummary, Checked, Counts, Format, Kind, ListingError, Outcome, Root, Shard, Source,
};
use etagsum::ReadOptions;
use serde_json::{json, Value};

use crate::diag::diag;
use crate::escape::{self, file_line, shown};
use crate::exit::Exit;
use crate::output::{Stdout, StdoutError};
use crate::progress::CheckBar;
use crate::render;

#[derive(Args, Debug)]
#[command(after_long_help = SHARD_HELP)]
pub(crate) struct CheckArgs {
    /// Checkfiles written by `etagsum hash` (`-` reads standard input). Names are read relative
    /// to the working directory, as md5sum reads them. With --root: s3://BUCKET/PREFIX, the
    /// objects under PREFIX listed live (ListObjectsV2) and checked against DIR.
    #[arg(value_name = "CHECKFILE", required_unless_present = "listing", conflicts_with = "listing")]
    pub(crate) checkfiles: Vec<PathBuf>,
    /// A bucket listing: the JSON printed by `aws s3api list-objects-v2` (`-` reads it from
    /// standard input), or an S3 Inventory report's manifest.json (its data files beside it, as
    /// `aws s3 sync` lays them out, or s3://BUCKET/KEY/manifest.json, read from the bucket).
    #[arg(long, value_name = "FILE", requires = "root")]
    pub(crate) listing: Option<PathBuf>,
    /// The local copy of the bucket: each key (without the prefix) is a path beneath DIR. No key
    /// and no symlink opens a file outside it.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Check only keys under the folder P, and cut P off before joining the key to DIR (other
    /// keys are skipped and counted). P names a folder: `data` is read as `data/`, as `aws s3
    /// sync s3://BUCKET/data DIR` reads it.
    #[arg(long, value_name = "P", requires = "listing", conflicts_with = "checkfiles")]
    pub(crate) prefix: Option<OsString>,
    /// The keys of the listing are URL-encoded: it was made with `aws s3api list-objects-v2
    /// --encoding-type url` (nothing in the JSON says so). S3 Inventory CSV keys are always
    /// decoded.
    #[arg(long, value_name = "TYPE", value_parser = ["url"], requires = "listing", conflicts_with = "checkfiles")]
    encoding_type: Option<String>,
    /// Also report files under DIR that the listing does not name (EXTRA).
    #[arg(long, requires = "root")]
    pub(crate) extra: bool,
    /// Check only shard K of N (K from 1 to N), chosen by a hash of the key: N runs with 1/N … N/N
    /// check every key exactly once, and their --json outputs concatenate into one run's.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub(crate) shard: Option<Shard>,
    /// One JSON object per object and line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Do not print OK lines (nor, with --json, the objects that match).
    #[arg(long)]
    pub(crate) quiet: bool,
    /// With s3://: objects settled with S3 requests at once, at most (a plain MD5 that differs is
    /// confirmed with HeadObject; the parts of a multipart ETag are read).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) jobs: u16,
    #[command(flatten)]
    pub(crate) s3: crate::s3::S3Args,
}

const SHARD_HELP: &str = "\
Lines: NAME: OK (...), NAME: MISMATCH (...), NAME: INCONCLUSIVE (...), NAME: MISSING, NAME: EXTRA or \
NAME: FAILED (why). A summary goes to standard error.

Exit status: 0 every object OK; 1 a mismatch, a missing or an extra file; 2 an error (a bad line, a key \
that cannot name a file, an unreadable file, a listing that cannot be read); 3 an inconclusive answer and \
nothing worse.

Sharding: K is 1-based. A Kubernetes Indexed Job (JOB_COMPLETION_INDEX from 0 to N-1) runs \
--shard $((JOB_COMPLETION_INDEX + 1))/N; an AWS Batch array job the same with AWS_BATCH_JOB_ARRAY_INDEX; \
a Slurm job array started with --array=1-N runs --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT \
(for --array=0-M: $((SLURM_ARRAY_TASK_ID + 1))/$SLURM_ARRAY_TASK_COUNT).";

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse().map_err(|e: etagsum::listing::ShardError| e.to_string())
}

/// What the run has seen so far.
#[derive(Default)]
pub(crate) struct Tally {
    counts: Counts,
    status: Exit,
    summary: CheckSummary,
    /// Keys under the prefix (checked or in other shards).
    under_prefix: u64,
    /// The listing is one page of a longer one (set by the reader when it ends).
    truncated: Arc<AtomicBool>,
    /// Extra files were looked for, but the listing is not the whole bucket.
    extra_refused: bool,
}

/// Prints outcomes as they come.
pub(crate) struct Printer<'a> {
    out: Stdout,
    json: bool,
    quiet: bool,
    /// The keys are S3 keys (a listing), which the advice may name.
    keyed: bool,
    bar: &'a CheckBar,
    /// The first failed write to standard output: the run stops, and it is the run's error.
    failed: Option<StdoutError>,
}

pub(crate) fn run(args: &CheckArgs, read: &ReadOptions, progress: bool) -> Result<Exit> {
    let started = Instant::now();
    let mut tally = Tally::default();
    let bar = CheckBar::new(progress);
    let mut printer = Printer {
        out: Stdout::lock(),
        json: args.json,
        quiet: args.quiet,
        keyed: args.listing.is_some() || args.root.is_some(),
        bar: &bar,
        failed: None,
    };
    let remote = args.checkfiles.iter().any(|c| crate::s3::is_url(c));
    if args.root.is_some() && args.listing.is_none() && !remote {
        anyhow::bail!("--root DIR checks a listing: give --listing FILE, or s3://BUCKET/PREFIX");
    }
    match &args.listing {
        _ if remote => {
            let [url] = &args.checkfiles[..] else {
                anyhow::bail!("s3://BUCKET/PREFIX is checked alone: give one, and no checkfile beside it");
            };
            let Some(root) = args.root.as_deref() else {
                anyhow::bail!("{}: a bucket is checked against a local copy: give --root DIR", shown(url));
            };
            // The URL's prefix, a folder as --prefix is.
            let (_, prefix) = crate::s3::parse_url(url, "PREFIX")?;
            let opts = tree_options(args, root, Some(prefix.as_bytes()))?;
            let tree = crate::s3::Tree::Prefix;
            let result = crate::s3::check_tree(tree, url, args, &opts, read, &bar, &mut printer, &mut tally);
            let listed = result.is_ok();
            report_tree(result, url, &opts, &bar, &mut tally);
            // An empty prefix is most often a mistyped one: never a clean pass.
            if listed && tally.under_prefix == 0 {
                diag!(
                    "etagsum: {}: no object under this prefix (read as a folder): nothing was checked; to check \
                     one object, use etagsum verify FILE s3://BUCKET/KEY",
                    shown(url)
                );
                tally.status = tally.status.merge(Exit::Error);
            }
        }
        Some(listing) => {
            let root = args.root.as_deref().expect("clap requires --root with --listing");
            let prefix = args.prefix.as_ref().map(|p| escape::raw(Path::new(p)));
            let opts = tree_options(args, root, prefix.as_deref())?;
            let result = if crate::s3::is_url(listing) {
                let tree = crate::s3::Tree::Inventory;
                crate::s3::check_tree(tree, listing, args, &opts, read, &bar, &mut printer, &mut tally)
            } else {
                let encoding = match args.encoding_type.as_deref() {
                    Some("url") => KeyEncoding::Url,
                    _ => KeyEncoding::AsPrinted,
                };
                check_listing(listing, encoding, &opts, read, &bar, &mut printer, &mut tally)
            };
            report_tree(result, listing, &opts, &bar, &mut tally);
        }
        None => {
            let mut opts = CheckOptions::default();
            opts.shard = args.shard;
            for name in &args.checkfiles {
                let before = (tally.counts.total(), tally.summary.other_shards);
                let result = check_checkfile(name, &opts, read, &bar, &mut printer, &mut tally);
                if printer.failed.is_some() {
                    break;
                }
                match result {
                    Err(e) => {
                        bar.clear();
                        diag!("etagsum: {e:#}");
                        tally.status = tally.status.merge(Exit::Error);
                    }
                    Ok(()) if (tally.counts.total(), tally.summary.other_shards) == before => {
                        diag!("etagsum: {}: no checksum lines found", shown(name));
                        tally.status = tally.status.merge(Exit::Error);
                    }
                    Ok(()) => {}
                }
            }
        }
    }
    bar.clear();
    if let Some(e) = printer.failed.take() {
        return Err(e.into());
    }
    printer.out.flush()?;
    diag!("etagsum: {}", summary_line(&tally, bar.bytes(), started.elapsed().as_secs_f64()));
    Ok(tally.status)
}

/// The options of a tree check: the root opened, the prefix (of --prefix or the URL) as a folder,
/// --extra, --shard.
fn tree_options(args: &CheckArgs, root: &Path, prefix: Option<&[u8]>) -> Result<CheckOptions> {
    let opened =
        Root::open(root).with_context(|| format!("{}: cannot open the root directory", shown(root)))?;
    let mut opts = CheckOptions::default();
    opts.root = Some(opened);
    opts.prefix = prefix.unwrap_or_default().to_vec();
    // What is left of a key is a path beneath DIR, so the prefix is a folder: cut off
    // `data` alone, `data/x` would be `/x` and `database` would be `base`.
    if !opts.prefix.is_empty() && !opts.prefix.ends_with(b"/") {
        opts.prefix.push(b'/');
    }
    opts.extra = args.extra;
    opts.shard = args.shard;
    Ok(opts)
}

/// Says what went wrong with a tree check's listing as a whole.
fn report_tree(
    result: Result<(), ListingError>,
    listing: &Path,
    opts: &CheckOptions,
    bar: &CheckBar,
    tally: &mut Tally,
) {
    if let Err(e) = result {
        bar.clear();
        diag!("etagsum: {e}");
        tally.status = tally.status.merge(Exit::Error);
    }
    if tally.truncated.load(Ordering::Relaxed) {
        diag!(
            "etagsum: {}: the listing is one page of a longer one (IsTruncated, NextToken): objects on \
             the other pages were not checked",
            shown(listing)
        );
    }
    if tally.extra_refused {
        diag!(
            "etagsum: {}: --extra needs the whole listing (the aws cli lists every page unless told \
             --no-paginate or --max-items): no file was reported as extra",
            shown(listing)
        );
        tally.status = tally.status.merge(Exit::Error);
    }
    if tally.under_prefix == 0 && tally.summary.outside_prefix > 0 {
        diag!(
            "etagsum: no key of the listing starts with the prefix {}: nothing was checked",
            shown(Path::new(&escape_os(&opts.prefix)))
        );
        tally.status = tally.status.merge(Exit::Error);
    }
}

fn check_listing(
    listing: &Path,
    encoding: KeyEncoding,
    opts: &CheckOptions,
    read: &ReadOptions,
    bar: &CheckBar,
    printer: &mut Printer<'_>,
    tally: &mut Tally,
) -> Result<(), ListingError> {
    let truncated = Arc::clone(&tally.truncated);
    // `aws s3api list-objects-v2 ... | etagsum check --listing - ...`: read once, no total.
    if listing.as_os_str() == "-" {
        if crate::sys::stdin_was_closed() {
            let source = io::Error::other("standard input is closed");
            return Err(ListingError::Io { path: listing.to_path_buf(), source });
        }
        let pages = ListObjectsV2::new(io::stdin(), "-").key_encoding(encoding);
        return drive(Paged { pages, truncated }, opts, read, bar, printer, tally);
    }
    // A pipe (`--listing <(aws s3api list-objects-v2 ...)`) or a device can be read only once:
    // sniffing its first bytes would take them from the listing, and a second reader (the
    // count ahead) would take the rest. It is read once, as list-objects-v2 JSON: an inventory
    // manifest has its data files beside it, which a pipe has not.
    let meta = std::fs::metadata(listing)
        .map_err(|source| ListingError::Io { path: listing.to_path_buf(), source })?;
    if !meta.is_file() && !meta.is_dir() {
        let file =
            File::open(listing).map_err(|source| ListingError::Io { path: listing.to_path_buf(), source })?;
        let pages = ListObjectsV2::new(file, listing).key_encoding(encoding);
        return drive(Paged { pages, truncated }, opts, read, bar, printer, tally);
    }
    let format = listing::sniff(listing)?;
    let open = || -> Result<Box<dyn SendSource>, ListingError> {
        Ok(match format {
            Format::Inventory => Box::new(Inventory::open(listing)?),
            _ => {
                let file = File::open(listing)
                    .map_err(|source| ListingError::Io { path: listing.to_path_buf(), source })?;
                let pages = ListObjectsV2::new(file, listing).key_encoding(encoding);
                Box::new(Paged { pages, truncated: Arc::clone(&truncated) })
            }
        })
    };
    let source = open()?;
    with_counter(bar, opts, || open().ok(), || drive(source, opts, read, bar, printer, tally))
}

fn check_checkfile(
    name: &Path,
    opts: &CheckOptions,
    read: &ReadOptions,
    bar: &CheckBar,
    printer: &mut Printer<'_>,
    tally: &mut Tally,
) -> Result<()> {
    if name.as_os_str() == "-" {
        crate::check_stdin()?;
        let source = Checkfile::new(BufReader::new(io::stdin()), "-");
        drive(source, opts, read, bar, printer, tally)?;
        return Ok(());
    }
    let open = || -> Result<(Box<dyn SendSource>, bool)> {
        let file = File::open(name).with_context(|| shown(name))?;
        let meta = file.metadata().with_context(|| shown(name))?;
        if meta.is_dir() {
            anyhow::bail!("{}: is a directory, not a checkfile", shown(name));
        }
        Ok((Box::new(Checkfile::new(BufReader::new(file), name)), meta.is_file()))
    };
    let (source, regular) = open()?;
    // A pipe (`etagsum check <(...)`) or a device can be read only once: a second reader
    // counting ahead would take lines from the check, which would never see them.
    if !regular {
        drive(source, opts, read, bar, printer, tally)?;
        return Ok(());
    }
    let second = || open().ok().filter(|(_, regular)| *regular).map(|(source, _)| source);
    with_counter(bar, opts, second, || drive(source, opts, read, bar, printer, tally))?;
    Ok(())
}

/// A list-objects-v2 listing that tells, once read, whether it was one page of a longer one.
struct Paged<R> {
    pages: ListObjectsV2<R>,
    truncated: Arc<AtomicBool>,
}

impl<R: io::Read> Source for Paged<R> {
    fn read(self, sink: &mut listing::Sink<'_>) -> Result<listing::Skipped, ListingError> {
        let summary = self.pages.read_listing(sink)?;
        if summary.truncated {
            self.truncated.store(true, Ordering::Relaxed);
        }
        Ok(summary.skipped)
    }
}

/// A source the counting thread can take.
trait SendSource: Send + 'static {
    fn read_boxed(self: Box<Self>, sink: &mut listing::Sink<'_>) -> Result<listing::Skipped, ListingError>;
}

impl<S: Source + Send + 'static> SendSource for S {
    fn read_boxed(self: Box<Self>, sink: &mut listing::Sink<'_>) -> Result<listing::Skipped, ListingError> {
        (*self).read(sink)
    }
}

impl Source for Box<dyn SendSource> {
    fn read(self, sink: &mut listing::Sink<'_>) -> Result<listing::Skipped, ListingError> {
        self.read_boxed(sink)
    }
}

/// Runs `work` while, when a bar is drawn, a second reader of the same input counts the objects
/// and bytes ahead (in a thread of its own, left behind if the run ends first), so that the bar
/// can show how much is left.
fn with_counter<T>(
    bar: &CheckBar,
    opts: &CheckOptions,
    second: impl FnOnce() -> Option<Box<dyn SendSource>>,
    work: impl FnOnce() -> T,
) -> T {
    if !bar.is_drawn() {
        return work();
    }
    let Some(source) = second() else { return work() };
    // The counter selects as the check does, without the root.
    let mut select = CheckOptions::default();
    select.prefix = opts.prefix.clone();
    select.shard = opts.shard;
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let bar2 = bar.clone();
    let spawned = std::thread::Builder::new().name("etagsum-count".into()).spawn(move || {
        let (mut objects, mut bytes, mut sized) = (0u64, 0u64, true);
        let read = source.read(&mut |e| {
            if flag.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            match e {
                Ok(e) if select.selects(&e) => {
                    objects += 1;
                    match e.size {
                        Some(s) => bytes = bytes.saturating_add(s),
                        None => sized = false,
                    }
                }
                Ok(_) => {}
                Err(_) => objects += 1,
            }
            ControlFlow::Continue(())
        });
        if read.is_ok() && !flag.load(Ordering::Relaxed) {
            bar2.set_total(objects, sized.then_some(bytes));
        }
    });
    // No thread to spare: the bar goes without a total.
    drop(spawned);
    let result = work();
    done.store(true, Ordering::Relaxed);
    result
}

/// Checks one source, printing each object as it comes.
fn drive<S: Source + Send>(
    source: S,
    opts: &CheckOptions,
    read: &ReadOptions,
    bar: &CheckBar,
    printer: &mut Printer<'_>,
    tally: &mut Tally,
) -> Result<(), ListingError> {
    drive_with(|on| listing::check(source, opts, read, bar, on), bar, printer, tally)
}

/// Runs a check (`listing::check` or the S3 one), printing each object as it comes.
pub(crate) fn drive_with(
    check: impl FnOnce(&mut dyn FnMut(Checked) -> ControlFlow<()>) -> Result<CheckSummary, ListingError>,
    bar: &CheckBar,
    printer: &mut Printer<'_>,
    tally: &mut Tally,
) -> Result<(), ListingError> {
    let result = check(&mut |c| {
        // Extra files come after the whole listing was read: from one page, they would be false
        // alarms.
        if c.outcome.kind() == Kind::Extra && tally.truncated.load(Ordering::Relaxed) {
            tally.extra_refused = true;
            return ControlFlow::Break(());
        }
        tally.counts.add(c.outcome.kind());
        tally.status = tally.status.merge(exit_of(c.outcome.kind()));
        bar.object_done(&c);
        printer.print(&c)
    });
    // The outcomes were counted as they came; the summary adds what was skipped.
    if let Ok(s) = &result {
        add_summary(&mut tally.summary, s);
        // Extra files are no keys: a prefix that names none is a mistake, even with --extra.
        tally.under_prefix += s.counts.total() - s.counts.extra + s.other_shards + s.folder_markers;
    }
    result.map(|_| ())
}

fn add_summary(total: &mut CheckSummary, s: &CheckSummary) {
    total.skipped += s.skipped;
    total.outside_prefix += s.outside_prefix;
    total.folder_markers += s.folder_markers;
    total.other_shards += s.other_shards;
}

fn exit_of(kind: Kind) -> Exit {
    match kind {
        Kind::Match => Exit::Ok,
        Kind::Mismatch | Kind::Missing | Kind::Extra => Exit::Mismatch,
        Kind::Inconclusive => Exit::Inconclusive,
        _ => Exit::Error,
    }
}

/// `OK`, `MISMATCH`, `INCONCLUSIVE`, `MISSING`, `EXTRA`, `FAILED`.
fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Match => "OK",
        Kind::Mismatch => "MISMATCH",
        Kind::Inconclusive => "INCONCLUSIVE",
        Kind::Missing => "MISSING",
        Kind::Extra => "EXTRA",
        _ => "FAILED",
    }
}

/// The name a line shows: the local path, else the key, else where the record was read.
fn name_of(c: &Checked) -> Vec<u8> {
    match (&c.path, &c.at) {
        (Some(p), _) => escape::raw(p).into_owned(),
        (None, Some(at)) if c.key.is_empty() => escape::raw(&PathBuf::from(at.to_string())).into_owned(),
        _ => c.key.clone(),
    }
}

/// The text in parentheses, if any.
/// `key`: the object's S3 key, for the advice (listings only: a checkfile names local files).
fn explanation(c: &Checked, path: &Path, key: Option<&[u8]>) -> Option<String> {
    match &c.outcome {
        Outcome::Verified(r) => Some(render::explain_with(r, path, false, key)),
        Outcome::NoEtag { size_differs: true } => Some(format!(
            "the listing gives no ETag, and the remote object has {}, the local file {}",
            render::count(c.size.unwrap_or(0), "byte"),
            c.local_size.unwrap_or(0)
        )),
        Outcome::NoEtag { .. } => Some(
            "the listing gives no ETag to compare the bytes with (an S3 Inventory without the ETag field?)"
                .to_string(),
        ),
        Outcome::Error(e) => Some(e.to_string()),
        _ => None,
    }
}

impl Printer<'_> {
    fn print(&mut self, c: &Checked) -> ControlFlow<()> {
        let kind = c.outcome.kind();
        if let Outcome::Verified(r) = &c.outcome {
            if !self.json {
                let path = c.path.clone().unwrap_or_default();
                for w in &r.warnings {
                    self.bar.suspend(|| {
                        diag!("etagsum: warning: {}: {}", shown(&path), render::warning(w, r.size))
                    });
                }
            }
        }
        if self.quiet && kind == Kind::Match {
            return ControlFlow::Continue(());
        }
        let line = if self.json {
            let mut line = object_json(c, self.keyed).to_string().into_bytes();
            line.push(b'\n');
            line
        } else {
            let name = name_of(c);
            let path = PathBuf::from(escape_os(&name));
            let key = self.keyed.then_some(c.key.as_slice());
            let after = match explanation(c, &path, key) {
                Some(x) => format!(": {} ({x})", label(kind)),
                None => format!(": {}", label(kind)),
            };
            file_line(b"", &name, after.as_bytes())
        };
        match self.bar.write_line(&mut self.out, &line) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// A path from raw name bytes.
fn escape_os(bytes: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(bytes).to_os_string()
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// One object as JSON: the same keys on every line. `keyed`: the keys are S3 keys (a listing).
fn object_json(c: &Checked, keyed: bool) -> Value {
    let key = keyed.then_some(c.key.as_slice());
    let kind = c.outcome.kind();
    let path = c.path.as_deref();
    let mut fields = serde_json::Map::new();
    fields.insert("key".into(), json!(String::from_utf8_lossy(&c.key)));
    fields.insert("path".into(), json!(path.map(escape::json_path)));
    let mut v = match &c.outcome {
        Outcome::Verified(r) => render::report_json(r, path.unwrap_or(Path::new("")), key, fields),
        other => {
            let (reason, code) = match other {
                Outcome::Missing => ("no local file".to_string(), "missing"),
                Outcome::Extra => ("a local file the listing does not name".to_string(), "extra"),
                Outcome::NoEtag { .. } => (
                    explanation(c, Path::new(""), None).unwrap_or_default(),
                    if kind == Kind::Mismatch { "size_differs" } else { "no_etag" },
                ),
                Outcome::Error(e) => (e.to_string(), error_code(e)),
                _ => (String::new(), "unknown"),
            };
            fields.insert("remote_etag".into(), json!(c.remote_etag.as_deref().map(unquote)));
            fields.insert("computed_etag".into(), Value::Null);
            fields.insert("layout".into(), Value::Null);
            fields.insert("uploaders".into(), json!([]));
            fields.insert("reason".into(), json!(reason));
            fields.insert("reason_code".into(), json!(code));
            fields.insert("needs".into(), json!([]));
            fields.insert("advice".into(), Value::Null);
            fields.insert("tried".into(), json!(0));
            fields.insert("warnings".into(), json!([]));
            fields.insert("checksums".into(), json!([]));
            Value::Object(fields)
        }
    };
    let map = v.as_object_mut().expect("an object");
    // `size` is the listed size; `local_size` the file's (report_json's `size` is the bytes read).
    map.insert("size".into(), json!(c.size));
    map.insert(
        "local_size".into(),
        json!(c.local_size.or(match &c.outcome {
            Outcome::Verified(r) => Some(r.size),
            _ => None,
        })),
    );
    map.insert("verdict".into(), json!(kind.as_str()));
    map.insert(
        "error".into(),
        json!(match &c.outcome {
            Outcome::Error(e) => Some(e.to_string()),
            _ => None,
        }),
    );
    map.insert("at".into(), json!(c.at.as_ref().map(|a| a.to_string())));
    if c.requests > 0 {
        map.insert("requests".into(), json!(c.requests));
    }
    if std::str::from_utf8(&c.key).is_err() {
        use base64::Engine as _;
        map.insert("key_bytes".into(), json!(base64::engine::general_purpose::STANDARD.encode(&c.key)));
    }
    if let Some(p) = path {
        escape::add_path_bytes(&mut v, p);
    }
    v
}

/// A listed ETag without its quotes, as the verdicts show ETags.
fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// A stable name for each kind of error.
fn error_code(e: &CheckError) -> &'static str {
    match e {
        CheckError::BadEntry(_) => "bad_entry",
        CheckError::Key(_) => "bad_key",
        CheckError::Open(_) => "unreadable",
        CheckError::Etag(_) => "bad_etag",
        CheckError::Checksum(_) => "bad_checksum",
        CheckError::Verify(_) => "unreadable",
        CheckError::Walk(_) => "unreadable",
        CheckError::Remote(_) => "s3_error",
        _ => "error",
    }
}

/// `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `655 MB`, `2.1 GB`: decimal units, three significant digits.
fn decimal(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{} bytes", bytes as u64)
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

fn summary_line(t: &Tally, bytes: u64, seconds: f64) -> String {
    let parts: Vec<String> = Kind::ALL
        .iter()
        .filter(|&&k| t.counts.get(k) > 0)
        .map(|&k| format!("{} {}", thousands(t.counts.get(k)), label(k)))
        .collect();
    let mut s = if parts.is_empty() { "no object checked".to_string() } else { parts.join(", ") };
    // A rate of nothing says nothing.
    let rate = if seconds > 0.0 && bytes > 0 {
        format!(" ({}/s)", decimal(bytes as f64 / seconds))
    } else {
        String::new()
    };
    s.push_str(&format!("; {} read in {seconds:.2} s{rate}", decimal(bytes as f64)));
    let sk = &t.summary;
    let skipped: Vec<String> = [
        (sk.outside_prefix, "key outside the prefix", "keys outside the prefix"),
        (sk.folder_markers, "folder marker", "folder markers"),
        (sk.other_shards, "key of other shards", "keys of other shards"),
        (sk.skipped.delete_markers, "delete marker", "delete markers"),
        (sk.skipped.old_versions, "old version", "old versions"),
        (sk.skipped.blank_lines, "blank or comment line", "blank or comment lines"),
    ]
    .iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| format!("{} {}", thousands(*n), if *n == 1 { one } else { many }))
    .collect();
    if !skipped.is_empty() {
        s.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(9_998), "9,998");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(decimal(0.0), "0 bytes");
        assert_eq!(decimal(999.0), "999 bytes");
        assert_eq!(decimal(655_360_000.0), "655 MB");
        assert_eq!(decimal(2.1e9), "2.1 GB");
    }

    #[test]
    fn missing_and_extra_count_as_mismatch() {
        assert_eq!(exit_of(Kind::Missing), Exit::Mismatch);
        assert_eq!(exit_of(Kind::Extra), Exit::Mismatch);
        assert_eq!(exit_of(Kind::Error), Exit::Error);
        assert_eq!(exit_of(Kind::Inconclusive), Exit::Inconclusive);
    }
}
