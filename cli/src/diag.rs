//! Diagnostics on standard error.

/// Writes one line on standard error, or nothing when standard error cannot be written (closed,
/// full, a broken pipe). A diagnostic is never worth a crash, and the exit status still tells;
/// `eprintln!` would panic.
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub(crate) use diag;
