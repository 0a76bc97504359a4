//! The `etagsum` command: compute and verify Amazon S3 ETags for local files.
//!
//! Arguments, rendering and exit statuses. All computing is the library's.

mod check;
mod diag;
mod escape;
mod exit;
mod generate;
mod output;
mod progress;
mod render;
mod s3;
mod sys;

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use etagsum::checksum::{self as checksums, Algorithm};
use etagsum::guess::{self, Guess};
use etagsum::listing::checkfile;
use etagsum::uploaders::{self, Uploader};
use etagsum::{
    engine, parse_size, Checksum, ChecksumRequest, ChecksumType, Etag, KernelChoice, Layout, Progress,
    ReadOptions, RemoteEtag, Sse, VerifyError, VerifyOptions,
};
use serde_json::json;

use diag::diag;
use escape::{file_line, shown};
use exit::Exit;
use generate::Generate;
use output::{Stdout, StdoutError};
use progress::Bar;
use render::{describe, layout_json};

/// Compute and verify Amazon S3 ETags (single-part and multipart) for local files.
#[derive(Parser, Debug)]
///
/// File names that hold a backslash, a newline or a carriage return are escaped in line output as
/// md5sum escapes them: the line starts with a backslash, and `\\`, `\n`, `\r` stand for those
/// bytes. In JSON, `path` is the name (lossy where it is not UTF-8) and, for a name that is not
/// UTF-8, `path_bytes` holds its exact bytes in base64.
#[command(name = "etagsum", version, about, long_about, max_term_width = 100)]
#[command(
    after_help = "The man page and shell completions: etagsum --generate man|complete-bash|complete-zsh|\
complete-fish|complete-powershell|complete-elvish"
)]
struct Cli {
    /// Hash with N threads, 1 to 256 (default: one per core, at most 256).
    #[arg(long, global = true, value_name = "N", value_parser = parse_threads)]
    threads: Option<usize>,
    /// Never draw a progress bar.
    #[arg(long, global = true)]
    no_progress: bool,
    /// Print the man page or a shell completion script (generated from these definitions) and exit.
    #[arg(long, value_name = "KIND", value_enum, conflicts_with = "threads")]
    generate: Option<Generate>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// More threads than this cannot be busy: the engine reads a window of a few MiB at a time, and a
/// number typed by mistake (100000) would spend minutes starting threads.
const MAX_THREADS: usize = 256;

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of threads from 1 to {MAX_THREADS}")),
    }
}

/// A ContentLength: the plain number of bytes S3 reports. A suffix is refused rather than read,
/// because `8MB` could mean 8000000 or 8388608 and either reading makes a false alarm of the other.
fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    s.parse().map_err(|e: checksums::AlgorithmError| e.to_string())
}

fn parse_checksum_type(s: &str) -> Result<ChecksumType, String> {
    s.parse().map_err(|e: checksums::ChecksumTypeError| e.to_string())
}

/// `ALG=VALUE`: an algorithm name and a value as S3 shows it (base64 has `=` only as padding, at
/// the end, so the first `=` ends the name).
fn parse_checksum(s: &str) -> Result<Checksum, String> {
    let (name, value) = s.split_once('=').ok_or_else(|| {
        format!("'{s}' is not ALG=VALUE; expected e.g. crc32=y/Q5Jg== or crc64nvme=rosUhgp5mIg=")
    })?;
    let algorithm = parse_algorithm(name)?;
    Checksum::parse(algorithm, value).map_err(|e| match value.contains(',') {
        true => format!("{e} (give several values with one --checksum each)"),
        false => e.to_string(),
    })
}

