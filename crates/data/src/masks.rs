//! Holes for inpainting: where a picture's pixels are missing.
//!
//! A mask is an `H * W` plane of 1 (known) and 0 (missing). Masks are drawn from a
//! [`HoleShape`], a size and a 64-bit place (the seed and the item's index, mixed), so the
//! same seed gives the same holes; or read from a picture ([`read_mask`]) where white marks
//! the hole, as inpainting tools draw them.

use std::path::Path;

use crate::DataError;
use crate::image_folder::{ColorMode, read_image};

/// The kind of hole a masked pair gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoleShape {
    /// A square of side `hole` at the centre of the picture.
    Centre,
    /// A rectangle whose sides are each drawn from `hole / 2 ..= hole`, at a place drawn
    /// anywhere inside the picture.
    #[default]
    Rectangle,
    /// One to three free-form brush strokes: random walks of straight segments, each up to
    /// `hole` pixels long, drawn with a round brush `max(1, hole / 8)` pixels in radius.
    Strokes,
}

/// Known/missing plane `[H * W]` (1 known, 0 missing) of a hole of `shape` and size `hole`
/// at `place` in an `h` x `w` picture. `hole` must lie in `1..min(h, w)`.
pub fn draw_mask(shape: HoleShape, hole: usize, place: u64, [h, w]: [usize; 2]) -> Vec<f32> {
    let mut mask = vec![1.0; h * w];
    let mut draws = Draws(place);
    match shape {
        HoleShape::Centre => clear_rect(&mut mask, w, (h - hole) / 2, (w - hole) / 2, hole, hole),
        HoleShape::Rectangle => {
            let rows = draws.range(hole.div_ceil(2), hole);
            let cols = draws.range(hole.div_ceil(2), hole);
            let top = draws.range(0, h - rows);
            let left = draws.range(0, w - cols);
            clear_rect(&mut mask, w, top, left, rows, cols);
        }
        HoleShape::Strokes => {
            let radius = (hole / 8).max(1) as f64;
            for _ in 0..draws.range(1, 3) {
                let mut at = (draws.range(0, h - 1) as f64, draws.range(0, w - 1) as f64);
                for _ in 0..draws.range(2, 5) {
                    let angle = draws.unit() * std::f64::consts::TAU;
                    let length = draws.range(hole.div_ceil(2), hole) as f64;
                    let to = (
                        (at.0 + length * angle.sin()).clamp(0.0, (h - 1) as f64),
                        (at.1 + length * angle.cos()).clamp(0.0, (w - 1) as f64),
                    );
                    clear_segment(&mut mask, [h, w], at, to, radius);
                    at = to;
                }
            }
        }
    }
    mask
}

/// The mask drawn in the picture at `path`, resized like the picture it masks to `size` x
/// `size`: white (above mid-grey) marks the hole. Rejects a mask with no hole.
pub fn read_mask(path: &Path, size: usize) -> Result<Vec<f32>, DataError> {
    let grey = read_image(path, size, ColorMode::Grey)?;
    let mask: Vec<f32> = grey
        .into_iter()
        .map(|v| if v > 0.0 { 0.0 } else { 1.0 })
        .collect();
    if mask.iter().all(|&m| m == 1.0) {
        return Err(DataError::corrupt(
            path,
            "the mask marks no hole (white pixels mark where the picture is missing)",
        ));
    }
    Ok(mask)
}

/// Sets the `rows` x `cols` rectangle at (`top`, `left`) of a plane `w` wide to 0.
fn clear_rect(mask: &mut [f32], w: usize, top: usize, left: usize, rows: usize, cols: usize) {
    for row in mask.chunks_exact_mut(w).skip(top).take(rows) {
        row[left..left + cols].fill(0.0);
    }
}

