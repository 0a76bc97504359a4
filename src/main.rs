//! The `etagsum` command: compute and verify Amazon S3 ETags for local files.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
