//! Pictures of a run: sample grids, 2-D scatter plots and training curves, as PNG.

use std::path::Path;
use std::sync::Once;

use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::TrainError;
use crate::fsio::write_atomic;
use crate::metrics_log::MetricsLine;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const PAD: u32 = 2;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; registering it cannot fail for a valid TTF.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Images `[N, from, plane]` shown with `to` channels: unchanged when the counts agree, a grey
/// image repeated into `to` channels, the luma of an RGB image for one channel, and
/// otherwise the first `to` channels (an inpainting source without its mask).
pub fn with_channels(values: &[f32], from: usize, to: usize, plane: usize) -> Vec<f32> {
    if from == to || from == 0 || plane == 0 {
        return values.to_vec();
    }
    let mut out = Vec::with_capacity(values.len() / from * to);
    for image in values.chunks_exact(from * plane) {
        match (from, to) {
            (1, _) => (0..to).for_each(|_| out.extend_from_slice(image)),
            (3, 1) => out.extend((0..plane).map(|i| {
                0.299 * image[i] + 0.587 * image[plane + i] + 0.114 * image[2 * plane + i]
            })),
            _ => out.extend_from_slice(&image[..to.min(from) * plane]),
        }
    }
    out
}

/// Arranges `[N, C, H, W]` samples in `[-1, 1]` into a grid of `columns` samples per row (a
/// square for unconditional samples, one row per class for a conditional run) with a 2-pixel
/// border, each sample scaled up by a whole factor so small images stay legible.
pub fn sample_rows(samples: &[f32], shape: [usize; 4], columns: usize) -> RgbImage {
    let [n, c, h, w] = shape;
    let cols = columns.max(1) as u32;
    let rows = (n as u32).div_ceil(cols).max(1);
    let scale = (64 / h.max(w).max(1)).clamp(1, 4) as u32;
    let (ch, cw) = (h as u32 * scale, w as u32 * scale);
    let mut img = RgbImage::from_pixel(
        cols * (cw + PAD) + PAD,
        rows * (ch + PAD) + PAD,
        Rgb([40, 40, 40]),
    );
    let to_u8 = |v: f32| (((v + 1.0) * 127.5).round().clamp(0.0, 255.0)) as u8;
    let plane = h * w;
    for i in 0..n {
        let (gx, gy) = (i as u32 % cols, i as u32 / cols);
        let (x0, y0) = (PAD + gx * (cw + PAD), PAD + gy * (ch + PAD));
        let item = &samples[i * c * plane..(i + 1) * c * plane];
        for y in 0..ch {
            for x in 0..cw {
                let p = (y / scale) as usize * w + (x / scale) as usize;
                let px = if c >= 3 {
                    Rgb([
                        to_u8(item[p]),
                        to_u8(item[plane + p]),
                        to_u8(item[2 * plane + p]),
                    ])
                } else {
                    let v = to_u8(item[p]);
                    Rgb([v, v, v])
                };
                img.put_pixel(x0 + x, y0 + y, px);
            }
        }
    }
    img
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::write(path, std::io::Error::other(e.to_string()))
}

/// The series legend of `chart` at `position`, on a translucent white box.
fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    path: &Path,
) -> Result<(), TrainError>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_error(path, e))
}

fn save_rgb(path: &Path, buffer: Vec<u8>, w: u32, h: u32) -> Result<(), TrainError> {
    let img = RgbImage::from_raw(w, h, buffer)
        .ok_or_else(|| plot_error(path, "plot buffer has the wrong size"))?;
    crate::fsio::write_png(path, &img.into())
}

/// Scatter plot of generated 2-D points (blue) over the mixture's modes (red crosses).
pub fn scatter(
    path: &Path,
    points: &[[f32; 2]],
    modes: &[[f32; 2]],
    title: &str,
) -> Result<(), TrainError> {
    register_font();
    let (w, h) = (600u32, 600u32);
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
        let extent = modes
            .iter()
            .flat_map(|m| [m[0].abs(), m[1].abs()])
            .fold(1.0f32, f32::max)
            * 1.5;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(-extent..extent, -extent..extent)
            .map_err(|e| plot_error(path, e))?;
        chart
            .configure_mesh()
            .draw()
            .map_err(|e| plot_error(path, e))?;
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p[0].is_finite() && p[1].is_finite())
                    .map(|p| Circle::new((p[0], p[1]), 2, BLUE.mix(0.4).filled())),
            )
            .map_err(|e| plot_error(path, e))?;
        chart
            .draw_series(
                modes
                    .iter()
                    .map(|m| Cross::new((m[0], m[1]), 6, RED.stroke_width(2))),
            )
            .map_err(|e| plot_error(path, e))?;
        root.present().map_err(|e| plot_error(path, e))?;
    }
    save_rgb(path, buffer, w, h)
}