fn parse_content_length(s: &str) -> Result<u64, String> {
    const EXPECTED: &str = "a ContentLength is a plain number of bytes, e.g. 8000000";
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED.to_string());
    }
    s.parse().map_err(|_| format!("the number does not fit in 64 bits; {EXPECTED}"))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the ETag S3 would give each file: `<etag>  <path>`, as md5sum prints; `etagsum check`
    /// reads the output back.
    ///
    /// The default layout is the aws cli's: a single PUT below 8 MiB, 8 MiB parts from 8 MiB on
    /// (doubled for files that would need more than 10,000 parts).
    Hash(HashArgs),
    /// Check a file against the ETag S3 reports for it: OK, MISMATCH or INCONCLUSIVE.
    ///
    /// Exit status: 0 OK, 1 mismatch, 2 error, 3 inconclusive.
    Verify(VerifyArgs),
    /// List every part layout that reproduces a remote ETag, and the uploaders that use it.
    Guess(GuessArgs),
    /// Check many files at once: checkfiles written by `etagsum hash`, or a bucket listing
    /// (`aws s3api list-objects-v2` JSON, an S3 Inventory report) against a local tree.
    ///
    /// Exit status: 0 all OK, 1 a mismatch, a missing or an extra file, 2 an error, 3 inconclusive.
    Check(check::CheckArgs),
    /// Print the catalog of uploaders whose part sizes etagsum knows.
    Uploaders {
        /// One JSON object per uploader and line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct HashArgs {
    /// Multipart with parts of SIZE bytes (8388608, 8MiB, 8M; 8MB means 8 MiB as the aws cli reads
    /// it), even for a file that fits one part (`-1`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, group = "how")]
    part_size: Option<u64>,
    /// The layout this uploader gives at its defaults (see `etagsum uploaders`).
    #[arg(long, value_name = "NAME", group = "how")]
    uploader: Option<String>,
    /// A single PUT: the plain MD5 of the file.
    #[arg(long, group = "how")]
    single: bool,
    /// One JSON object per file and line.
    #[arg(long)]
    json: bool,
    /// Tagged lines that record the size and the layout, `ETAG size=N part-size=P (NAME) = ETAG`,
    /// so that `etagsum check` is definitive for multipart ETags.
    #[arg(long, conflicts_with = "json")]
    tag: bool,
    /// Also compute an additional checksum as S3 stores it: crc32, crc32c, crc64nvme, sha1 or sha256
    /// (repeat, or separate with commas), printed as `ALGORITHM (NAME) = VALUE` after the ETag, all
    /// from one read.
    #[arg(long = "checksum", value_name = "ALG", value_delimiter = ',', value_parser = parse_algorithm)]
    checksums: Vec<Algorithm>,
    /// full or composite. Default: what S3 stores when the upload names no type: composite for a
    /// multipart upload, full-object for a single PUT and always for CRC64NVME.
    #[arg(long, value_name = "TYPE", value_parser = parse_checksum_type, requires = "checksums")]
    checksum_type: Option<ChecksumType>,
    /// Print the checksums only, not the ETag (no MD5 is computed).
    #[arg(long, requires = "checksums")]
    no_etag: bool,
    /// The files; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The local file; `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The ETag S3 reports: abc…, "abc…" or abc…-N, in any case. May be left out when a checksum is
    /// given. Or s3://BUCKET/KEY: the object's ETag, size, encryption and checksums are read from S3
    /// (one HeadObject), and its part sizes when the answer needs them.
    #[arg(value_name = "ETAG", allow_hyphen_values = true, required_unless_present = "checksums")]
    etag: Option<String>,
    /// An additional checksum of the object, as S3 shows it: ALG=VALUE, e.g. crc64nvme=rosUhgp5mIg= or
    /// crc32=y/Q5Jg==-3 (a composite value with or without its -N). Repeat for several. It survives
    /// encryption, so it verifies SSE-KMS and SSE-C objects.
    #[arg(long = "checksum", value_name = "ALG=VALUE", value_parser = parse_checksum)]
    checksums: Vec<Checksum>,
    /// Whether the checksums are full or composite (S3's ChecksumType), if known.
    #[arg(long, value_name = "TYPE", value_parser = parse_checksum_type, requires = "checksums")]
    checksum_type: Option<ChecksumType>,
    /// The remote object's size in bytes (ContentLength, digits only): a different size is a mismatch.
    #[arg(long, value_name = "BYTES", value_parser = parse_content_length)]
    size: Option<u64>,
    /// The part size the object was uploaded with.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "part_sizes")]
    part_size: Option<u64>,
    /// The size of every part, in order, for uploads with uneven parts.
    #[arg(long, value_name = "B1,B2,...", value_delimiter = ',', value_parser = parse_size)]
    part_sizes: Option<Vec<u64>>,
    /// The object was uploaded in a single PUT (its ETag is a plain MD5).
    #[arg(long, conflicts_with_all = ["part_size", "part_sizes"])]
    single: bool,
    /// The object's server-side encryption: none, s3, kms (SSE-KMS, DSSE-KMS) or c (SSE-C).
    #[arg(long, value_name = "KIND", value_parser = clap::value_parser!(Sse))]
    sse: Option<Sse>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// With s3://BUCKET/KEY: this version of the object, not the current one.
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    version_id: Option<String>,
    #[command(flatten)]
    s3: s3::S3Args,
}

