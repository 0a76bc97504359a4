//! Live S3: `verify FILE s3://BUCKET/KEY`, `check --root DIR s3://BUCKET/PREFIX` and
//! `check --listing s3://BUCKET/KEY/manifest.json`, on the library's `s3` driver.
//!
//! The client comes from the standard AWS chain (environment, config and credentials files,
//! SSO, instance and container roles), adjusted by the options below. Without the `s3` feature
//! every s3:// argument is refused with a message that says so.

use std::path::Path;

use clap::Args;

/// How to reach S3: the options of `verify` and `check` for s3:// arguments.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "S3 (for s3:// arguments)")]
pub(crate) struct S3Args {
    /// Send requests to URL instead of AWS (an S3-compatible store); AWS_ENDPOINT_URL and
    /// AWS_ENDPOINT_URL_S3 work too.
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// The bucket's region (default: from the profile or AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub(crate) region: Option<String>,
    /// The profile of the AWS config and credentials files (default: AWS_PROFILE, else default).
    #[arg(long, value_name = "NAME")]
    pub(crate) profile: Option<String>,
    /// Path-style addressing (https://host/BUCKET/KEY), which many S3-compatible stores need.
    #[arg(long)]
    pub(crate) path_style: bool,
    /// Send unsigned requests, with no credentials: for public buckets.
    #[arg(long)]
    pub(crate) no_sign_request: bool,
    /// Give up on a request after SECONDS, its retries included.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) timeout: Option<std::time::Duration>,
    /// Tries per request, the first included (default: AWS_MAX_ATTEMPTS or the profile's
    /// max_attempts, else 3), with the SDK's backoff.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) max_attempts: Option<u32>,
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    const EXPECTED: &str = "a number of seconds greater than 0, at most 86400, e.g. 30 or 2.5";
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86400.0 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(EXPECTED.to_string()),
    }
}

/// Whether an argument names S3 (`s3://...`).
pub(crate) fn is_url(arg: &Path) -> bool {
    arg.as_os_str().as_encoded_bytes().starts_with(b"s3://")
}

/// `s3://BUCKET/KEY`: the bucket and the key (as given: S3 keys are not URL-encoded here).
pub(crate) fn parse_url(arg: &Path, what: &str) -> anyhow::Result<(String, String)> {
    let text =
        arg.to_str().ok_or_else(|| anyhow::anyhow!("{}: not UTF-8, as S3 names are", arg.display()))?;
    let rest = text.strip_prefix("s3://").unwrap_or(text);
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        anyhow::bail!("{text}: no bucket; expected s3://BUCKET/{what}");
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// What `check --root DIR` reads from S3.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tree {
    /// `s3://BUCKET/PREFIX`: the objects under the prefix, listed live.
    Prefix,
    /// `--listing s3://BUCKET/KEY/manifest.json`: an S3 Inventory report in its bucket.
    Inventory,
}

#[cfg(feature = "s3")]
pub(crate) use live::{check_tree, verify};

#[cfg(not(feature = "s3"))]
pub(crate) use offline::{check_tree, verify};

#[cfg(not(feature = "s3"))]
mod offline {
    use std::path::Path;

    use anyhow::{bail, Result};
    use etagsum::listing::{CheckOptions, ListingError};
    use etagsum::ReadOptions;

    use crate::check::{CheckArgs, Printer, Tally};
    use crate::exit::Exit;
    use crate::progress::CheckBar;
    use crate::VerifyArgs;

    const NO_S3: &str = "this etagsum was built without S3 support (the cargo feature `s3`): it cannot read";

    pub(crate) fn verify(_: &VerifyArgs, url: &Path, _: bool) -> Result<Exit> {
        bail!("{NO_S3} {}", url.display())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_tree(
        _: super::Tree,
        url: &Path,
        _: &CheckArgs,
        _: &CheckOptions,
        _: &ReadOptions,
        _: &CheckBar,
        _: &mut Printer<'_>,
        _: &mut Tally,
    ) -> Result<(), ListingError> {
        Err(ListingError::Source(format!("{NO_S3} {}", url.display()).into()))
    }
}

#[cfg(feature = "s3")]
mod live {
    use std::path::Path;

    use anyhow::{anyhow, bail, Context, Result};
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_s3::Client;
    use etagsum::listing::{inventory::Inventory, CheckOptions, ListingError};
    use etagsum::s3::{self as driver, Object, S3Error};
    use etagsum::ReadOptions;
    use serde_json::json;
    use tokio::runtime::Runtime;