fn range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if (hi - lo).abs() < 1e-6 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// A series of [`curves`]: its legend, colour and value per metrics line (NaN where the
/// line has none).
type Curve = (&'static str, RGBColor, fn(&MetricsLine) -> f32);

/// Panels over iterations: the losses, D(x) / D(G(z)) with the 0.5 equilibrium, and, when
/// `score` names one of the lines' scores (a run that scores itself), that score at each
/// evaluation.
pub fn curves(
    path: &Path,
    lines: &[MetricsLine],
    title: &str,
    score: Option<&str>,
) -> Result<(), TrainError> {
    register_font();
    let scored: Vec<(f32, f32)> = score
        .map(|name| {
            lines
                .iter()
                .filter_map(|l| Some((l.iteration as f32, *l.extra.get(name)?)))
                .collect()
        })
        .unwrap_or_default();
    let panels = if scored.is_empty() { 2 } else { 3 };
    let (w, h) = (900u32, 350 * panels);
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
        let root = root
            .titled(title, ("sans-serif", 22))
            .map_err(|e| plot_error(path, e))?;
        let areas = root.split_evenly((panels as usize, 1));
        let last = lines.last().map_or(1, |l| l.iteration.max(1)) as f32;
        let losses: [Curve; 2] = [
            ("loss D", RED, |l| l.loss_d),
            ("loss G", BLUE, |l| l.loss_g),
        ];
        let (lo, hi) = range(lines.iter().flat_map(|l| [l.loss_d, l.loss_g]));
        let pad = (hi - lo) * 0.05;
        let axes = Axes {
            last,
            y: (lo - pad)..(hi + pad),
            y_desc: "loss",
        };
        line_panel(&areas[0], &axes, lines, &losses, None, path)?;
        let outputs: [Curve; 2] = [
            ("D(x)", GREEN, |l| l.d_real),
            ("D(G(z))", MAGENTA, |l| l.d_fake),
        ];
        let axes = Axes {
            last,
            y: 0f32..1f32,
            y_desc: "discriminator output",
        };
        line_panel(&areas[1], &axes, lines, &outputs, Some(0.5), path)?;
        if let (Some(name), false) = (score, scored.is_empty()) {
            score_panel(&areas[2], last, name, &scored, path)?;
        }
        root.present().map_err(|e| plot_error(path, e))?;
    }
    save_rgb(path, buffer, w, h)
}

/// The ranges and label of one panel of [`curves`].
struct Axes {
    last: f32,
    y: std::ops::Range<f32>,
    y_desc: &'static str,
}

