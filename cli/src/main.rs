//! The `etagsum` command: compute and verify Amazon S3 ETags for local files.
//!
//! Arguments, rendering and exit statuses. All computing is the library's.

mod exit;
mod progress;
mod render;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};
use etagsum::guess::{self, Guess};
use etagsum::uploaders::{self, Uploader};
use etagsum::{
    engine, parse_size, Etag, KernelChoice, Layout, Progress, ReadOptions, RemoteEtag, Sse, VerifyOptions,
};
use serde_json::json;

use exit::Exit;
use progress::Bar;
use render::{describe, layout_json};

/// Compute and verify Amazon S3 ETags (single-part and multipart) for local files.
#[derive(Parser, Debug)]
#[command(name = "etagsum", version, about, max_term_width = 100)]
struct Cli {
    /// Hash with this many threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Never draw a progress bar.
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the ETag S3 would give each file: `<etag>  <path>`, as md5sum prints.
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
    /// The files; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The local file; `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The ETag S3 reports: abc…, "abc…" or abc…-N, in any case.
    #[arg(value_name = "ETAG", allow_hyphen_values = true)]
    etag: String,
    /// The remote object's size in bytes (ContentLength): a different size is a mismatch.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
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
}

#[derive(Args, Debug)]
struct GuessArgs {
    /// The local file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The ETag S3 reports.
    #[arg(value_name = "ETAG", allow_hyphen_values = true)]
    etag: String,
    /// One JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the command line and turns the outcome into the process's exit status.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            eprint!("etagsum: {}", text.strip_prefix("error: ").unwrap_or(&text));
            return ExitCode::from(Exit::Error.code());
        }
    };
    let result = match cli.threads {
        Some(0) => Err(anyhow!("--threads must be at least 1")),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("cannot start the worker threads")
            .and_then(|pool| pool.install(|| run(&cli))),
        None => run(&cli),
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etagsum: {e:#}");
            ExitCode::from(Exit::Error.code())
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

fn run(cli: &Cli) -> Result<Exit> {
    let progress = !cli.no_progress;
    match &cli.command {
        Command::Hash(args) => hash(args, progress),
        Command::Verify(args) => verify(args, progress),
        Command::Guess(args) => guess(args, progress),
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
    eprintln!("etagsum: {}: {e}", path.display());
    Exit::Error
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
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
    let how = How { uploader, fixed };
    let read = read_options()?;
    let mut out = io::stdout().lock();
    let mut status = Exit::Ok;
    for group in args.files.chunks(HASH_GROUP) {
        let prepared: Vec<Result<Prepared>> = group.iter().map(|p| prepare(p, &how)).collect();
        let jobs: Vec<engine::FileJob<'_>> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .filter_map(|p| {
                Some(engine::FileJob { file: p.file.as_ref()?, size: p.size, layouts: &p.layouts })
            })
            .collect();
        let total = jobs.iter().map(|j| j.size.unwrap_or(0)).sum();
        let bar = Bar::new(&group[0].display().to_string(), Some(total), progress);
        let mut results = engine::hash_files(&jobs, &read, &bar).into_iter();
        drop(bar);
        for (path, prepared) in group.iter().zip(prepared) {
            let result = prepared.and_then(|p| {
                let hashed = match &p.file {
                    Some(_) => results.next().expect("one result per file")?,
                    None => {
                        let bar = Bar::new("-", None, progress);
                        engine::hash_reader(io::stdin(), None, &p.layouts, &read, &bar as &dyn Progress)?
                    }
                };
                settle(&how, p.layouts, hashed)
            });
            match result {
                Ok((etag, layout, size, warnings)) => {
                    for w in &warnings {
                        eprintln!("etagsum: warning: {}: {w}", path.display());
                    }
                    if args.json {
                        let v = json!({
                            "path": path.display().to_string(),
                            "size": size,
                            "etag": etag,
                            "layout": layout_json(Some(&layout), Some(size)),
                            "warnings": warnings,
                        });
                        writeln!(out, "{v}")?;
                    } else {
                        writeln!(out, "{etag}  {}", path.display())?;
                    }
                }
                Err(e) => status = status.merge(file_error(path, &format!("{e:#}"))),
            }
        }
    }
    out.flush()?;
    Ok(status)
}

/// How `hash` chooses a file's layout.
struct How<'a> {
    uploader: &'a Uploader,
    fixed: Option<Layout>,
}

/// A file opened for `hash`, with the layouts to hash it for. Standard input has no file.
struct Prepared {
    file: Option<std::fs::File>,
    size: Option<u64>,
    layouts: Vec<Layout>,
}

fn prepare(path: &Path, how: &How<'_>) -> Result<Prepared> {
    let (file, size) =
        if is_stdin(path) { (None, None) } else { engine::open(path).map(|(f, s)| (Some(f), s))? };
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
    Ok(Prepared { file, size, layouts })
}