#[derive(Args, Debug)]
struct GuessArgs {
    /// The local file; `-` reads standard input, which needs --size.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The ETag S3 reports.
    #[arg(value_name = "ETAG", allow_hyphen_values = true)]
    etag: String,
    /// The size in bytes (ContentLength, digits only), for standard input or a pipe: the part sizes
    /// to try depend on it, so it must be known before reading.
    #[arg(long, value_name = "BYTES", value_parser = parse_content_length)]
    size: Option<u64>,
    /// One JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the command line and turns the outcome into the process's exit status.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    if sys::stdout_was_closed() {
        diag!("etagsum: standard output is closed");
        return ExitCode::from(Exit::Error.code());
    }
    let result = match (cli.generate, &cli.command) {
        (Some(what), None) => print_generated(what),
        (None, Some(command)) => with_pool(cli.threads, || run(command, !cli.no_progress)),
        (Some(_), Some(_)) => {
            return usage_error(
                &Cli::command()
                    .error(clap::error::ErrorKind::ArgumentConflict, "--generate takes no subcommand"),
            )
        }
        (None, None) => {
            return usage_error(&Cli::command().error(
                clap::error::ErrorKind::MissingSubcommand,
                "a subcommand is required (see --help), or --generate",
            ))
        }
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            if e.downcast_ref::<StdoutError>().is_some_and(StdoutError::is_broken_pipe) {
                sys::die_of_broken_pipe();
            }
            diag!("etagsum: {e:#}");
            ExitCode::from(Exit::Error.code())
        }
    }
}

/// Prints a parse error (status 2), or `--help` and `--version` (status 0).
fn usage_error(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    use std::io::Write as _;
    let _ = write!(io::stderr().lock(), "etagsum: {}", text.strip_prefix("error: ").unwrap_or(&text));
    ExitCode::from(Exit::Error.code())
}

/// Runs `f` on a pool of `threads` workers (default: one per core). The pool is always the
/// binary's own: rayon's global pool panics when it cannot start its threads.
fn with_pool(threads: Option<usize>, f: impl FnOnce() -> Result<Exit> + Send) -> Result<Exit> {
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS));
    // The build error displays its io error and also gives it as its source: context on top would
    // print the io error twice with `{:#}`.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| anyhow!("cannot start {n} worker threads: {e}"))?;
    // Threads outside the pool (a tree check's S3 workers, which hash the few objects S3 settles)
    // use rayon's global pool, started on first use: of the size asked for too. Running `f` on the
    // global pool instead (rayon::scope) measured 7% slower on `check --listing`.
    if threads.is_some() {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    pool.install(f)
}

fn print_generated(what: Generate) -> Result<Exit> {
    let text = generate::generate(what, Cli::command()).context("cannot generate the text")?;
    let mut out = Stdout::lock();
    out.write(&text)?;
    out.flush()?;
    Ok(Exit::Ok)
}

