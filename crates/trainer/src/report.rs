//! `ganforge report`: one self-contained HTML page of a run (its configuration, summary,
//! curves, sample grids over time, scores and checkpoints), every picture embedded, so the
//! page can be mailed or archived on its own.
//!
//! On load, a short script counts the pictures that decoded and writes the count to the
//! body's `data-rendered` attribute, so a headless browser can check that the page renders.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint;
use crate::error::TrainError;
use crate::eval::is_score;
use crate::fsio::write_atomic;
use crate::metrics_log::{MetricsLine, read_lines};
use crate::run_dir::RunDir;

/// Sample grids shown at most, spread over the run (the last always among them).
const MAX_GRIDS: usize = 12;

/// The sections of a report, by `id`, in page order.
pub const SECTIONS: [&str; 6] = [
    "configuration",
    "summary",
    "curves",
    "grids",
    "scores",
    "checkpoints",
];

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Report {
    /// The page.
    pub path: PathBuf,
    /// Pictures embedded (curves and grids).
    pub pictures: usize,
}

/// Writes the report of the run in `run_dir` to `out` (by default `run_dir/report.html`).
pub fn write_report(run_dir: &Path, out: Option<&Path>) -> Result<Report, TrainError> {
    let dir = RunDir::open(run_dir)?;
    let path = out.map_or_else(|| run_dir.join("report.html"), Path::to_path_buf);
    let lines = read_lines(&dir.metrics())?;
    let mut page = Page::default();
    page.section("configuration", "Configuration", |p| configuration(p, &dir));
    page.section("summary", "Summary", |p| summary(p, &dir));
    page.section("curves", "Training curves", |p| curves(p, &dir));
    page.section("grids", "Samples over training", |p| grids(p, &dir));
    page.section("scores", "Scores", |p| scores(p, &lines));
    page.section("checkpoints", "Checkpoints", |p| checkpoints(p, &dir));
    let title = run_dir
        .file_name()
        .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned());
    write_atomic(&path, page.html(&title).as_bytes())?;
    Ok(Report {
        path,
        pictures: page.pictures,
    })
}

/// The page being written: its body and the number of pictures in it.
#[derive(Default)]
struct Page {
    body: String,
    pictures: usize,
}

impl Page {
    fn section(&mut self, id: &str, title: &str, fill: impl FnOnce(&mut Page)) {
        let _ = write!(self.body, "<section id=\"{id}\"><h2>{title}</h2>");
        fill(self);
        self.body.push_str("</section>\n");
    }

    fn text(&mut self, text: &str) {
        let _ = write!(self.body, "<p>{}</p>", escape(text));
    }

    fn picture(&mut self, png: &[u8], caption: &str) {
        let _ = write!(
            self.body,
            "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}\
             </figcaption></figure>",
            escape(caption),
            STANDARD.encode(png)
        );
        self.pictures += 1;
    }

    fn html(&self, title: &str) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} \
             - ganforge report</title><style>{STYLE}</style></head>\n<body>\
             <h1>{title}</h1>\n{}<script>{SCRIPT}</script></body></html>\n",
            self.body,
            title = escape(title),
        )
    }
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}\
    pre{background:#f4f4f4;padding:1em;overflow-x:auto}table{border-collapse:collapse}\
    td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}\
    figure{display:inline-block;margin:.5em}img{max-width:100%}";

/// Counts the pictures that decode whole into `data-rendered` ("decoded/total"), on load and
/// synchronously (so a headless browser's DOM dump always has it): each is drawn on a canvas
/// and its last pixel must be opaque, as every picture here is an opaque RGB PNG and a
/// truncated one leaves its last rows transparent.
const SCRIPT: &str = "window.addEventListener('load',()=>{const i=[...document.images];\
    const c=document.createElement('canvas'),g=c.getContext('2d');\
    const ok=i.filter(x=>{if(!x.complete||x.naturalWidth===0)return false;\
    c.width=x.naturalWidth;c.height=x.naturalHeight;g.drawImage(x,0,0);\
    return g.getImageData(c.width-1,c.height-1,1,1).data[3]===255;}).length;\
    document.body.dataset.rendered=ok+'/'+i.length;});";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn preformatted(page: &mut Page, text: &str) {
    let _ = write!(page.body, "<pre>{}</pre>", escape(text));
}

