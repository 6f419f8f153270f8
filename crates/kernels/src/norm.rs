//! Training-mode batch normalisation followed by an optional LeakyReLU, over host buffers:
//! two reductions and one fused pass forward, one reduction and one fused pass backward.
//!
//! With `m` and `v` a channel's batch mean and biased variance, `r = 1 / sqrt(v + eps)`:
//! `y = act(gamma * (x - m) * r + beta)`, computed as `act(x * a + b)` with
//! `a = gamma * r`, `b = beta - m * a`. Backward, with `dz = dy * act'(y)`, `N` elements per
//! channel and `x^ = (x - m) * r`:
//! `dbeta = sum dz`, `dgamma = sum dz x^`, and
//! `dx = a * (dz - dbeta / N - x^ dgamma / N)`, which is `a * dz + p * x + q` with
//! per-channel `p = -a * r * dgamma / N` and `q = -a * dbeta / N - p * m`.

use crate::activation::LeakyRelu;
use crate::elementwise::Channels;

/// The outputs of a forward pass.
#[derive(Debug)]
pub struct Forward {
    /// `act(normalised x * gamma + beta)`, in the input's layout.
    pub y: Vec<f32>,
    /// Per-channel batch means.
    pub mean: Vec<f32>,
    /// Per-channel biased batch variances.
    pub variance: Vec<f32>,
}

/// The gradients of a backward pass.
#[derive(Debug)]
pub struct Grads {
    /// Of the input.
    pub x: Vec<f32>,
    /// Of the scale `gamma`.
    pub gamma: Vec<f32>,
    /// Of the shift `beta`.
    pub beta: Vec<f32>,
}

/// One batch normalisation: the tensor's shape, `epsilon` and the activation after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm {
    /// The tensor as `[batch, channels, spatial]`.
    pub shape: Channels,
    /// Added to the variance before the square root.
    pub epsilon: f32,
    /// The activation applied to the normalised values (`None`: none).
    pub activation: Option<LeakyRelu>,
}

impl BatchNorm {
    /// The activation; none is a LeakyReLU of slope 1 (the identity, exactly).
    fn act(&self) -> LeakyRelu {
        self.activation.unwrap_or(LeakyRelu::new(1.0))
    }

    fn count(&self) -> f64 {
        self.shape.per_channel().max(1) as f64
    }

    /// `1 / sqrt(variance + epsilon)` per channel.
    pub fn inverse_std(&self, variance: &[f32]) -> Vec<f32> {
        variance
            .iter()
            .map(|&v| 1.0 / (v + self.epsilon).sqrt())
            .collect()
    }

    /// The forward pass of `x` with scale `gamma` and shift `beta` (one per channel).
    pub fn forward(&self, x: &[f32], gamma: &[f32], beta: &[f32]) -> Forward {
        let shape = self.shape;
        let n = self.count();
        let mean: Vec<f32> = shape
            .sums([x], [], |[v], []| [v])
            .iter()
            .map(|[s]| (s / n) as f32)
            .collect();
        let variance: Vec<f32> = shape
            .sums([x], [&mean], |[v], [m]| [(v - m) * (v - m)])
            .iter()
            .map(|[s]| (s / n) as f32)
            .collect();
        let y = self.with_statistics(x, gamma, beta, &mean, &variance);
        Forward { y, mean, variance }
    }

    /// Normalisation with given statistics (a layer's running mean and variance, in
    /// evaluation mode): `act((x - mean) / sqrt(variance + eps) * gamma + beta)`.
    pub fn with_statistics(
        &self,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        variance: &[f32],
    ) -> Vec<f32> {
        let shape = self.shape;
        let r = self.inverse_std(variance);
        let a: Vec<f32> = gamma.iter().zip(&r).map(|(g, r)| g * r).collect();
        let b: Vec<f32> = (0..shape.channels)
            .map(|c| beta[c] - mean[c] * a[c])
            .collect();
        let act = self.act();
        shape.mapped([x], [&a, &b], move |[v], [a, b]| act.apply(v * a + b))
    }

