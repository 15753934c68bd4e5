//! Progress on stderr while objects are scanned. Listing runs only a channel's length ahead
//! of the HEADs (backpressure), so the total is unknown until the end: the display is a
//! counter with the rate, and a bar with an ETA only when the total is known in advance
//! (`--sample`). Hidden when stderr is not a terminal, so logs and CI output stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress display on stderr if it is a terminal, else nothing. `total` is the
    /// number of objects when known in advance.
    pub fn on_terminal(total: Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let template = if total.is_some() {
            "{spinner} {bar:40} {human_pos}/{human_len} objects, {rate}, ETA {eta} {msg}"
        } else {
            "{spinner} {human_pos} objects read, {rate}, {elapsed} {msg}"
        };
        let style = ProgressStyle::with_template(template)
            .expect("valid template")
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                },
            );
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    pub fn hidden() -> Self {
        Progress { bar: None }
    }

    pub fn object_done(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub fn buckets(&self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("· buckets {done}/{total}"));
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