    use super::{parse_url, S3Args};
    use crate::check::{drive_with, CheckArgs, Printer, Tally};
    use crate::diag::diag;
    use crate::escape::{self, file_line, shown};
    use crate::exit::Exit;
    use crate::output::Stdout;
    use crate::progress::{Bar, CheckBar};
    use crate::{escape::raw, render, VerifyArgs};

    /// A client and the runtime its requests run on.
    struct Session {
        runtime: Runtime,
        client: Client,
    }

    impl Session {
        fn new(args: &S3Args) -> Result<Session> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("etagsum-io")
                .enable_all()
                .build()
                .context("cannot start the threads for S3 requests")?;
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(p) = &args.profile {
                // The profile's credentials and nothing else, as the aws cli reads --profile: a
                // profile that does not exist is an error, not a fallback to the environment's.
                let profile =
                    aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(p).build();
                loader = loader.profile_name(p).credentials_provider(profile);
            }
            if let Some(r) = &args.region {
                loader = loader.region(Region::new(r.clone()));
            }
            if let Some(u) = &args.endpoint_url {
                loader = loader.endpoint_url(u);
            }
            if args.no_sign_request {
                loader = loader.no_credentials();
            }
            // Without --timeout, each try still gives up after a minute: a store that accepts the
            // connection and never answers must not hang a run.
            let mut timeouts = TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .operation_attempt_timeout(std::time::Duration::from_secs(60));
            if let Some(t) = args.timeout {
                timeouts = timeouts.operation_timeout(t);
            }
            loader = loader.timeout_config(timeouts.build());
            if let Some(n) = args.max_attempts {
                loader = loader.retry_config(RetryConfig::standard().with_max_attempts(n));
            }
            let config = runtime.block_on(loader.load());
            let mut s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(args.path_style);
            // A bucket in another region answers with a redirect the error names; without any
            // region no request can be signed.
            if config.region().is_none() {
                s3 = s3.region(Region::new("us-east-1"));
            }
            Ok(Session { runtime, client: Client::from_conf(s3.build()) })
        }
    }

    /// `etagsum verify FILE s3://BUCKET/KEY [--version-id V]`.
    pub(crate) fn verify(args: &VerifyArgs, url: &Path, progress: bool) -> Result<Exit> {
        let given = [
            (args.size.is_some(), "--size"),
            (args.sse.is_some(), "--sse"),
            (!args.checksums.is_empty(), "--checksum"),
            (args.checksum_type.is_some(), "--checksum-type"),
            (args.part_size.is_some(), "--part-size"),
            (args.part_sizes.is_some(), "--part-sizes"),
            (args.single, "--single"),
        ];
        if let Some((_, flag)) = given.iter().find(|(on, _)| *on) {
            bail!("{flag} gives a fact that is read from S3 with {}: leave it out", url.display());
        }
        let (bucket, key) = parse_url(url, "KEY")?;
        if key.is_empty() {
            bail!("{}: no key; expected s3://BUCKET/KEY", url.display());
        }
        let object = Object { bucket, key, version_id: args.version_id.clone() };
        let path = &args.file;
        let session = Session::new(&args.s3)?;
        let read = crate::read_options()?;
        let result = if crate::is_stdin(path) {
            if let Err(e) = crate::check_stdin() {
                return Ok(crate::file_error(path, &e));
            }
            // Read once: the layout of a multipart object is read from S3 first.
            let bar = Bar::new(&shown(path), None, progress);
            session.runtime.block_on(driver::verify_object_reader(
                &session.client,
                std::io::stdin(),
                &object,
                &read,
                &bar,
            ))
        } else {
            let (file, size) = match etagsum::engine::open(path) {
                Ok(f) => f,
                Err(e) => return Ok(crate::file_error(path, &e)),
            };
            let bar = Bar::new(&shown(path), size, progress);
            session.runtime.block_on(driver::verify_object_file(
                &session.client,
                &file,
                size,
                &object,
                &read,
                &bar,
            ))
        };
        let name = escape::json_path(path);
        let mut out = Stdout::lock();
        let verified = match result {
            Ok(v) => v,
            Err(S3Error::NoSuchKey { .. }) if object.version_id.is_some() => {
                bail!("{object}: no such version (the key may exist: --version-id names one version of it)")
            }
            Err(S3Error::NoSuchKey { requests, .. }) => {
                let url = object_url(&object);
                if args.json {
                    let v = json!({
                        "path": name, "object": url, "version_id": object.version_id, "requests": requests,
                        "verdict": "missing", "reason_code": "no_such_key",
                        "reason": format!("there is no object {object}"), "remote_etag": null,
                    });
                    out.print(format_args!("{v}\n"))?;
                } else {
                    let after = format!(": MISSING (no object {object})");
                    out.write(&file_line(b"", &raw(path), after.as_bytes()))?;
                }
                out.flush()?;
                return Ok(Exit::Mismatch);
            }
            Err(S3Error::Verify(e)) => return Ok(crate::file_error(path, &e)),
            Err(e) => return Err(anyhow!(e)),
        };
        if let Some(why) = &verified.untrusted {
            diag!("etagsum: warning: {}: the layout was not read: {why}", object_url(&object));
        }
        let report = &verified.report;
        for w in &report.warnings {
            diag!("etagsum: warning: {}: {}", shown(path), render::warning(w, report.size));
        }
        if args.json {
            let mut fields = serde_json::Map::new();
            fields.insert("path".into(), json!(name));
            fields.insert("object".into(), json!(object_url(&object)));
            fields.insert("version_id".into(), json!(object.version_id));
            fields.insert("requests".into(), json!(verified.requests));
            let mut v = render::report_json(report, path, None, fields);
            escape::add_path_bytes(&mut v, path);
            out.print(format_args!("{v}\n"))?;
        } else {
            let after = format!(": {} ({})", report.verdict.label(), render::explain(report, path));
            out.write(&file_line(b"", &raw(path), after.as_bytes()))?;
        }
        out.flush()?;
        Ok(report.verdict.into())
    }