fn run(command: &Command, progress: bool) -> Result<Exit> {
    match command {
        Command::Hash(args) => hash(args, progress),
        Command::Verify(args) => verify(args, progress),
        Command::Guess(args) => guess(args, progress),
        Command::Check(args) => check::run(args, &read_options()?, progress),
        Command::Uploaders { json } => print_uploaders(*json),
    }
}

/// The environment variable that forces an MD5 kernel (for tests and benchmarks).
const KERNEL_ENV: &str = "ETAGSUM_KERNEL";

/// How the engine reads: the kernel `ETAGSUM_KERNEL` forces, if any.
fn read_options() -> Result<ReadOptions> {
    let mut read = ReadOptions::default();
    if let Some(v) = std::env::var_os(KERNEL_ENV) {
        let v = v.to_str().ok_or_else(|| anyhow!("{KERNEL_ENV} is not valid UTF-8"))?;
        if !v.trim().is_empty() {
            read.kernel = v.parse().with_context(|| format!("in {KERNEL_ENV}"))?;
        }
        if !read.kernel.is_supported() {
            let supported: Vec<&str> = KernelChoice::supported().iter().map(|k| k.as_str()).collect();
            anyhow::bail!(
                "{KERNEL_ENV}={v}: the {} kernel is not supported by this CPU (supported: {})",
                read.kernel,
                supported.join(", ")
            );
        }
    }
    Ok(read)
}

/// Reports one file's error on standard error; the run goes on with the other files.
fn file_error(path: &Path, e: &dyn std::fmt::Display) -> Exit {
    diag!("etagsum: {}: {e}", shown(path));
    Exit::Error
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Fails when standard input, about to be read for `-`, was closed: read, it would look empty.
fn check_stdin() -> Result<()> {
    if sys::stdin_was_closed() {
        anyhow::bail!("standard input is closed");
    }
    Ok(())
}

/// Why an input whose size is unknown before reading cannot be verified or guessed without --size.
fn size_unknown(path: &Path, what: &str) -> String {
    let which = if is_stdin(path) {
        "the size of standard input is not known before reading it"
    } else {
        "not a regular file (a pipe or a device), so its size is not known before reading it"
    };
    format!("{which}; {what}")
}

/// Files hashed in one call of the engine: small ones share the kernels' lanes.
const HASH_GROUP: usize = 256;

fn hash(args: &HashArgs, progress: bool) -> Result<Exit> {
    let uploader: &Uploader = match &args.uploader {
        Some(name) => uploaders::lookup(name)?,
        None => uploaders::lookup("aws-cli")?,
    };
    let fixed = match (args.part_size, args.single) {
        (Some(p), _) => Some(Layout::uniform(p)?),
        (None, true) => Some(Layout::Single),
        _ => None,
    };
    let mut algorithms: Vec<Algorithm> = Vec::new();
    for a in &args.checksums {
        if !algorithms.contains(a) {
            algorithms.push(*a);
        }
    }
    let how = How { uploader, fixed, algorithms, checksum_type: args.checksum_type, etag: !args.no_etag };
    let read = read_options()?;
    let mut out = Stdout::lock();
    let mut status = Exit::Ok;
    for group in args.files.chunks(HASH_GROUP) {
        let prepared: Vec<Result<Prepared>> = group.iter().map(|p| prepare(p, &how)).collect();
        let jobs: Vec<engine::FileJob<'_>> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .filter_map(|p| {
                Some(engine::FileJob {
                    file: p.file.as_ref()?,
                    size: p.size,
                    layouts: p.etag_layouts(&how),
                    checksums: &p.requests,
                })
            })
            .collect();
        let total = jobs.iter().map(|j| j.size.unwrap_or(0)).sum();
        let bar = Bar::new(&shown(&group[0]), Some(total), progress);
        let mut results = engine::hash_files(&jobs, &read, &bar).into_iter();
        drop(bar);
        for (path, prepared) in group.iter().zip(prepared) {
            let result = prepared.and_then(|p| {
                let hashed = match &p.file {
                    Some(_) => results.next().expect("one result per file")?,
                    None => {
                        let bar = Bar::new("-", None, progress);
                        engine::hash_reader_with(
                            io::stdin(),
                            None,
                            p.etag_layouts(&how),
                            &p.requests,
                            &read,
                            &bar as &dyn Progress,
                        )?
                    }
                };
                settle(&how, p, hashed)
            });
            match result {
                Ok(Settled { etag, layout, size, warnings, checksums }) => {
                    for w in &warnings {
                        diag!("etagsum: warning: {}: {w}", shown(path));
                    }
                    if args.json {
                        let sums: Vec<serde_json::Value> = checksums
                            .iter()
                            .map(|(c, t)| {
                                json!({"algorithm": c.algorithm().name(), "type": t.to_string(), "value": c.to_string()})
                            })
                            .collect();
                        let mut v = json!({
                            "path": escape::json_path(path),
                            "size": size,
                            "etag": etag,
                            "layout": layout_json(Some(&layout), Some(size)),
                            "warnings": warnings,
                            "checksums": sums,
                        });
                        escape::add_path_bytes(&mut v, path);
                        out.print(format_args!("{v}\n"))?;
                        continue;
                    }
                    let name = escape::raw(path);
                    match etag {
                        Some(etag) if args.tag => {
                            out.write(&checkfile::tagged_line(&name, size, &layout, &etag))?
                        }
                        Some(etag) => out.write(&checkfile::plain_line(&name, &etag))?,
                        None => {}
                    }
                    for (c, t) in &checksums {
                        match args.tag {
                            true => {
                                out.write(&checkfile::checksum_tagged_line(&name, size, &layout, c, *t))?
                            }
                            false => out.write(&checkfile::checksum_line(&name, c))?,
                        }
                    }
                }
                Err(e) => status = status.merge(file_error(path, &format!("{e:#}"))),
            }
        }
    }
    out.flush()?;
    Ok(status)
}

