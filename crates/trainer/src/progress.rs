//! A progress bar with rate and ETA on a terminal; plain log lines otherwise.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::metrics_log::MetricsLine;

/// How a run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, else plain lines.
    Auto,
    /// Plain lines on stderr at every log step.
    Plain,
    /// Nothing.
    Quiet,
}

/// The display of a running loop.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    quiet: bool,
}

impl Progress {
    /// Starts the display of a run of `total` iterations, `done` of them already done.
    pub fn new(mode: ProgressMode, total: u64, done: u64, run_dir: &Path) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let (bar, plain) = match mode {
            ProgressMode::Quiet => (None, false),
            ProgressMode::Plain => (None, true),
            ProgressMode::Auto if terminal => {
                let bar = ProgressBar::new(total).with_position(done);
                let style = ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                (Some(bar), false)
            }
            ProgressMode::Auto => (None, true),
        };
        if mode != ProgressMode::Quiet {
            eprintln!("run directory: {}", run_dir.display());
        }
        Self {
            bar,
            plain,
            quiet: mode == ProgressMode::Quiet,
        }
    }

    /// Prints a message above the bar (or on its own line without one).
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.quiet => eprintln!("{text}"),
            None => {}
        }
    }

    /// Shows a metrics line.
    pub fn log(&mut self, line: &MetricsLine, total: u64) {
        let text = format!(
            "loss_d {:.3} loss_g {:.3} D(x) {:.3} D(G(z)) {:.3} {:.0} img/s",
            line.loss_d, line.loss_g, line.d_real, line.d_fake, line.images_per_s
        );
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        } else if self.plain {
            eprintln!(
                "iter {}/{total} epoch {:.2} {text} ({:.0} s)",
                line.iteration, line.epoch, line.wall_s
            );
        }
    }

    /// Advances the bar.
    pub fn tick(&mut self, iteration: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(iteration);
        }
    }

    /// Ends the display.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}