    /// The backward pass for the output gradient `dy`, given the forward's input `x`, output
    /// `y`, its batch `mean` and variance (as [`Self::inverse_std`]), and `gamma`.
    pub fn backward(
        &self,
        dy: &[f32],
        x: &[f32],
        y: &[f32],
        mean: &[f32],
        inverse_std: &[f32],
        gamma: &[f32],
    ) -> Grads {
        let shape = self.shape;
        let n = self.count();
        let act = self.act();
        let dz = move |dy: f32, y: f32| dy * act.slope_at(y);
        let sums = shape.sums(
            [dy, y, x],
            [mean, inverse_std],
            move |[dy, y, x], [m, r]| {
                let dz = dz(dy, y);
                [dz, dz * (x - m) * r]
            },
        );
        let beta_grad: Vec<f32> = sums.iter().map(|s| s[0] as f32).collect();
        let gamma_grad: Vec<f32> = sums.iter().map(|s| s[1] as f32).collect();
        let channels = shape.channels;
        let a: Vec<f32> = (0..channels).map(|c| gamma[c] * inverse_std[c]).collect();
        let p: Vec<f32> = (0..channels)
            .map(|c| (-f64::from(a[c] * inverse_std[c]) * sums[c][1] / n) as f32)
            .collect();
        let q: Vec<f32> = (0..channels)
            .map(|c| (-f64::from(a[c]) * sums[c][0] / n) as f32 - p[c] * mean[c])
            .collect();
        let dx = shape.mapped([dy, y, x], [&a, &p, &q], move |[dy, y, x], [a, p, q]| {
            a * dz(dy, y) + p * x + q
        });
        Grads {
            x: dx,
            gamma: gamma_grad,
            beta: beta_grad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::ramp;

    /// The definition, in `f64`, element by element: outputs and gradients.
    fn reference(
        norm: &BatchNorm,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        dy: &[f32],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let Channels {
            batch,
            channels,
            spatial,
        } = norm.shape;
        let ch = |i: usize| (i / spatial) % channels;
        let n = (batch * spatial) as f64;
        let mut mean = vec![0.0f64; channels];
        for (i, &v) in x.iter().enumerate() {
            mean[ch(i)] += f64::from(v) / n;
        }
        let mut var = vec![0.0f64; channels];
        for (i, &v) in x.iter().enumerate() {
            var[ch(i)] += (f64::from(v) - mean[ch(i)]).powi(2) / n;
        }
        let r: Vec<f64> = var
            .iter()
            .map(|v| 1.0 / (v + f64::from(norm.epsilon)).sqrt())
            .collect();
        let xhat: Vec<f64> = (0..x.len())
            .map(|i| (f64::from(x[i]) - mean[ch(i)]) * r[ch(i)])
            .collect();
        let z: Vec<f64> = (0..x.len())
            .map(|i| xhat[i] * f64::from(gamma[ch(i)]) + f64::from(beta[ch(i)]))
            .collect();
        let slope = norm.activation.map(|a| f64::from(a.negative_slope));
        let y: Vec<f64> = z
            .iter()
            .map(|&z| match slope {
                Some(s) if z < 0.0 => s * z,
                _ => z,
            })
            .collect();
        let dz: Vec<f64> = (0..x.len())
            .map(|i| match slope {
                Some(s) if z[i] < 0.0 => s * f64::from(dy[i]),
                _ => f64::from(dy[i]),
            })
            .collect();
        let (mut dbeta, mut dgamma) = (vec![0.0f64; channels], vec![0.0f64; channels]);
        for i in 0..x.len() {
            dbeta[ch(i)] += dz[i];
            dgamma[ch(i)] += dz[i] * xhat[i];
        }
        let dx: Vec<f64> = (0..x.len())
            .map(|i| {
                let c = ch(i);
                f64::from(gamma[c]) * r[c] * (dz[i] - dbeta[c] / n - xhat[i] * dgamma[c] / n)
            })
            .collect();
        (y, dx, dgamma, dbeta)
    }

    fn close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what} length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() <= tol * w.abs().max(1.0),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn forward_and_backward_match_the_definition() {
        let shapes = [(6, 5, 1), (4, 3, 35), (2, 16, 49), (3, 2, 9)];
        let activations = [None, Some(0.2), Some(0.0)];
        for (batch, channels, spatial) in shapes {
            for slope in activations {
                let norm = BatchNorm {
                    shape: Channels {
                        batch,
                        channels,
                        spatial,
                    },
                    epsilon: 1e-5,
                    activation: slope.map(LeakyRelu::new),
                };
                let len = norm.shape.len();
                let x: Vec<f32> = ramp(len, 1, 0.07).iter().map(|v| v + 1.5).collect();
                let gamma: Vec<f32> = (0..channels).map(|c| 1.0 + 0.1 * c as f32).collect();
                let beta: Vec<f32> = (0..channels).map(|c| 0.05 * c as f32 - 0.13).collect();
                let dy = ramp(len, 5, 0.03);
                crate::uninit::poison_freed(len);
                let forward = norm.forward(&x, &gamma, &beta);
                let r = norm.inverse_std(&forward.variance);
                crate::uninit::poison_freed(len);
                let grads = norm.backward(&dy, &x, &forward.y, &forward.mean, &r, &gamma);
                let (y, dx, dgamma, dbeta) = reference(&norm, &x, &gamma, &beta, &dy);
                let what = format!("{:?} slope {slope:?}", norm.shape);
                close(&forward.y, &y, 2e-5, &format!("y {what}"));
                close(&grads.x, &dx, 2e-4, &format!("dx {what}"));
                close(&grads.gamma, &dgamma, 2e-5, &format!("dgamma {what}"));
                close(&grads.beta, &dbeta, 2e-5, &format!("dbeta {what}"));
                // With the batch's own statistics given, the same output.
                let given =
                    norm.with_statistics(&x, &gamma, &beta, &forward.mean, &forward.variance);
                close(&given, &y, 2e-5, &format!("given statistics {what}"));
            }
        }
    }
}
