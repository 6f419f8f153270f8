//! Augmentations of the images a discriminator scores, real and generated alike, in both
//! steps: DiffAugment's (Zhao et al. 2020) random colour, translation and cutout, and ADA's
//! pipeline of geometric and colour transforms (Karras et al. 2020, [`pipeline`]). Each is an
//! ordinary tensor operation (additions and products with per-item factors, index
//! selections, a mask, a batched matrix product), so the generator's gradient flows back
//! through the augmentation of its samples.
//!
//! The random factors, shifts and holes are drawn on the host from the RNG the caller passes,
//! so a seeded caller gets the same augmentations on every backend and after a resume.

use burn::prelude::*;
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

pub mod pipeline;

pub use pipeline::{Transform, Transforms};

/// Largest shift of [`AugmentPolicy::translation`], as a share of the image side.
const TRANSLATION_RATIO: f32 = 0.125;
/// Side of [`AugmentPolicy::cutout`]'s square hole, as a share of the image side.
const CUTOUT_RATIO: f32 = 0.5;

/// Which augmentations to apply: ADA's pipeline first (its geometric, then its colour
/// transforms), then DiffAugment's colour, translation and cutout.
///
/// # Shapes
/// - images: `[B, C, H, W]`
/// - output: `[B, C, H, W]`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AugmentPolicy {
    /// Brightness (plus a value in `[-0.5, 0.5)`), saturation (the spread around the pixel's
    /// channel mean times `[0, 2)`) and contrast (the spread around the image mean times
    /// `[0.5, 1.5)`), each drawn per image.
    pub color: bool,
    /// A shift by up to an eighth of the side in each direction, zeros shifted in.
    pub translation: bool,
    /// A zeroed square of half the side, centred anywhere (clipped at the borders).
    pub cutout: bool,
    /// ADA's transforms.
    #[serde(default)]
    pub pipeline: Transforms,
}

impl AugmentPolicy {
    /// The policy a comma-separated list names (`"color,translation,cutout"`, `"bgc"`,
    /// `"xflip,xint"`: DiffAugment's names and those of [`Transforms::named`]); an unknown
    /// name is an error naming the valid ones.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut policy = Self::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "color" => policy.color = true,
                "translation" => policy.translation = true,
                "cutout" => policy.cutout = true,
                other => match Transforms::named(other) {
                    Some(set) => policy.pipeline = policy.pipeline.union(set),
                    None => {
                        return Err(format!(
                            "{other:?} is not an augmentation; valid: color, translation, \
                             cutout (DiffAugment), {} (ADA)",
                            Transforms::known_names()
                        ));
                    }
                },
            }
        }
        Ok(policy)
    }

    /// Whether the policy changes anything.
    pub fn is_empty(&self) -> bool {
        !(self.color || self.translation || self.cutout) && self.pipeline.is_empty()
    }

    /// The comma-separated names of the augmentations, in the order they apply.
    pub fn names(&self) -> String {
        let diff_augment = [
            (self.color, "color"),
            (self.translation, "translation"),
            (self.cutout, "cutout"),
        ];
        self.pipeline
            .iter()
            .map(Transform::name)
            .chain(
                diff_augment
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, name)| *name),
            )
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `images` augmented with factors drawn from `rng`.
    pub fn apply(&self, images: Tensor<4>, rng: &mut impl Rng) -> Tensor<4> {
        self.apply_with_probability(images, 1.0, rng)
    }

    /// `images` with each augmentation (brightness, saturation and contrast counting as
    /// three) applied to each image with probability `probability`, drawn independently, as
    /// adaptive augmentation (Karras et al. 2020) does; an image it skips keeps that
    /// augmentation's identity. At `1.0` this is [`Self::apply`] with the same draws; at `0.0`
    /// the images come back unchanged and nothing is drawn.
    pub fn apply_with_probability(
        &self,
        images: Tensor<4>,
        probability: f32,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        if probability <= 0.0 {
            return images;
        }
        let mut draw = Draw { rng, probability };
        let mut x = self.pipeline.apply(images, &mut draw);
        if self.color {
            x = color(x, &mut draw);
        }
        if self.translation {
            x = translate(x, &mut draw);
        }
        if self.cutout {
            x = cut_out(x, &mut draw);
        }
        x
    }
}

/// The random source of one augmentation pass: whether each image gets an augmentation,
/// and its factors.
struct Draw<'a, R> {
    rng: &'a mut R,
    probability: f32,
}

impl<R: Rng> Draw<'_, R> {
    /// Whether the next image gets the augmentation at hand (always at probability 1, with
    /// no draw).
    fn chosen(&mut self) -> bool {
        self.chosen_with(self.probability)
    }

    /// Whether the next image gets an augmentation applied with `probability`.
    fn chosen_with(&mut self, probability: f32) -> bool {
        probability >= 1.0 || self.rng.random::<f32>() < probability
    }
}

