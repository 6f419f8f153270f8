//! ADA's augmentation pipeline (Karras et al. 2020, its `bgc` set): pixel blitting (x-flip,
//! 90-degree rotation, integer translation), general geometry (isotropic scaling, rotation,
//! anisotropic scaling, fractional translation) and colour (brightness, contrast, luma flip,
//! hue rotation, saturation), each with ADA's default strength.
//!
//! As in ADA, the geometric transforms of one image compose into one 3x3 matrix, in pixel
//! units about the image centre, and the image is resampled once: bilinear, the image
//! mirrored beyond its borders (reflection without repeating the edge). Where every sampling
//! point falls on a pixel (blitting alone) the resampling is an exact permutation. ADA's
//! additional 2x oversampling with a wavelet filter around the resampling is not done. The
//! colour transforms compose into one 4x4 matrix on `(r, g, b, 1)` per image; a one-channel
//! image gets ADA's reduction of it (the mean of the three rows' gain and offset).
//!
//! Both are linear in the pixels (index selections with weights, a batched matrix product),
//! so the generator's gradient flows back through them.

use burn::prelude::*;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::Draw;

/// Largest integer translation, as a share of the image side (ADA's `xint_max`).
const XINT_MAX: f64 = 0.125;
/// Standard deviation of the base-2 logarithm of the isotropic scale (`scale_std`).
const SCALE_STD: f64 = 0.2;
/// Largest rotation, in half turns (`rotate_max`).
const ROTATE_MAX: f64 = 1.0;
/// Standard deviation of the base-2 logarithm of the anisotropic scale (`aniso_std`).
const ANISO_STD: f64 = 0.2;
/// Standard deviation of the fractional translation, as a share of the side (`xfrac_std`).
const XFRAC_STD: f64 = 0.125;
/// Standard deviation of the brightness offset (`brightness_std`).
const BRIGHTNESS_STD: f64 = 0.2;
/// Standard deviation of the base-2 logarithm of the contrast gain (`contrast_std`).
const CONTRAST_STD: f64 = 0.5;
/// Largest hue rotation, in half turns (`hue_max`).
const HUE_MAX: f64 = 1.0;
/// Standard deviation of the base-2 logarithm of the saturation gain (`saturation_std`).
const SATURATION_STD: f64 = 1.0;
/// A sampling point this close to a pixel is taken to be on it.
const ON_PIXEL: f64 = 1e-6;

/// One of ADA's transforms, in the order the pipeline applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// A mirror image, left to right (half of the images it is drawn for).
    XFlip,
    /// A rotation by 0, 90, 180 or 270 degrees.
    Rotate90,
    /// A shift by whole pixels, up to an eighth of the side each way.
    XInt,
    /// A zoom by `2^(0.2 n)` for a standard normal `n`.
    Scale,
    /// A rotation by any angle, before and after the anisotropic scaling (each with the
    /// probability that makes one of them happen with the pipeline's probability).
    Rotate,
    /// A stretch by `2^(0.2 n)` along x and its inverse along y.
    Aniso,
    /// A shift by `0.125 n` of the side each way.
    XFrac,
    /// Plus `0.2 n` on every channel.
    Brightness,
    /// Times `2^(0.5 n)`.
    Contrast,
    /// The luma axis reversed (half of the images it is drawn for).
    LumaFlip,
    /// A rotation of the colours about the luma axis by any angle.
    Hue,
    /// The colours' distance from the luma axis times `2^n`.
    Saturation,
}

impl Transform {
    /// All twelve, in the order they apply.
    pub const ALL: [Self; 12] = [
        Self::XFlip,
        Self::Rotate90,
        Self::XInt,
        Self::Scale,
        Self::Rotate,
        Self::Aniso,
        Self::XFrac,
        Self::Brightness,
        Self::Contrast,
        Self::LumaFlip,
        Self::Hue,
        Self::Saturation,
    ];