/// Sets to 0 every pixel within `radius` of the segment `from`-`to` (row, column).
fn clear_segment(
    mask: &mut [f32],
    [h, w]: [usize; 2],
    from: (f64, f64),
    to: (f64, f64),
    radius: f64,
) {
    let (dy, dx) = (to.0 - from.0, to.1 - from.1);
    let length2 = dy * dy + dx * dx;
    let span = |a: f64, b: f64, n: usize| {
        let lo = (a.min(b) - radius).floor().max(0.0) as usize;
        let hi = ((a.max(b) + radius).ceil() as usize).min(n - 1);
        lo..=hi
    };
    for y in span(from.0, to.0, h) {
        for x in span(from.1, to.1, w) {
            let (py, px) = (y as f64 - from.0, x as f64 - from.1);
            let t = if length2 > 0.0 {
                ((py * dy + px * dx) / length2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (ey, ex) = (py - t * dy, px - t * dx);
            if ey * ey + ex * ex <= radius * radius {
                mask[y * w + x] = 0.0;
            }
        }
    }
}

/// SplitMix64's increment: the golden ratio in 64-bit fixed point.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output for the state `x`: a well-mixed 64-bit value from any input.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stream of well-mixed draws from one 64-bit place (SplitMix64).
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        let value = splitmix64(self.0);
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        value
    }

    /// A value in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// A value in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holes(mask: &[f32]) -> usize {
        mask.iter().filter(|&&m| m == 0.0).count()
    }

    #[test]
    fn centre_holes_sit_in_the_middle() {
        let mask = draw_mask(HoleShape::Centre, 2, 9, [4, 4]);
        let missing: Vec<usize> = (0..16).filter(|&i| mask[i] == 0.0).collect();
        assert_eq!(missing, vec![5, 6, 9, 10]);
        assert_eq!(mask, draw_mask(HoleShape::Centre, 2, 10, [4, 4]));
    }

    #[test]
    fn rectangles_vary_in_size_and_place_within_bounds() {
        let masks: Vec<Vec<f32>> = (0..64)
            .map(|place| draw_mask(HoleShape::Rectangle, 8, place, [16, 16]))
            .collect();
        for mask in &masks {
            assert!((16..=64).contains(&holes(mask)), "{}", holes(mask));
        }
        let sizes: std::collections::HashSet<_> = masks.iter().map(|m| holes(m)).collect();
        let places: std::collections::HashSet<_> = masks
            .iter()
            .map(|m| m.iter().position(|&v| v == 0.0))
            .collect();
        assert!(sizes.len() > 3 && places.len() > 8, "{sizes:?} {places:?}");
        assert_eq!(masks[3], draw_mask(HoleShape::Rectangle, 8, 3, [16, 16]));
    }

    #[test]
    fn strokes_are_thin_connected_and_deterministic() {
        let mask = draw_mask(HoleShape::Strokes, 16, 4, [32, 32]);
        assert!(
            holes(&mask) > 0 && holes(&mask) < 32 * 32 / 2,
            "{}",
            holes(&mask)
        );
        assert_eq!(mask, draw_mask(HoleShape::Strokes, 16, 4, [32, 32]));
        assert_ne!(mask, draw_mask(HoleShape::Strokes, 16, 5, [32, 32]));
        // Not a rectangle: some row holds a hole pixel but not where the row above does.
        let rows: Vec<Vec<usize>> = mask
            .chunks_exact(32)
            .map(|r| (0..32).filter(|&x| r[x] == 0.0).collect())
            .filter(|r: &Vec<usize>| !r.is_empty())
            .collect();
        assert!(rows.windows(2).any(|pair| pair[0] != pair[1]));
    }

    #[test]
    fn mask_pictures_mark_white_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.png");
        let mut picture = image::GrayImage::new(4, 4);
        picture.put_pixel(1, 2, image::Luma([255]));
        picture.save(&path).unwrap();
        let mask = read_mask(&path, 4).unwrap();
        assert_eq!(holes(&mask), 1);
        assert_eq!(mask[2 * 4 + 1], 0.0);
        let blank = dir.path().join("blank.png");
        image::GrayImage::new(4, 4).save(&blank).unwrap();
        assert!(
            read_mask(&blank, 4)
                .unwrap_err()
                .to_string()
                .contains("no hole")
        );
    }
}
