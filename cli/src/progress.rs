//! The progress bar: on standard error, for large inputs, only when standard error is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