    /// ADA's name for it (`xflip`, `rotate90`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::XFlip => "xflip",
            Self::Rotate90 => "rotate90",
            Self::XInt => "xint",
            Self::Scale => "scale",
            Self::Rotate => "rotate",
            Self::Aniso => "aniso",
            Self::XFrac => "xfrac",
            Self::Brightness => "brightness",
            Self::Contrast => "contrast",
            Self::LumaFlip => "lumaflip",
            Self::Hue => "hue",
            Self::Saturation => "saturation",
        }
    }

    /// Whether it moves pixels (rather than changing their colour).
    pub fn is_geometric(self) -> bool {
        (self as u16) <= Self::XFrac as u16
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of ADA's transforms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Transforms(u16);

impl Transforms {
    /// The set a name stands for: one transform, or ADA's groups `blit` (x-flip, 90-degree
    /// rotation, integer translation), `geom` (scaling, rotation, anisotropic scaling,
    /// fractional translation) and `bgc` (those and the five colour transforms).
    pub fn named(name: &str) -> Option<Self> {
        let of = |list: &[Transform]| Self(list.iter().fold(0, |bits, t| bits | t.bit()));
        match name {
            "blit" => Some(of(&Transform::ALL[..3])),
            "geom" => Some(of(&Transform::ALL[3..7])),
            "bgc" => Some(of(&Transform::ALL)),
            _ => Transform::ALL
                .into_iter()
                .find(|t| t.name() == name)
                .map(|t| of(&[t])),
        }
    }

    /// The names [`Self::named`] knows, comma-separated.
    pub fn known_names() -> String {
        let mut names: Vec<&str> = Transform::ALL.iter().map(|t| t.name()).collect();
        names.extend(["blit", "geom", "bgc"]);
        names.join(", ")
    }

    /// Both sets together.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether `transform` is in the set.
    pub fn contains(self, transform: Transform) -> bool {
        self.0 & transform.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any colour transform is in the set.
    pub fn has_color(self) -> bool {
        self.iter().any(|t| !t.is_geometric())
    }

    /// The transforms in the set, in the order they apply.
    pub fn iter(self) -> impl Iterator<Item = Transform> {
        Transform::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }

    /// `images` (values in `[-1, 1]`) with the set's geometric, then colour, transforms.
    ///
    /// # Panics
    /// If a colour transform is in the set and the images have neither 1 nor 3 channels.
    pub(super) fn apply<R: Rng>(self, images: Tensor<4>, draw: &mut Draw<'_, R>) -> Tensor<4> {
        let [batch, channels, h, w] = images.dims();
        let mut x = images;
        if self.iter().any(Transform::is_geometric) {
            let inverses: Vec<Affine> = (0..batch).map(|_| self.geometry(draw, [h, w])).collect();
            if inverses.iter().any(|g| *g != Affine::IDENTITY) {
                x = resample(x, &inverses);
            }
        }
        if self.has_color() {
            assert!(
                channels == 1 || channels == 3,
                "ADA's colour transforms need 1 or 3 channels, not {channels}"
            );
            let colors: Vec<ColorMatrix> = (0..batch).map(|_| self.color(draw)).collect();
            if colors.iter().any(|c| *c != ColorMatrix::IDENTITY) {
                x = recolor(x, &colors);
            }
        }
        x
    }

    /// One image's inverse geometric transform (output pixel to input pixel, about the
    /// centre), composed as ADA does.
    fn geometry<R: Rng>(self, draw: &mut Draw<'_, R>, [h, w]: [usize; 2]) -> Affine {
        let (h, w) = (h as f64, w as f64);
        let mut g = Affine::IDENTITY;
        if self.contains(Transform::XFlip) && draw.chosen() {
            let flip = draw.rng.random_range(0..2) as f64;
            g = g.then(Affine::scale(1.0 - 2.0 * flip, 1.0));
        }
        if self.contains(Transform::Rotate90) && draw.chosen() {
            let quarter = draw.rng.random_range(0..4) as f64;
            g = g.then(Affine::rotate(std::f64::consts::FRAC_PI_2 * quarter));
        }
        if self.contains(Transform::XInt) && draw.chosen() {
            let mut shift = |side: f64| ((uniform(draw.rng) * XINT_MAX) * side).round();
            let (tx, ty) = (shift(w), shift(h));
            g = g.then(Affine::translate(-tx, -ty));
        }
        if self.contains(Transform::Scale) && draw.chosen() {
            let s = (normal(draw.rng) * SCALE_STD).exp2();
            g = g.then(Affine::scale(1.0 / s, 1.0 / s));
        }
        // Two chances of a rotation, each with the probability that makes at least one of
        // them as likely as any other transform.
        let rotate_probability = 1.0 - (1.0 - draw.probability.clamp(0.0, 1.0)).sqrt();
        let rotate = |g: Affine, draw: &mut Draw<'_, R>| match self.contains(Transform::Rotate)
            && draw.chosen_with(rotate_probability)
        {
            true => g.then(Affine::rotate(
                -uniform(draw.rng) * std::f64::consts::PI * ROTATE_MAX,
            )),
            false => g,
        };
        g = rotate(g, draw);
        if self.contains(Transform::Aniso) && draw.chosen() {
            let s = (normal(draw.rng) * ANISO_STD).exp2();
            g = g.then(Affine::scale(1.0 / s, s));
        }
        g = rotate(g, draw);
        if self.contains(Transform::XFrac) && draw.chosen() {
            let (tx, ty) = (normal(draw.rng) * XFRAC_STD, normal(draw.rng) * XFRAC_STD);
            g = g.then(Affine::translate(-tx * w, -ty * h));
        }
        g
    }

    /// One image's colour transform, composed as ADA does.
    fn color<R: Rng>(self, draw: &mut Draw<'_, R>) -> ColorMatrix {
        let mut c = ColorMatrix::IDENTITY;
        if self.contains(Transform::Brightness) && draw.chosen() {
            let b = normal(draw.rng) * BRIGHTNESS_STD;
            c = ColorMatrix::offset(b).then(c);
        }
        if self.contains(Transform::Contrast) && draw.chosen() {
            let gain = (normal(draw.rng) * CONTRAST_STD).exp2();
            c = ColorMatrix::gain(gain).then(c);
        }
        if self.contains(Transform::LumaFlip) && draw.chosen() {
            let flip = draw.rng.random_range(0..2) as f64;
            c = ColorMatrix::luma_flip(flip).then(c);
        }
        if self.contains(Transform::Hue) && draw.chosen() {
            let theta = uniform(draw.rng) * std::f64::consts::PI * HUE_MAX;
            c = ColorMatrix::hue(theta).then(c);
        }
        if self.contains(Transform::Saturation) && draw.chosen() {
            let gain = (normal(draw.rng) * SATURATION_STD).exp2();
            c = ColorMatrix::saturation(gain).then(c);
        }
        c
    }
}

/// A uniform draw in `[-1, 1)`.
fn uniform(rng: &mut impl Rng) -> f64 {
    rng.random::<f64>() * 2.0 - 1.0
}

/// A standard normal draw.
fn normal(rng: &mut impl Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// A 2-D affine map `[a b c; d e f; 0 0 1]`, row-major, its top two rows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Affine([f64; 6]);

impl Affine {
    const IDENTITY: Self = Self([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);

    fn scale(sx: f64, sy: f64) -> Self {
        Self([sx, 0.0, 0.0, 0.0, sy, 0.0])
    }

    fn rotate(theta: f64) -> Self {
        let (sin, cos) = theta.sin_cos();
        Self([cos, -sin, 0.0, sin, cos, 0.0])
    }

    fn translate(tx: f64, ty: f64) -> Self {
        Self([1.0, 0.0, tx, 0.0, 1.0, ty])
    }

    /// `self @ next`: `next` applied first.
    fn then(self, next: Self) -> Self {
        let [a, b, c, d, e, f] = self.0;
        let [p, q, r, s, t, u] = next.0;
        Self([
            a * p + b * s,
            a * q + b * t,
            a * r + b * u + c,
            d * p + e * s,
            d * q + e * t,
            d * r + e * u + f,
        ])
    }

    fn map(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + b * y + c, d * x + e * y + f)
    }
}

/// A colour map on `(r, g, b, 1)`: its top three rows, row-major.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ColorMatrix([[f64; 4]; 3]);

/// The unit luma axis `(1, 1, 1) / sqrt(3)`'s component.
const LUMA: f64 = 0.577_350_269_189_625_8;

impl ColorMatrix {
    const IDENTITY: Self = Self([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ]);

    fn from_fn(entry: impl Fn(usize, usize) -> f64) -> Self {
        Self(std::array::from_fn(|i| {
            std::array::from_fn(|j| entry(i, j))
        }))
    }

    fn offset(b: f64) -> Self {
        Self::from_fn(|i, j| Self::IDENTITY.0[i][j] + if j == 3 { b } else { 0.0 })
    }

    fn gain(g: f64) -> Self {
        Self::from_fn(|i, j| Self::IDENTITY.0[i][j] * if j < 3 { g } else { 1.0 })
    }

    /// `I - 2 v v^T flip` on the colour part, for the luma axis `v`.
    fn luma_flip(flip: f64) -> Self {
        Self::from_fn(|i, j| {
            Self::IDENTITY.0[i][j] - if j < 3 { 2.0 * LUMA * LUMA * flip } else { 0.0 }
        })
    }

    /// A rotation by `theta` about the luma axis (Rodrigues' formula).
    fn hue(theta: f64) -> Self {
        let (sin, cos) = theta.sin_cos();
        // The cross-product matrix of the luma axis: [0 -v v; v 0 -v; -v v 0].
        let cross = |i: usize, j: usize| match (j + 3 - i) % 3 {
            0 => 0.0,
            1 => -LUMA,
            _ => LUMA,
        };
        Self::from_fn(|i, j| match j {
            3 => 0.0,
            _ => {
                let identity = Self::IDENTITY.0[i][j];
                cos * identity + sin * cross(i, j) + (1.0 - cos) * LUMA * LUMA
            }
        })
    }

    /// `v v^T + (I - v v^T) gain` on the colour part.
    fn saturation(gain: f64) -> Self {
        Self::from_fn(|i, j| match j {
            3 => 0.0,
            _ => LUMA * LUMA + (Self::IDENTITY.0[i][j] - LUMA * LUMA) * gain,
        })
    }

    /// The colour part, row-major.
    fn linear(&self) -> [f32; 9] {
        std::array::from_fn(|k| self.0[k / 3][k % 3] as f32)
    }

    /// The offset column.
    fn offsets(&self) -> [f32; 3] {
        self.0.map(|row| row[3] as f32)
    }

    /// ADA's reduction for one channel: the mean over the three rows of the row's gain (the
    /// sum of its colour part) and of its offset.
    fn grey(&self) -> (f32, f32) {
        let mean = |value: fn(&[f64; 4]) -> f64| self.0.iter().map(value).sum::<f64>() / 3.0;
        let gain = mean(|row| row[..3].iter().sum());
        (gain as f32, mean(|row| row[3]) as f32)
    }

    /// `self @ next` on `(r, g, b, 1)`: `next` applied first.
    fn then(self, next: Self) -> Self {
        let row = |i: usize| -> [f64; 4] {
            std::array::from_fn(|j| {
                let product: f64 = (0..3).map(|k| self.0[i][k] * next.0[k][j]).sum();
                product + if j == 3 { self.0[i][3] } else { 0.0 }
            })
        };
        Self([row(0), row(1), row(2)])
    }
}

/// `index` mirrored into `0..side` (the image reflected beyond its borders, edges not
/// repeated).
fn reflect(index: i64, side: usize) -> usize {
    if side == 1 {
        return 0;
    }
    let period = 2 * (side as i64 - 1);
    let folded = index.rem_euclid(period);
    match folded < side as i64 {
        true => folded as usize,
        false => (period - folded) as usize,
    }
}

/// A coordinate's pixel below and the weight of the one above (0 on a pixel).
fn split(coordinate: f64) -> (i64, f64) {
    let nearest = coordinate.round();
    match (coordinate - nearest).abs() < ON_PIXEL {
        true => (nearest as i64, 0.0),
        false => (coordinate.floor() as i64, coordinate - coordinate.floor()),
    }
}

/// Each image resampled bilinearly at its inverse map of every output pixel: a weighted
/// sum of four index selections from the flattened batch (one where every point is on a
/// pixel).
fn resample(x: Tensor<4>, inverses: &[Affine]) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let plane = h * w;
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    // Per corner: each output pixel's source offset within its plane, and its weight.
    let mut offsets = vec![vec![0usize; batch * plane]; 4];
    let mut weights = vec![vec![0f32; batch * plane]; 4];
    for (item, g) in inverses.iter().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = g.map(x as f64 - cx, y as f64 - cy);
                let (x0, fx) = split(sx + cx);
                let (y0, fy) = split(sy + cy);
                let at = item * plane + y * w + x;
                let corners = [
                    (y0, x0, (1.0 - fy) * (1.0 - fx)),
                    (y0, x0 + 1, (1.0 - fy) * fx),
                    (y0 + 1, x0, fy * (1.0 - fx)),
                    (y0 + 1, x0 + 1, fy * fx),
                ];
                for (corner, (yy, xx, weight)) in corners.into_iter().enumerate() {
                    offsets[corner][at] = reflect(yy, h) * w + reflect(xx, w);
                    weights[corner][at] = weight as f32;
                }
            }
        }
    }
    let on_pixels = weights[1..].iter().flatten().all(|&weight| weight == 0.0);
    let corners = if on_pixels { 1 } else { 4 };
    let device = x.device();
    let flat = x.reshape([batch * channels * plane]);
    let term = |corner: usize| {
        let indices: Vec<i64> = (0..batch * channels)
            .flat_map(|item_channel| {
                let item = item_channel / channels;
                let offsets = &offsets[corner][item * plane..(item + 1) * plane];
                offsets
                    .iter()
                    .map(move |&offset| (item_channel * plane + offset) as i64)
            })
            .collect();
        let indices = Tensor::<1, Int>::from_ints(indices.as_slice(), &device);
        let picked = flat
            .clone()
            .select(0, indices)
            .reshape([batch, channels, h, w]);
        match on_pixels {
            true => picked,
            false => {
                let weight = Tensor::<1>::from_floats(weights[corner].as_slice(), &device)
                    .reshape([batch, 1, h, w]);
                picked * weight
            }
        }
    };
    (1..corners).fold(term(0), |sum, corner| sum + term(corner))
}

