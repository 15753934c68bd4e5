//! Progress on stderr while objects are scanned: objects read, rate, and an ETA once the
//! listings have caught up. Hidden when stderr is not a terminal, so logs and CI output
//! stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress bar on stderr if it is a terminal, else nothing.
    pub fn on_terminal() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} objects {human_pos}/{human_len} {wide_bar} {per_sec} ETA {eta} {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    pub fn hidden() -> Self {
        Progress { bar: None }
    }

    pub fn object_listed(&self) {
        if let Some(b) = &self.bar {
            b.inc_length(1);
        }
    }

    pub fn object_done(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub fn buckets(&self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("buckets {done}/{total}"));
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