/// How `hash` chooses a file's layout, and what it computes.
struct How<'a> {
    uploader: &'a Uploader,
    fixed: Option<Layout>,
    algorithms: Vec<Algorithm>,
    checksum_type: Option<ChecksumType>,
    /// Whether the ETag is wanted.
    etag: bool,
}

impl How<'_> {
    /// The checksum type of `algorithm` on `layout`: the one asked for, else S3's default.
    fn checksum_type(&self, algorithm: Algorithm, layout: &Layout) -> ChecksumType {
        self.checksum_type.unwrap_or_else(|| ChecksumType::s3_default(algorithm, layout))
    }

    /// The checksum `algorithm` on `layout`, if S3 accepts it.
    fn request(&self, algorithm: Algorithm, layout: &Layout) -> Result<ChecksumRequest> {
        let t = self.checksum_type(algorithm, layout);
        checksums::s3_accepts(algorithm, t, layout)
            .map_err(|e| anyhow!("{e} ({})", describe_upload(layout)))?;
        Ok(match t {
            ChecksumType::FullObject => ChecksumRequest::FullObject(algorithm),
            ChecksumType::Composite => ChecksumRequest::Composite(algorithm, layout.clone()),
        })
    }
}

/// "a single PUT", "parts of 8388608 bytes", for messages.
fn describe_upload(layout: &Layout) -> String {
    match layout {
        Layout::Single => "the upload is a single PUT".to_string(),
        l => format!("the upload is multipart, {l}"),
    }
}

/// A file opened for `hash`, with the layouts to hash it for and the checksums to compute (for
/// each algorithm and layout, the index of its request). Standard input has no file.
struct Prepared {
    file: Option<std::fs::File>,
    size: Option<u64>,
    layouts: Vec<Layout>,
    requests: Vec<ChecksumRequest>,
    /// `index[a][l]`: the request of algorithm `a` on layout `l`, when S3 accepts it.
    index: Vec<Vec<Option<usize>>>,
}

impl Prepared {
    fn etag_layouts<'a>(&'a self, how: &How<'_>) -> &'a [Layout] {
        if how.etag {
            &self.layouts
        } else {
            &[]
        }
    }
}

