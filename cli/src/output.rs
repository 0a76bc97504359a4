//! Standard output, whose write errors are told apart from every other I/O error.
//!
//! A broken pipe on standard output ends the run the way md5sum's does (death by SIGPIPE), so that
//! a pipeline never reports success for files that were not checked; a broken pipe anywhere else is
//! a plain error.

use std::fmt;
use std::io::{self, Write};

/// Standard output, locked for the whole run.
pub(crate) struct Stdout(io::StdoutLock<'static>);

/// A failed write to standard output.
#[derive(Debug)]
pub(crate) struct StdoutError(io::Error);

impl StdoutError {
    /// Whether the reader went away: the run must end quietly, and never with status 0.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

// No `source`: the message already holds the io error, and `{:#}` would print it twice.
impl std::error::Error for StdoutError {}

impl Stdout {
    pub(crate) fn lock() -> Stdout {
        Stdout(io::stdout().lock())
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), StdoutError> {
        self.0.write_all(bytes).map_err(StdoutError)
    }

    pub(crate) fn print(&mut self, args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
        self.0.write_fmt(args).map_err(StdoutError)
    }

    pub(crate) fn flush(&mut self) -> Result<(), StdoutError> {
        self.0.flush().map_err(StdoutError)
    }
}
