//! The progress bars: on standard error, only when standard error is a terminal (and, for one
//! file, only for large inputs).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use etagsum::listing::{Checked, Outcome};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::{Stdout, StdoutError};

/// Inputs smaller than this finish before a bar would be worth drawing.
const MIN_BYTES: u64 = 256 << 20;

pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar for `total` bytes (unknown for a pipe) named `name`, or nothing when standard error is
    /// not a terminal or the input is small.
    pub(crate) fn new(name: &str, total: Option<u64>, enabled: bool) -> Bar {
        if !enabled || !std::io::stderr().is_terminal() || total.is_some_and(|t| t < MIN_BYTES) {
            return Bar(None);
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let style = ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(name.to_string());
        Bar(Some(bar))
    }
}

impl etagsum::Progress for Bar {
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The bar of `check`: objects and bytes done, the rate, and the time left once a second reader
/// has counted what the listing holds. It also counts the bytes hashed, drawn or not, for the
/// summary. Clones share one bar.
#[derive(Clone)]
pub(crate) struct CheckBar {
    bar: Option<ProgressBar>,
    bytes: Arc<AtomicU64>,
    objects: Arc<AtomicU64>,
    /// Objects the listing holds (in the shard, under the prefix), once counted; 0 until then.
    total: Arc<AtomicU64>,
    /// Lines go through the bar only when they land on a terminal too.
    stdout_terminal: bool,
}

impl CheckBar {
    /// A spinner until the total is known, or nothing when standard error is not a terminal.
    pub(crate) fn new(enabled: bool) -> CheckBar {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{spinner} {msg} {bytes} {binary_bytes_per_sec} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message("0 objects");
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        CheckBar {
            bar,
            bytes: Arc::default(),
            objects: Arc::default(),
            total: Arc::default(),
            stdout_terminal: std::io::stdout().is_terminal(),
        }
    }

    pub(crate) fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Bytes hashed so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The listing holds `objects` to check, of `bytes` bytes when every entry gives its size.
    pub(crate) fn set_total(&self, objects: u64, bytes: Option<u64>) {
        let Some(bar) = &self.bar else { return };
        self.total.store(objects, Ordering::Relaxed);
        if let Some(b) = bytes {
            bar.set_length(b);
            let style = ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
        }
        self.show(self.objects.load(Ordering::Relaxed));
    }

    fn show(&self, done: u64) {
        if let Some(bar) = &self.bar {
            match self.total.load(Ordering::Relaxed) {
                0 => bar.set_message(format!("{done} objects")),
                t => bar.set_message(format!("{done}/{t} objects")),
            }
        }
    }

    /// One more object done. Objects decided without hashing move the bar by their listed size.
    pub(crate) fn object_done(&self, c: &Checked) {
        let done = self.objects.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(bar) = &self.bar else { return };
        let hashed = matches!(&c.outcome, Outcome::Verified(r) if r.tried > 0);
        if !hashed {
            bar.inc(c.size.unwrap_or(0));
        }
        self.show(done);
    }

    /// Runs `f` with the bar out of the way.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Writes a line of output, out of the bar's way when both are on a terminal.
    pub(crate) fn write_line(&self, out: &mut Stdout, line: &[u8]) -> Result<(), StdoutError> {
        match &self.bar {
            Some(bar) if self.stdout_terminal => bar.suspend(|| out.write(line)),
            _ => out.write(line),
        }
    }

    /// Removes the bar (before a message, and at the end).
    pub(crate) fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl etagsum::Progress for CheckBar {
    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }
}
