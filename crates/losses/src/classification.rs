//! The auxiliary classification loss of AC-GAN (Odena et al. 2017).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Cross-entropy of class logits against integer labels, averaged over the batch:
/// `-mean_i log softmax(logits_i)[labels_i]`, PyTorch's `cross_entropy`.
///
/// # Shapes
/// - logits: `[B, K]`; labels: `[B]` in `0..K`
/// - output: `[1]`
pub fn class_cross_entropy(logits: Tensor<2>, labels: &Tensor<1, Int>) -> Tensor<1> {
    let batch = labels.dims()[0];
    let picked = log_softmax(logits, 1).gather(1, labels.clone().reshape([batch, 1])); // [B, 1]
    picked.mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn matches_hand_values_and_pulls_towards_the_label() {
        let device = device().autodiff();
        // Row 0: logits (0, ln 3) with label 1 -> -log(3/4); row 1: (0, 0) with label 0 -> log 2.
        let logits = Tensor::<1>::from_floats([0.0, 3f32.ln(), 0.0, 0.0], &device)
            .reshape([2, 2])
            .require_grad();
        let labels = Tensor::<1, Int>::from_ints([1, 0], &device);
        let loss = class_cross_entropy(logits.clone(), &labels);
        let expect = (-(0.75f32).ln() + 2f32.ln()) / 2.0;
        assert!(close(loss.clone().into_scalar::<f32>(), expect));
        let grad = logits
            .grad(&loss.backward())
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // d/dlogits = (softmax - onehot) / B: negative at the label, positive elsewhere.
        let expect = [0.125, -0.125, -0.25, 0.25];
        for (g, e) in grad.iter().zip(expect) {
            assert!(close(*g, e), "{grad:?}");
        }
    }
}