    fn object_url(o: &Object) -> String {
        format!("s3://{}/{}", o.bucket, o.key)
    }

    /// `etagsum check --root DIR s3://BUCKET/PREFIX` (the prefix, a folder, listed live) or
    /// `--listing s3://BUCKET/KEY/manifest.json` (the report copied to a temporary folder, then read
    /// as a local one); either way, what the listing leaves open is settled with S3.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_tree(
        tree: super::Tree,
        url: &Path,
        args: &CheckArgs,
        opts: &CheckOptions,
        read: &ReadOptions,
        bar: &CheckBar,
        printer: &mut Printer<'_>,
        tally: &mut Tally,
    ) -> Result<(), ListingError> {
        let source_error = |e: anyhow::Error| ListingError::Source(format!("{e:#}").into());
        let what = match tree {
            super::Tree::Prefix => "PREFIX",
            super::Tree::Inventory => "KEY/manifest.json",
        };
        let (bucket, key) = parse_url(url, what).map_err(source_error)?;
        let session = Session::new(&args.s3).map_err(source_error)?;
        let (client, handle) = (&session.client, session.runtime.handle().clone());
        let jobs = usize::from(args.jobs);
        match tree {
            super::Tree::Prefix => {
                // The prefix as a folder: the caller made `opts.prefix` of the URL's (as `aws s3
                // sync s3://BUCKET/data DIR` reads it), and the listing asks for the same.
                let prefix = String::from_utf8_lossy(&opts.prefix).into_owned();
                let listing = driver::Listing::new(client.clone(), handle.clone(), &bucket, &prefix);
                drive_with(
                    |on| driver::check(listing, client, &handle, &bucket, jobs, opts, read, bar, on),
                    bar,
                    printer,
                    tally,
                )
            }
            super::Tree::Inventory => {
                let dir = tempfile::Builder::new()
                    .prefix("etagsum-inventory-")
                    .tempdir()
                    .map_err(|source| ListingError::Io { path: std::env::temp_dir(), source })?;
                let manifest = session
                    .runtime
                    .block_on(driver::fetch_inventory(client, &bucket, &key, dir.path()))
                    .map_err(|e| ListingError::Source(Box::new(e)))?;
                let inventory = Inventory::open(&manifest)?;
                let source_bucket = inventory.source_bucket().to_string();
                drive_with(
                    |on| driver::check(inventory, client, &handle, &source_bucket, jobs, opts, read, bar, on),
                    bar,
                    printer,
                    tally,
                )
            }
        }
    }
}