fn prepare(path: &Path, how: &How<'_>) -> Result<Prepared> {
    let (file, size) = if is_stdin(path) {
        check_stdin()?;
        (None, None)
    } else {
        engine::open(path).map(|(f, s)| (Some(f), s))?
    };
    // With the size known, the uploader's layout is computed up front. For a pipe, hash the
    // layouts the uploader can choose without knowing the size and pick one at the end.
    let layouts: Vec<Layout> = match (&how.fixed, size) {
        (Some(l), _) => vec![l.clone()],
        (None, Some(s)) => vec![how.uploader.layout(s).ok_or_else(|| {
            anyhow!(
                "{} cannot upload {s} bytes at its defaults (more than 10,000 parts or over its limits)",
                how.uploader.name
            )
        })?],
        (None, None) => vec![Layout::Single, Layout::uniform(how.uploader.part_size)?],
    };
    let mut requests: Vec<ChecksumRequest> = Vec::new();
    let mut index = Vec::with_capacity(how.algorithms.len());
    for &a in &how.algorithms {
        let mut row = Vec::with_capacity(layouts.len());
        for layout in &layouts {
            let request = match how.request(a, layout) {
                Ok(r) => r,
                // Known before reading: refused now. For a pipe, only if the layout applies.
                Err(e) if layouts.len() == 1 => return Err(e),
                Err(_) => {
                    row.push(None);
                    continue;
                }
            };
            let i = requests.iter().position(|r| *r == request).unwrap_or_else(|| {
                requests.push(request);
                requests.len() - 1
            });
            row.push(Some(i));
        }
        index.push(row);
    }
    Ok(Prepared { file, size, layouts, requests, index })
}

/// What `hash` prints for one file.
struct Settled {
    etag: Option<Etag>,
    layout: Layout,
    size: u64,
    warnings: Vec<String>,
    checksums: Vec<(Checksum, ChecksumType)>,
}

/// Picks the layout that applies to the size read, its ETag and its checksums.
fn settle(how: &How<'_>, p: Prepared, hashed: engine::Hashed) -> Result<Settled> {
    let size = hashed.size;
    let uploader = how.uploader;
    let layouts = p.layouts;
    let index = match layouts.len() {
        1 => 0,
        _ => {
            let want = uploader
                .layout(size)
                .ok_or_else(|| anyhow!("{} cannot upload {size} bytes", uploader.name))?;
            layouts.iter().position(|l| *l == want).ok_or_else(|| {
                anyhow!(
                    "{} would use {want} for {size} bytes, which cannot be known before the end of standard input; \
                     give --part-size",
                    uploader.name
                )
            })?
        }
    };
    let layout = layouts[index].clone();
    let warnings = match how.fixed {
        Some(_) => layout.limit_warnings(size).iter().map(|w| w.to_string()).collect(),
        None => vec![],
    };
    let etag = match how.etag {
        true => Some(hashed.etags.into_iter().nth(index).expect("one result per layout")?),
        false => None,
    };
    let values = hashed.checksums;
    let mut checksums = Vec::with_capacity(how.algorithms.len());
    for (&a, row) in how.algorithms.iter().zip(&p.index) {
        let t = how.checksum_type(a, &layout);
        let i = match row[index] {
            Some(i) => i,
            // Refused for the layout that applies (a pipe): say why.
            None => {
                return Err(how.request(a, &layout).err().unwrap_or_else(|| anyhow!("{a} was not computed")))
            }
        };
        let value = values.get(i).cloned().ok_or_else(|| anyhow!("{a} was not computed"))??;
        checksums.push((value, t));
    }
    Ok(Settled { etag, layout, size, warnings, checksums })
}