fn configuration(page: &mut Page, dir: &RunDir) {
    match std::fs::read_to_string(dir.resolved()) {
        Ok(text) => preformatted(page, &text),
        Err(_) => match std::fs::read_to_string(dir.spec()) {
            Ok(json) => preformatted(page, &json),
            Err(_) => page.text("No configuration was saved."),
        },
    }
}

fn summary(page: &mut Page, dir: &RunDir) {
    match std::fs::read_to_string(dir.summary()) {
        Ok(json) => preformatted(page, &json),
        Err(_) => page.text("The run has not finished: no summary.json yet."),
    }
}

fn curves(page: &mut Page, dir: &RunDir) {
    match std::fs::read(dir.curves()) {
        Ok(png) => page.picture(&png, "losses, D(x) and D(G(z)), and the ranking score"),
        Err(_) => page.text("No curves yet: they are drawn when the run finishes."),
    }
}

/// The grids `samples/step-NNNNNNNN.png`, at most [`MAX_GRIDS`] spread evenly, the last one
/// included.
fn grids(page: &mut Page, dir: &RunDir) {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir.samples())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name
                .strip_prefix("step-")?
                .strip_suffix(".png")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        page.text("No sample grids yet.");
        return;
    }
    let shown = found.len().min(MAX_GRIDS);
    for k in 0..shown {
        let (step, path) = &found[(k * (found.len() - 1)) / (shown - 1).max(1)];
        if let Ok(png) = std::fs::read(path) {
            page.picture(&png, &format!("iteration {step}"));
        }
    }
}

/// A table of every score of the metrics lines (`train.eval_every`), one row per evaluation.
fn scores(page: &mut Page, lines: &[MetricsLine]) {
    let mut names: Vec<&String> = lines
        .iter()
        .flat_map(|l| l.extra.keys())
        .filter(|n| is_score(n))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        page.text("No scores: the run did not score itself (train.eval_every).");
        return;
    }
    let mut table = String::from("<table><tr><th>iteration</th>");
    for name in &names {
        let _ = write!(table, "<th>{}</th>", escape(name));
    }
    table.push_str("</tr>");
    for line in lines.iter().filter(|l| l.extra.keys().any(|n| is_score(n))) {
        let _ = write!(table, "<tr><td>{}</td>", line.iteration);
        for name in &names {
            match line.extra.get(name.as_str()) {
                Some(v) => {
                    let _ = write!(table, "<td>{v:.4}</td>");
                }
                None => table.push_str("<td></td>"),
            }
        }
        table.push_str("</tr>");
    }
    table.push_str("</table>");
    page.body.push_str(&table);
}

/// The checkpoint directories, with the ones `latest` and `best` name.
fn checkpoints(page: &mut Page, dir: &RunDir) {
    let root = dir.checkpoints();
    let pointed = |name: &str| checkpoint::pointed(&root.join(name));
    let (latest, best) = (pointed(checkpoint::LATEST), pointed(checkpoint::BEST));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    if entries.is_empty() {
        page.text("No checkpoints yet.");
        return;
    }
    let mut list = String::from("<table><tr><th>checkpoint</th><th>size (MiB)</th><th></th></tr>");
    for entry in &entries {
        let size: u64 = std::fs::read_dir(entry)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        let mut marks = Vec::new();
        if latest.as_ref() == Some(entry) {
            marks.push("latest");
        }
        if best.as_ref() == Some(entry) {
            marks.push("best");
        }
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = write!(
            list,
            "<tr><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&name),
            size as f64 / (1024.0 * 1024.0),
            marks.join(", ")
        );
    }
    list.push_str("</table>");
    page.body.push_str(&list);
}