/// Picks the layout that applies to the size read, and its ETag.
fn settle(
    how: &How<'_>,
    layouts: Vec<Layout>,
    hashed: engine::Hashed,
) -> Result<(Etag, Layout, u64, Vec<String>)> {
    let size = hashed.size;
    let uploader = how.uploader;
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
    let etag = hashed.etags.into_iter().nth(index).expect("one result per layout")?;
    Ok((etag, layout, size, warnings))
}

fn verify(args: &VerifyArgs, progress: bool) -> Result<Exit> {
    let remote = RemoteEtag::parse(&args.etag)?;
    let mut opts = VerifyOptions::default();
    opts.remote_size = args.size;
    opts.sse = args.sse.unwrap_or_default();
    opts.layout = match (&args.part_size, &args.part_sizes, args.single) {
        (Some(p), _, _) => Some(Layout::uniform(*p)?),
        (None, Some(sizes), _) => Some(Layout::explicit(sizes.clone())?),
        (None, None, true) => Some(Layout::Single),
        _ => None,
    };
    let path = &args.file;
    let name = path.display().to_string();
    let read = read_options()?;
    let result = if is_stdin(path) {
        let bar = Bar::new(&name, args.size, progress);
        etagsum::verify_reader(io::stdin(), None, &remote, &opts, &read, &bar)
    } else {
        let size = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len());
        let bar = Bar::new(&name, size, progress);
        etagsum::verify_path(path, &remote, &opts, &read, &bar)
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => return Ok(file_error(path, &e)),
    };
    for w in &report.warnings {
        eprintln!("etagsum: warning: {name}: {}", render::warning(w, report.size));
    }
    let mut out = io::stdout().lock();
    if args.json {
        let mut fields = serde_json::Map::new();
        fields.insert("path".into(), json!(name));
        writeln!(out, "{}", render::report_json(&report, path, fields))?;
    } else {
        writeln!(out, "{name}: {} ({})", report.verdict.label(), render::explain(&report, path))?;
    }
    out.flush()?;
    Ok(report.verdict.into())
}

fn guess(args: &GuessArgs, progress: bool) -> Result<Exit> {
    let etag: Etag = match RemoteEtag::parse(&args.etag)? {
        RemoteEtag::Md5(e) => e,
        RemoteEtag::Opaque { .. } => {
            let mut out = io::stdout().lock();
            writeln!(
                out,
                "{}: {}: not MD5-based, so no layout can reproduce it (an encrypted object, a directory bucket, or a \
                 store with its own ETag scheme)",
                args.file.display(),
                args.etag.trim()
            )?;
            out.flush()?;
            return Ok(Exit::Inconclusive);
        }
    };
    let name = args.file.display().to_string();
    let size = std::fs::metadata(&args.file).ok().filter(|m| m.is_file()).map(|m| m.len());
    let bar = Bar::new(&name, size, progress);
    let g: Guess = match guess::guess_path(&args.file, &etag, &read_options()?, &bar) {
        Ok(g) => g,
        Err(e) => return Ok(file_error(&args.file, &e)),
    };
    drop(bar);
    // No layout that reproduces the ETag is no evidence against the content: the parts may be
    // uneven, the part size unusual, or the store may accept what S3 refuses.
    let status = if g.matches.is_empty() { Exit::Inconclusive } else { Exit::Ok };
    let mut out = io::stdout().lock();
    if args.json {
        let layouts: Vec<_> = g
            .matches
            .iter()
            .map(|c| json!({"layout": layout_json(Some(&c.layout), Some(g.size)), "uploaders": c.uploaders, "origin": c.origin}))
            .collect();
        let v = json!({
            "path": name,
            "size": g.size,
            "remote_etag": etag,
            "interval": g.candidates.interval,
            "tried": g.tried,
            "omitted": g.candidates.omitted,
            "matches": layouts,
        });
        writeln!(out, "{v}")?;
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
        writeln!(
            out,
            "{name}: {}, {etag}: {} of {} tried {} it{span}{omitted}",
            render::count(g.size, "byte"),
            g.matches.len(),
            render::count(g.tried as u64, "layout"),
            if g.matches.len() == 1 { "reproduces" } else { "reproduce" }
        )?;
        for c in &g.matches {
            let who = if c.uploaders.is_empty() {
                "no catalog uploader".to_string()
            } else {
                c.uploaders.join(", ")
            };
            writeln!(out, "  {}  ({who})", describe(&c.layout, g.size))?;
        }
        if g.matches.is_empty() && !g.feasible {
            writeln!(
                out,
                "  no upload within S3's limits gives {} for {} (another store, or another object)",
                render::count(u64::from(etag.parts().unwrap_or(1)), "part"),
                render::count(g.size, "byte")
            )?;
        }
    }
    out.flush()?;
    Ok(status)
}

fn print_uploaders(json: bool) -> Result<Exit> {
    let mut out = io::stdout().lock();
    if json {
        for u in uploaders::catalog() {
            writeln!(out, "{}", serde_json::to_string(u)?)?;
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
        writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}