fn verify(args: &VerifyArgs, progress: bool) -> Result<Exit> {
    match args.etag.as_deref().map(Path::new) {
        Some(url) if s3::is_url(url) => return s3::verify(args, url, progress),
        _ if args.version_id.is_some() => {
            anyhow::bail!("--version-id names a version of an object: give s3://BUCKET/KEY, not an ETag")
        }
        _ => {}
    }
    let remote = args.etag.as_deref().map(RemoteEtag::parse).transpose()?;
    let remote = remote.as_ref();
    let mut opts = VerifyOptions::default();
    opts.remote_size = args.size;
    opts.sse = args.sse.unwrap_or_default();
    opts.checksums = args.checksums.clone();
    opts.checksum_type = args.checksum_type;
    opts.layout = match (&args.part_size, &args.part_sizes, args.single) {
        (Some(p), _, _) => Some(Layout::uniform(*p)?),
        (None, Some(sizes), _) => Some(Layout::explicit(sizes.clone())?),
        (None, None, true) => Some(Layout::Single),
        _ => None,
    };
    let path = &args.file;
    // The name the library quotes in its advice.
    let name = escape::json_path(path);
    let read = read_options()?;
    let result = if is_stdin(path) {
        if let Err(e) = check_stdin() {
            return Ok(file_error(path, &e));
        }
        let bar = Bar::new(&shown(path), args.size, progress);
        etagsum::verify_reader(io::stdin(), None, remote, &opts, &read, &bar)
    } else {
        match engine::open(path) {
            Ok((_, Some(size))) => {
                let bar = Bar::new(&shown(path), Some(size), progress);
                etagsum::verify_path(path, remote, &opts, &read, &bar)
            }
            // A pipe or a device named as a file (`<(cat data)`, /dev/stdin) is read front to back
            // as standard input is: positional reads fail on it even when --size gives its length.
            Ok((file, None)) => {
                let bar = Bar::new(&shown(path), args.size, progress);
                etagsum::verify_reader(file, None, remote, &opts, &read, &bar)
            }
            Err(e) => Err(e.into()),
        }
    };
    let report = match result {
        Ok(r) => r,
        Err(VerifyError::SizeUnknown) => {
            let what = "give --size with the object's ContentLength, or the layout with --part-size";
            return Ok(file_error(path, &size_unknown(path, what)));
        }
        Err(e) => return Ok(file_error(path, &e)),
    };
    for w in &report.warnings {
        diag!("etagsum: warning: {}: {}", shown(path), render::warning(w, report.size));
    }
    let mut out = Stdout::lock();
    if args.json {
        let mut fields = serde_json::Map::new();
        fields.insert("path".into(), json!(name));
        let mut v = render::report_json(&report, path, None, fields);
        escape::add_path_bytes(&mut v, path);
        out.print(format_args!("{v}\n"))?;
    } else {
        let after = format!(": {} ({})", report.verdict.label(), render::explain(&report, path));
        out.write(&file_line(b"", &escape::raw(path), after.as_bytes()))?;
    }
    out.flush()?;
    Ok(report.verdict.into())
}