/// One factor per image `[B, 1, 1, 1]`: `u * scale + offset` for a uniform draw `u` in
/// `[0, 1)` where the image is chosen, `identity` where it is not.
fn per_image<R: Rng>(
    draw: &mut Draw<'_, R>,
    batch: usize,
    device: &Device,
    (scale, offset): (f32, f32),
    identity: f32,
) -> Tensor<4> {
    let values: Vec<f32> = (0..batch)
        .map(|_| match draw.chosen() {
            true => draw.rng.random::<f32>() * scale + offset,
            false => identity,
        })
        .collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([batch, 1, 1, 1])
}

fn color<R: Rng>(x: Tensor<4>, draw: &mut Draw<'_, R>) -> Tensor<4> {
    let (batch, device) = (x.dims()[0], x.device());
    let brightness = per_image(draw, batch, &device, (1.0, -0.5), 0.0);
    let x = x + brightness;
    let saturation = per_image(draw, batch, &device, (2.0, 0.0), 1.0);
    let pixel_mean = x.clone().mean_dim(1); // [B, 1, H, W]
    let x = (x - pixel_mean.clone()) * saturation + pixel_mean;
    let contrast = per_image(draw, batch, &device, (1.0, 0.5), 1.0);
    let image_mean = x.clone().mean_dim(1).mean_dim(2).mean_dim(3); // [B, 1, 1, 1]
    (x - image_mean.clone()) * contrast + image_mean
}

/// Each image shifted by its own `(dy, dx)`, as one selection from the flattened batch with a
/// zero appended for the pixels shifted in.
fn translate<R: Rng>(x: Tensor<4>, draw: &mut Draw<'_, R>) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let reach = |side: usize| (side as f32 * TRANSLATION_RATIO + 0.5) as i64;
    let (reach_y, reach_x) = (reach(h), reach(w));
    let total = batch * channels * h * w;
    let mut indices = Vec::with_capacity(total);
    for item in 0..batch {
        let (dy, dx) = match draw.chosen() {
            true => (
                draw.rng.random_range(-reach_y..=reach_y),
                draw.rng.random_range(-reach_x..=reach_x),
            ),
            false => (0, 0),
        };
        for channel in 0..channels {
            let plane = (item * channels + channel) * h * w;
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let (sy, sx) = (y + dy, x + dx);
                    let inside = (0..h as i64).contains(&sy) && (0..w as i64).contains(&sx);
                    indices.push(match inside {
                        true => (plane + sy as usize * w + sx as usize) as i64,
                        false => total as i64,
                    });
                }
            }
        }
    }
    let device = x.device();
    let flat = Tensor::cat(vec![x.reshape([total]), Tensor::zeros([1], &device)], 0);
    let indices = Tensor::<1, Int>::from_ints(indices.as_slice(), &device);
    flat.select(0, indices).reshape([batch, channels, h, w])
}