/// Each image's colours mapped by its matrix: a batched product for RGB, ADA's per-image gain
/// and offset (each the mean of the three rows') for one channel.
fn recolor(x: Tensor<4>, colors: &[ColorMatrix]) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let device = x.device();
    let floats = |values: Vec<f32>| Tensor::<1>::from_floats(values.as_slice(), &device);
    match channels {
        3 => {
            let linear = floats(colors.iter().flat_map(ColorMatrix::linear).collect());
            let offset = floats(colors.iter().flat_map(ColorMatrix::offsets).collect());
            let mapped = linear
                .reshape([batch, 3, 3])
                .matmul(x.reshape([batch, 3, h * w]));
            (mapped + offset.reshape([batch, 3, 1])).reshape([batch, 3, h, w])
        }
        _ => {
            let (gain, offset): (Vec<f32>, Vec<f32>) = colors.iter().map(ColorMatrix::grey).unzip();
            x * floats(gain).reshape([batch, 1, 1, 1]) + floats(offset).reshape([batch, 1, 1, 1])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::AugmentPolicy;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// A map from an output pixel `(y, x)` to its source, given the last index `m`.
    type Symmetry = fn(usize, usize, usize) -> (usize, usize);

    /// Images whose every value differs: `[B, C, H, W]`, in `[-1, 1)`.
    fn distinct(shape: [usize; 4], device: &Device) -> Tensor<4> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| i as f32 / n as f32 * 2.0 - 1.0).collect();
        Tensor::<1>::from_floats(values.as_slice(), device).reshape(shape)
    }

    fn augment(policy: &str, x: Tensor<4>, seed: u64) -> Tensor<4> {
        let policy = AugmentPolicy::parse(policy).unwrap();
        policy.apply(x, &mut Pcg64Mcg::seed_from_u64(seed))
    }

    #[test]
    fn groups_name_ada_transforms_and_names_round_trip() {
        let bgc = AugmentPolicy::parse("bgc").unwrap();
        assert_eq!(bgc.pipeline.iter().count(), 12);
        assert!(!bgc.color && !bgc.translation && !bgc.cutout);
        let blit = AugmentPolicy::parse("blit").unwrap();
        assert_eq!(blit.names(), "xflip,rotate90,xint");
        let geom = AugmentPolicy::parse("geom").unwrap();
        assert_eq!(geom.names(), "scale,rotate,aniso,xfrac");
        let mixed = AugmentPolicy::parse("hue, xflip,cutout").unwrap();
        assert_eq!(mixed.names(), "xflip,hue,cutout");
        for policy in [bgc, blit, geom, mixed] {
            assert_eq!(AugmentPolicy::parse(&policy.names()).unwrap(), policy);
        }
        let err = AugmentPolicy::parse("xflip,rotate45").unwrap_err();
        assert!(err.contains("\"rotate45\"") && err.contains("bgc"), "{err}");
    }

    #[test]
    fn blitting_flips_and_quarter_turns_exactly() {
        let device = Device::flex();
        let n = 6;
        let x = distinct([16, 3, n, n], &device);
        let before = host(x.clone());
        let after = host(augment("xflip,rotate90", x, 7));
        // The eight symmetries of the square, as maps from an output pixel to its source.
        let m = n - 1;
        let symmetries: [Symmetry; 8] = [
            |_, y, x| (y, x),
            |m, y, x| (y, m - x),
            |m, y, x| (m - y, x),
            |m, y, x| (m - y, m - x),
            |_, y, x| (x, y),
            |m, y, x| (x, m - y),
            |m, y, x| (m - x, y),
            |m, y, x| (m - x, m - y),
        ];
        let mut seen = [false; 8];
        for item in 0..16 {
            let image =
                |v: &[f32], c: usize, y: usize, x: usize| v[((item * 3 + c) * n + y) * n + x];
            let found = (0..8).find(|&s| {
                (0..3).all(|c| {
                    (0..n).all(|y| {
                        (0..n).all(|x| {
                            let (sy, sx) = symmetries[s](m, y, x);
                            image(&after, c, y, x) == image(&before, c, sy, sx)
                        })
                    })
                })
            });
            let found = found.unwrap_or_else(|| panic!("image {item} is no symmetry of its input"));
            seen[found] = true;
        }
        assert!(seen.iter().filter(|s| **s).count() >= 4, "{seen:?}");
    }

    #[test]
    fn integer_translation_mirrors_the_image_beyond_its_borders() {
        let device = Device::flex();
        let n = 8;
        let x = distinct([12, 2, n, n], &device);
        let before = host(x.clone());
        let after = host(augment("xint", x, 3));
        // Mirrored without repeating the edge: -1 -> 1, 8 -> 6.
        let mirror = |i: i64| match i {
            -1 => 1,
            8 => 6,
            i => i as usize,
        };
        let mut moved = 0;
        for item in 0..12 {
            let image =
                |v: &[f32], c: usize, y: usize, x: usize| v[((item * 2 + c) * n + y) * n + x];
            let shift = (-1i64..=1)
                .flat_map(|dy| (-1i64..=1).map(move |dx| (dy, dx)))
                .find(|&(dy, dx)| {
                    (0..2).all(|c| {
                        (0..n).all(|y| {
                            (0..n).all(|x| {
                                let (sy, sx) = (mirror(y as i64 + dy), mirror(x as i64 + dx));
                                image(&after, c, y, x) == image(&before, c, sy, sx)
                            })
                        })
                    })
                });
            let shift = shift.unwrap_or_else(|| panic!("image {item} is not a mirrored shift"));
            moved += usize::from(shift != (0, 0));
        }
        assert!(moved >= 6, "{moved} of 12 images moved");
    }

    #[test]
    fn general_geometry_samples_a_linear_image_exactly_inside() {
        // Bilinear sampling reproduces a linear image wherever the four pixels around a
        // sampling point are inside, so the output is an affine function of the output pixel
        // there: its second differences vanish. Wrong corner weights break that.
        let device = Device::flex();
        let (batch, n) = (8, 32);
        let values: Vec<f32> = (0..batch * n * n)
            .map(|i| {
                let (y, x) = ((i / n) % n, i % n);
                0.05 * x as f32 - 0.03 * y as f32
            })
            .collect();
        let x = Tensor::<1>::from_floats(values.as_slice(), &device).reshape([batch, 1, n, n]);
        let after = host(augment("geom", x, 11));
        let mut changed = 0;
        for item in 0..batch {
            let at = |y: usize, x: usize| after[(item * n + y) * n + x];
            for y in 14..18 {
                for x in 14..18 {
                    let dxx = at(y, x + 1) - 2.0 * at(y, x) + at(y, x - 1);
                    let dyy = at(y + 1, x) - 2.0 * at(y, x) + at(y - 1, x);
                    let dxy = at(y + 1, x + 1) - at(y + 1, x) - at(y, x + 1) + at(y, x);
                    let dxy_back = at(y, x) - at(y - 1, x) - at(y, x - 1) + at(y - 1, x - 1);
                    assert!(
                        dxx.abs() < 1e-4 && dyy.abs() < 1e-4,
                        "item {item} ({y}, {x})"
                    );
                    assert!((dxy - dxy_back).abs() < 1e-4, "item {item} ({y}, {x})");
                }
            }
            changed += usize::from((at(16, 16) - values[16 * n + 16]).abs() > 1e-3);
        }
        assert!(changed >= 6, "{changed} of {batch} images moved");
    }

    /// Each pixel's channel mean and its distance from it, `[B * H * W]` each.
    fn luma_and_chroma(v: &[f32], batch: usize, plane: usize) -> (Vec<f32>, Vec<f32>) {
        let pixel = |b: usize, p: usize| [0, 1, 2].map(|c| v[(b * 3 + c) * plane + p]);
        let mut luma = Vec::new();
        let mut chroma = Vec::new();
        for b in 0..batch {
            for p in 0..plane {
                let rgb = pixel(b, p);
                let mean = rgb.iter().sum::<f32>() / 3.0;
                luma.push(mean);
                chroma.push(rgb.iter().map(|c| (c - mean).powi(2)).sum::<f32>().sqrt());
            }
        }
        (luma, chroma)
    }

    #[test]
    fn hue_turns_colours_about_the_grey_axis() {
        let device = Device::flex();
        let x = distinct([6, 3, 4, 4], &device);
        let before = host(x.clone());
        let after = host(augment("hue", x, 5));
        let (luma, chroma) = luma_and_chroma(&before, 6, 16);
        let (luma_after, chroma_after) = luma_and_chroma(&after, 6, 16);
        for (a, b) in luma
            .iter()
            .zip(&luma_after)
            .chain(chroma.iter().zip(&chroma_after))
        {
            assert!((a - b).abs() < 1e-5, "{a} against {b}");
        }
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| (*a - *b).abs() > 1e-3)
            .count();
        assert!(
            moved > before.len() / 2,
            "{moved} of {} values moved",
            before.len()
        );
    }

    #[test]
    fn saturation_scales_colour_away_from_grey_and_keeps_grey() {
        let device = Device::flex();
        let x = distinct([6, 3, 4, 4], &device);
        let before = host(x.clone());
        let after = host(augment("saturation", x, 2));
        let (luma, chroma) = luma_and_chroma(&before, 6, 16);
        let (luma_after, chroma_after) = luma_and_chroma(&after, 6, 16);
        for (a, b) in luma.iter().zip(&luma_after) {
            assert!((a - b).abs() < 1e-5, "{a} against {b}");
        }
        // One gain per image.
        for image in 0..6 {
            let gains: Vec<f32> = (image * 16..(image + 1) * 16)
                .map(|p| chroma_after[p] / chroma[p])
                .collect();
            assert!(
                gains.iter().all(|g| (g - gains[0]).abs() < 1e-3),
                "{gains:?}"
            );
        }
        // A grey image stays as it is, on three channels and on one.
        let grey = Tensor::<4>::ones([4, 3, 2, 2], &device) * 0.3;
        let out = host(augment("saturation,hue", grey, 2));
        assert!(out.iter().all(|v| (v - 0.3).abs() < 1e-5), "{out:?}");
        let grey = Tensor::<4>::ones([4, 1, 2, 2], &device) * 0.3;
        let out = host(augment("saturation,hue", grey, 2));
        assert!(out.iter().all(|v| (v - 0.3).abs() < 1e-5), "{out:?}");
    }

    #[test]
    fn luma_flip_negates_grey_brightness_and_contrast_move_it() {
        let device = Device::flex();
        let grey = Tensor::<4>::ones([16, 1, 2, 2], &device) * 0.5;
        let flipped = host(augment("lumaflip", grey.clone(), 1));
        let signs: Vec<bool> = flipped.chunks_exact(4).map(|v| v[0] < 0.0).collect();
        assert!(flipped.iter().all(|v| (v.abs() - 0.5).abs() < 1e-6));
        assert!(signs.contains(&true) && signs.contains(&false), "{signs:?}");
        // Brightness and contrast: one gain and offset per image, the same on every pixel.
        let x = distinct([5, 1, 2, 2], &device);
        let before = host(x.clone());
        let after = host(augment("brightness,contrast", x, 4));
        for (out, input) in after.chunks_exact(4).zip(before.chunks_exact(4)) {
            let gain = (out[1] - out[0]) / (input[1] - input[0]);
            let offset = out[0] - gain * input[0];
            for (o, i) in out.iter().zip(input) {
                assert!((o - (gain * i + offset)).abs() < 1e-5);
            }
            assert!((gain - 1.0).abs() > 1e-4 || offset.abs() > 1e-4);
        }
    }

    #[test]
    fn the_whole_pipeline_is_affine_and_its_gradient_is_exact() {
        // With the draws fixed (same seed), y = A x + b: the gradient of <y, r> is A^T r, so
        // <y(x), r> - <y(0), r> equals <gradient, x>.
        let device = Device::flex().autodiff();
        let shape = [4, 3, 8, 8];
        let x = distinct(shape, &device).require_grad();
        let r = distinct(shape, &device).flip([3]).detach();
        let y = augment("bgc", x.clone(), 21);
        let value = (y * r.clone()).sum();
        let grads = value.clone().backward();
        let grad = x.grad(&grads).expect("x is tracked");
        let at_zero = (augment("bgc", Tensor::zeros(shape, &device), 21) * r).sum();
        let lhs = value.into_scalar::<f32>() - at_zero.into_scalar::<f32>();
        let rhs = (grad * x.inner()).sum().into_scalar::<f32>();
        assert!(rhs.abs() > 1e-2, "gradient {rhs}");
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} against {rhs}"
        );
    }

    #[test]
    fn reflection_folds_indices_into_the_image() {
        let folded: Vec<usize> = (-5..10).map(|i| reflect(i, 4)).collect();
        assert_eq!(folded, [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
        assert_eq!(reflect(-3, 1), 0);
    }
}