fn guess(args: &GuessArgs, progress: bool) -> Result<Exit> {
    let etag: Etag = match RemoteEtag::parse(&args.etag)? {
        RemoteEtag::Md5(e) => e,
        RemoteEtag::Opaque { .. } => {
            let mut out = Stdout::lock();
            let after = format!(
                ": {}: not MD5-based, so no layout can reproduce it (an encrypted object, a directory bucket, or a \
                 store with its own ETag scheme)\n",
                args.etag.trim()
            );
            out.write(&file_line(b"", &escape::raw(&args.file), after.as_bytes()))?;
            out.flush()?;
            return Ok(Exit::Inconclusive);
        }
    };
    let read = read_options()?;
    let g: Guess = match guess_input(args, &etag, &read, progress) {
        Ok(g) => g,
        Err(e) => return Ok(file_error(&args.file, &format!("{e:#}"))),
    };
    // No layout that reproduces the ETag is no evidence against the content: the parts may be
    // uneven, the part size unusual, or the store may accept what S3 refuses.
    let status = if g.matches.is_empty() { Exit::Inconclusive } else { Exit::Ok };
    let mut out = Stdout::lock();
    if args.json {
        let layouts: Vec<_> = g
            .matches
            .iter()
            .map(|c| json!({"layout": layout_json(Some(&c.layout), Some(g.size)), "uploaders": c.uploaders, "origin": c.origin}))
            .collect();
        let mut v = json!({
            "path": escape::json_path(&args.file),
            "size": g.size,
            "remote_etag": etag,
            "interval": g.candidates.interval,
            "tried": g.tried,
            "omitted": g.candidates.omitted,
            "matches": layouts,
        });
        escape::add_path_bytes(&mut v, &args.file);
        out.print(format_args!("{v}\n"))?;
    } else {
        let span = match g.candidates.interval {
            Some(iv) if etag.parts().is_some_and(|n| n > 1) => format!(
                "; part sizes from {} to {} bytes give {} parts",
                iv.min,
                iv.max,
                etag.parts().unwrap_or(1)
            ),
            _ => String::new(),
        };
        let omitted = if g.candidates.omitted > 0 {
            format!(", {} more whole-unit part sizes left untried", g.candidates.omitted)
        } else {
            String::new()
        };
        let after = format!(
            ": {}, {etag}: {} of {} tried {} it{span}{omitted}",
            render::count(g.size, "byte"),
            g.matches.len(),
            render::count(g.tried as u64, "layout"),
            if g.matches.len() == 1 { "reproduces" } else { "reproduce" }
        );
        out.write(&file_line(b"", &escape::raw(&args.file), after.as_bytes()))?;
        for c in &g.matches {
            let who = if c.uploaders.is_empty() {
                "no catalog uploader".to_string()
            } else {
                c.uploaders.join(", ")
            };
            out.print(format_args!("  {}  ({who})\n", describe(&c.layout, g.size)))?;
        }
        if g.matches.is_empty() && !g.feasible {
            out.print(format_args!(
                "  no upload within S3's limits gives {} for {} (another store, or another object)\n",
                render::count(u64::from(etag.parts().unwrap_or(1)), "part"),
                render::count(g.size, "byte")
            ))?;
        }
    }
    out.flush()?;
    Ok(status)
}

/// Guesses from the file, standard input or a pipe. The part sizes to try depend on the size, so
/// an input that cannot tell its size before it is read needs --size.
fn guess_input(args: &GuessArgs, etag: &Etag, read: &ReadOptions, progress: bool) -> Result<Guess> {
    let path = &args.file;
    let need_size = || {
        anyhow!(size_unknown(path, "guessing needs it, because the part sizes to try depend on it: give --size with the object's ContentLength"))
    };
    if is_stdin(path) {
        check_stdin()?;
        let size = args.size.ok_or_else(need_size)?;
        let bar = Bar::new(&shown(path), Some(size), progress);
        return Ok(guess::guess_reader(io::stdin(), size, etag, read, &bar)?);
    }
    let (file, len) = engine::open(path)?;
    let bar = Bar::new(&shown(path), len.or(args.size), progress);
    match (len, args.size) {
        (Some(len), Some(size)) if len != size => {
            anyhow::bail!("the file has {len} bytes, but --size says {size}")
        }
        (Some(_), _) => Ok(guess::guess_path(path, etag, read, &bar)?),
        (None, Some(size)) => Ok(guess::guess_reader(file, size, etag, read, &bar)?),
        (None, None) => Err(need_size()),
    }
}

fn print_uploaders(json: bool) -> Result<Exit> {
    let mut out = Stdout::lock();
    if json {
        for u in uploaders::catalog() {
            out.print(format_args!("{}\n", serde_json::to_string(u)?))?;
        }
        out.flush()?;
        return Ok(Exit::Ok);
    }
    let mut rows = vec![[
        "NAME".to_string(),
        "MULTIPART WHEN".into(),
        "PART".into(),
        "LARGE FILES".into(),
        "SOURCE".into(),
    ]];
    for u in uploaders::catalog() {
        rows.push([
            u.name.to_string(),
            u.threshold.to_string(),
            etagsum::size::display_size(u.part_size).to_string(),
            u.large_files.to_string(),
            u.source.to_string(),
        ]);
    }
    let widths: Vec<usize> =
        (0..4).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        out.print(format_args!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        ))?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}