/// Each image times a mask `[B, 1, H, W]` that is zero on its own square.
fn cut_out<R: Rng>(x: Tensor<4>, draw: &mut Draw<'_, R>) -> Tensor<4> {
    let [batch, _, h, w] = x.dims();
    let side = |n: usize| ((n as f32 * CUTOUT_RATIO + 0.5) as usize).max(1);
    let (cut_h, cut_w) = (side(h), side(w));
    let mut mask = vec![1.0f32; batch * h * w];
    for plane in mask.chunks_exact_mut(h * w) {
        if !draw.chosen() {
            continue;
        }
        let rng = &mut *draw.rng;
        // The square's centre, as DiffAugment draws it: anywhere, one more place for an even
        // side; its rows and columns clipped to the image.
        let cy = rng.random_range(0..h + 1 - cut_h % 2) as i64 - (cut_h / 2) as i64;
        let cx = rng.random_range(0..w + 1 - cut_w % 2) as i64 - (cut_w / 2) as i64;
        let rows = cy.max(0) as usize..((cy + cut_h as i64).max(0) as usize).min(h);
        let cols = cx.max(0) as usize..((cx + cut_w as i64).max(0) as usize).min(w);
        for row in plane.chunks_exact_mut(w).take(rows.end).skip(rows.start) {
            row[cols.clone()].fill(0.0);
        }
    }
    let mask = Tensor::<1>::from_floats(mask.as_slice(), &x.device()).reshape([batch, 1, h, w]);
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// `[B, C, H, W]` values that are all different and positive.
    fn ramp(shape: [usize; 4], device: &Device) -> Tensor<4> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();
        Tensor::<1>::from_floats(values.as_slice(), device).reshape(shape)
    }

    #[test]
    fn a_policy_is_parsed_by_name() {
        let all = AugmentPolicy::parse("color, translation,cutout").unwrap();
        assert!(all.color && all.translation && all.cutout);
        assert_eq!(all.names(), "color,translation,cutout");
        assert!(AugmentPolicy::parse("").unwrap().is_empty());
        let err = AugmentPolicy::parse("color,flip").unwrap_err();
        assert!(err.contains("\"flip\"") && err.contains("cutout"), "{err}");
    }

    #[test]
    fn translation_shifts_each_image_and_fills_with_zeros() {
        let device = Device::flex();
        let x = ramp([3, 2, 8, 8], &device);
        let before = host(x.clone());
        let policy = AugmentPolicy {
            translation: true,
            ..AugmentPolicy::default()
        };
        let after = host(policy.apply(x, &mut Pcg64Mcg::seed_from_u64(5)));
        // Each output pixel is zero or the input pixel at one shift (the image's own, within
        // one pixel of an eighth of the side) and both channels shift alike.
        for item in 0..3 {
            let at = |v: &[f32], c: usize, y: usize, x: usize| v[((item * 2 + c) * 8 + y) * 8 + x];
            let shift = (-1i64..=1)
                .flat_map(|dy| (-1i64..=1).map(move |dx| (dy, dx)))
                .find(|&(dy, dx)| {
                    (0..2).all(|c| {
                        (0..8).all(|y| {
                            (0..8).all(|x| {
                                let (sy, sx) = (y as i64 + dy, x as i64 + dx);
                                let want = if (0..8).contains(&sy) && (0..8).contains(&sx) {
                                    at(&before, c, sy as usize, sx as usize)
                                } else {
                                    0.0
                                };
                                at(&after, c, y, x) == want
                            })
                        })
                    })
                });
            assert!(shift.is_some(), "image {item} is not a shift of its input");
        }
        assert_ne!(before, after, "a seed that shifts nothing");
    }

    #[test]
    fn cutout_zeroes_one_square_per_image_across_channels() {
        let device = Device::flex();
        let x = ramp([4, 3, 8, 8], &device);
        let policy = AugmentPolicy {
            cutout: true,
            ..AugmentPolicy::default()
        };
        let after = host(policy.apply(x, &mut Pcg64Mcg::seed_from_u64(1)));
        for item in after.chunks_exact(3 * 64) {
            let zeros: Vec<usize> = (0..64).filter(|&p| item[p] == 0.0).collect();
            assert!(!zeros.is_empty() && zeros.len() <= 16, "{zeros:?}");
            for c in 1..3 {
                let same: Vec<usize> = (0..64).filter(|&p| item[c * 64 + p] == 0.0).collect();
                assert_eq!(same, zeros);
            }
            // A rectangle: its bounding box is all zeros.
            let (rows, cols): (Vec<usize>, Vec<usize>) =
                zeros.iter().map(|p| (p / 8, p % 8)).unzip();
            let area = (rows.iter().max().unwrap() - rows.iter().min().unwrap() + 1)
                * (cols.iter().max().unwrap() - cols.iter().min().unwrap() + 1);
            assert_eq!(area, zeros.len());
        }
    }

    #[test]
    fn color_is_seeded_and_lets_gradients_through() {
        let device = Device::flex().autodiff();
        let x = ramp([2, 3, 4, 4], &device).require_grad();
        let policy = AugmentPolicy {
            color: true,
            ..AugmentPolicy::default()
        };
        let y = policy.apply(x.clone(), &mut Pcg64Mcg::seed_from_u64(3));
        let grads = y.clone().sum().backward();
        let grad = x.grad(&grads).expect("x is tracked");
        assert!(grad.abs().sum().into_scalar::<f32>() > 0.0);
        // Same seed, same augmentation; another seed, another.
        let again = policy.apply(x.clone(), &mut Pcg64Mcg::seed_from_u64(3));
        let other = policy.apply(x, &mut Pcg64Mcg::seed_from_u64(4));
        let y = host(y.inner());
        assert_eq!(y, host(again.inner()));
        assert_ne!(y, host(other.inner()));
    }

    #[test]
    fn each_augmentation_applies_to_a_share_of_the_images() {
        let device = Device::flex();
        let policy = AugmentPolicy::parse("color,translation,cutout").unwrap();
        let x = ramp([200, 1, 8, 8], &device);
        let before = host(x.clone());
        let apply = |p: f32, seed: u64| {
            host(policy.apply_with_probability(x.clone(), p, &mut Pcg64Mcg::seed_from_u64(seed)))
        };
        // Probability 1 is the plain policy, draw for draw; 0 changes nothing.
        let plain = host(policy.apply(x.clone(), &mut Pcg64Mcg::seed_from_u64(9)));
        assert_eq!(apply(1.0, 9), plain);
        assert_eq!(apply(0.0, 9), before);
        // An image escapes all five augmentations with probability (1 - p)^5.
        let untouched = |values: &[f32]| {
            values
                .chunks_exact(64)
                .zip(before.chunks_exact(64))
                .filter(|(a, b)| a == b)
                .count()
        };
        assert_eq!(untouched(&plain), 0);
        let at_half = untouched(&apply(0.5, 9));
        // 200 / 32 = 6.25 expected; a binomial's 4 standard deviations either side.
        assert!(
            (1..=16).contains(&at_half),
            "{at_half} of 200 untouched at p = 0.5"
        );
        let at_tenth = untouched(&apply(0.1, 9));
        // 200 x 0.9^5 = 118.
        assert!(
            (90..=146).contains(&at_tenth),
            "{at_tenth} of 200 untouched at p = 0.1"
        );
    }
}