/// One panel of `curves`: each of `series` over the lines' iterations, with a grey
/// horizontal line at `level` when given.
fn line_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    axes: &Axes,
    lines: &[MetricsLine],
    series: &[Curve],
    level: Option<f32>,
    path: &Path,
) -> Result<(), TrainError> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f32..axes.last, axes.y.clone())
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc(axes.y_desc)
        .draw()
        .map_err(|e| plot_error(path, e))?;
    if let Some(level) = level {
        chart
            .draw_series(LineSeries::new(
                [(0.0, level), (axes.last, level)],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(|e| plot_error(path, e))?;
    }
    for &(label, color, pick) in series {
        chart
            .draw_series(LineSeries::new(
                lines.iter().map(|l| (l.iteration as f32, pick(l))),
                color.stroke_width(2),
            ))
            .map_err(|e| plot_error(path, e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, path)
}

/// The panel of a run's ranking score at each evaluation, points joined by lines.
fn score_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    last: f32,
    name: &str,
    points: &[(f32, f32)],
    path: &Path,
) -> Result<(), TrainError> {
    let (lo, hi) = range(points.iter().map(|p| p.1));
    let pad = (hi - lo) * 0.05;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f32..last, (lo - pad)..(hi + pad))
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc(name)
        .draw()
        .map_err(|e| plot_error(path, e))?;
    let color = RGBColor(230, 120, 0);
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(|e| plot_error(path, e))?;
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(|e| plot_error(path, e))?;
    Ok(())
}

/// One panel of [`log_log_panels`]: named series of `(x, y)` points.
pub struct Panel {
    /// Axis label of x.
    pub x_desc: String,
    /// Axis label of y.
    pub y_desc: String,
    /// `(name, points)`; every point must be positive.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// Side-by-side log-log panels, each series with a dashed line proportional to x through its
/// last point, so a straight run parallel to it reads as linear growth.
pub fn log_log_panels(path: &Path, title: &str, panels: &[Panel]) -> Result<(), TrainError> {
    register_font();
    let (w, h) = (1200u32, 520u32);
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
        let root = root
            .titled(title, ("sans-serif", 22))
            .map_err(|e| plot_error(path, e))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
        for (panel, area) in panels.iter().zip(areas.iter()) {
            let points = || panel.series.iter().flat_map(|(_, p)| p.iter());
            let (x_lo, x_hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
                (lo.min(p.0), hi.max(p.0))
            });
            let (y_lo, y_hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
            if !(x_lo > 0.0 && y_lo > 0.0 && x_hi.is_finite() && y_hi.is_finite()) {
                return Err(plot_error(path, "log-log plot needs positive points"));
            }
            let mut chart = ChartBuilder::on(area)
                .margin(15)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    (x_lo * 0.8..x_hi * 1.25).log_scale(),
                    (y_lo * 0.5..y_hi * 2.0).log_scale(),
                )
                .map_err(|e| plot_error(path, e))?;
            chart
                .configure_mesh()
                .x_labels(6)
                .y_labels(6)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.2}"))
                .x_desc(panel.x_desc.as_str())
                .y_desc(panel.y_desc.as_str())
                .draw()
                .map_err(|e| plot_error(path, e))?;
            for (i, (name, pts)) in panel.series.iter().enumerate() {
                let color = colors[i % colors.len()];
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| plot_error(path, e))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| plot_error(path, e))?;
                if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
                    let linear = |x: f64| last.1 * x / last.0;
                    chart
                        .draw_series(DashedLineSeries::new(
                            [(first.0, linear(first.0)), (last.0, last.1)],
                            6,
                            4,
                            color.mix(0.5).stroke_width(1),
                        ))
                        .map_err(|e| plot_error(path, e))?
                        .label(format!("{name}: linear"))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.mix(0.5))
                        });
                }
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, path)?;
        }
        root.present().map_err(|e| plot_error(path, e))?;
    }
    save_rgb(path, buffer, w, h)
}

/// Writes `points` as CSV (`x,y` per line).
pub fn points_csv(path: &Path, points: &[[f32; 2]]) -> Result<(), TrainError> {
    let mut text = String::from("x,y\n");
    for p in points {
        text.push_str(&format!("{},{}\n", p[0], p[1]));
    }
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_layout_and_values() {
        // 5 grey 2x2 samples: 3 columns x 2 rows, scale 4 (64 / 2 capped at 4).
        let samples: Vec<f32> = (0..5)
            .flat_map(|i| vec![if i == 0 { 1.0 } else { -1.0 }; 4])
            .collect();
        let img = sample_rows(&samples, [5, 1, 2, 2], 3);
        assert_eq!(img.dimensions(), (3 * (8 + 2) + 2, 2 * (8 + 2) + 2));
        assert_eq!(img.get_pixel(2, 2), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(12, 2), &Rgb([0, 0, 0]));
        assert_eq!(img.get_pixel(0, 0), &Rgb([40, 40, 40]));
    }

    #[test]
    fn plots_render() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<MetricsLine> = (1..20)
            .map(|i| MetricsLine {
                iteration: i * 10,
                epoch: 0.0,
                loss_d: 1.0 / i as f32,
                loss_g: 2.0,
                d_real: 0.7,
                d_fake: 0.3,
                images_per_s: 1.0,
                wall_s: 1.0,
                extra: Default::default(),
            })
            .collect();
        curves(&dir.path().join("c.png"), &lines, "test", None).unwrap();
        scatter(
            &dir.path().join("s.png"),
            &[[0.0, 1.0]],
            &[[1.0, 1.0]],
            "toy",
        )
        .unwrap();
        let img = image::open(dir.path().join("c.png")).unwrap();
        assert_eq!((img.width(), img.height()), (900, 700));
    }
}
