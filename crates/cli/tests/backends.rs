//! Backend parity: for every backend compiled in beside flex, the same weights and inputs
//! give the same forward outputs, gradients and losses as flex, layer by layer, and one full
//! D+G iteration of `dcgan-mnist` gives the same losses and updated weights, and one
//! iteration of each class-conditioning method, and three of GAIN, the same losses.
//!
//! Tolerances (max |a - b| / max(1, max |flex|)): LibTorch CPU 1e-4, GPUs and wgpu 2e-3
//! (different summation orders, fused multiply-adds and, on GPUs, TF32-free but reordered
//! reductions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::Linear;
use burn::prelude::*;
use ganforge_backend::{BackendError, BackendKind};
use ganforge_losses::{AdversarialLoss, Hinge, LeastSquares, Minimax, NonSaturating};
use ganforge_models::{Architecture, WeightInit, layers};
use ganforge_trainer::objective::{Batch, Gan, NoClock};

/// The non-flex backends of this build that can run here. LibTorch CPU must always run; a
/// compiled-in wgpu without an adapter fails the test when `GANFORGE_REQUIRE_BACKENDS=1`
/// (`cargo xtask test` sets it when it builds every backend) or under `CI=true` (CI installs
/// a software Vulkan driver), and is skipped with a message elsewhere; tch-cuda without a GPU
/// is always skipped. With only flex compiled in, every test here is reported as ignored.
fn others() -> Vec<(BackendKind, Device)> {
    let required = |var: &str, value: &str| std::env::var(var).is_ok_and(|v| v == value);
    let ci = required("CI", "true") || required("GANFORGE_REQUIRE_BACKENDS", "1");
    let mut out = Vec::new();
    for kind in ganforge_backend::compiled() {
        if kind == BackendKind::Flex {
            continue;
        }
        match ganforge_backend::device(kind) {
            Ok(device) => out.push((kind, device)),
            Err(e @ BackendError::Unavailable { .. }) => {
                let must_run = ci && kind == BackendKind::Wgpu || kind == BackendKind::TchCpu;
                assert!(!must_run, "{e}");
                eprintln!("skipped {kind}: {e}");
            }
            Err(e) => panic!("{e}"),
        }
    }
    if out.is_empty() {
        eprintln!("no backend besides flex is compiled in: nothing to compare");
    }
    out
}

fn tolerance(kind: BackendKind) -> f32 {
    match kind {
        BackendKind::TchCpu => 1e-4,
        _ => 2e-3,
    }
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn assert_close(kind: BackendKind, what: &str, flex: &[f32], other: &[f32], tol: f32) {
    assert_eq!(flex.len(), other.len(), "{kind} {what}: lengths differ");
    let scale = flex.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = flex
        .iter()
        .zip(other)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst / scale <= tol,
        "{kind} {what}: max difference {worst} (scale {scale}) exceeds {tol}"
    );
}

/// Deterministic input values in [-1, 1].
fn values(n: usize, salt: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(salt.wrapping_mul(97));
            (x % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], salt: u32, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, salt), shape), device)
}

/// Runs `case` on flex and on every other backend and compares each returned vector.
fn parity(name: &str, case: impl Fn(&Device) -> Vec<(&'static str, Vec<f32>)>) {
    let reference = case(&Device::flex());
    for (kind, device) in others() {
        let got = case(&device);
        for ((what, a), (_, b)) in reference.iter().zip(&got) {
            assert_close(kind, &format!("{name} {what}"), a, b, tolerance(kind));
        }
    }
}

/// Forward output, input gradient and parameter gradients of a 4-D layer under the loss
/// `sum(out * r)` for a fixed `r`.
fn layer4(
    device: &Device,
    input: [usize; 4],
    forward: impl Fn(Tensor<4>) -> Tensor<4>,
    params: impl Fn(&burn::tensor::Gradients) -> Vec<(&'static str, Vec<f32>)>,
) -> Vec<(&'static str, Vec<f32>)> {
    let x = tensor(input, 1, device).require_grad();
    let out = forward(x.clone());
    let r = tensor(out.dims(), 2, device);
    let grads = (out.clone() * r).sum().backward();
    let mut result = vec![
        ("output", host(out)),
        ("input grad", host(x.grad(&grads).unwrap())),
    ];
    result.extend(params(&grads));
    result
}

fn linear_grads(layer: &Linear, grads: &burn::tensor::Gradients) -> Vec<(&'static str, Vec<f32>)> {
    let mut out = vec![("weight grad", host(layer.weight.val().grad(grads).unwrap()))];
    if let Some(b) = &layer.bias {
        out.push(("bias grad", host(b.val().grad(grads).unwrap())));
    }
    out
}

#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn linear() {
    parity("linear", |device| {
        let ad = device.clone().autodiff();
        let layer = WeightInit::new(1).linear(12, 7, true, &ad);
        let x = tensor([5, 12], 3, &ad).require_grad();
        let out = layer.forward(x.clone());
        let grads = (out.clone() * tensor([5, 7], 4, &ad)).sum().backward();
        let mut r = vec![
            ("output", host(out)),
            ("input grad", host(x.grad(&grads).unwrap())),
        ];
        r.extend(linear_grads(&layer, &grads));
        r
    });
}

#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn conv2d() {
    parity("conv2d k5 s2 p2", |device| {
        let ad = device.clone().autodiff();
        let layer = WeightInit::new(2).conv2d([3, 4], 5, 2, 2, true, &ad);
        layer4(
            &ad,
            [2, 3, 9, 9],
            |x| layer.forward(x),
            |g| {
                vec![
                    ("weight grad", host(layer.weight.val().grad(g).unwrap())),
                    (
                        "bias grad",
                        host(layer.bias.as_ref().unwrap().val().grad(g).unwrap()),
                    ),
                ]
            },
        )
    });
    parity("conv2d k4 s2 p1", |device| {
        let ad = device.clone().autodiff();
        let layer = WeightInit::new(3).conv2d([3, 8], 4, 2, 1, false, &ad);
        layer4(
            &ad,
            [2, 3, 8, 8],
            |x| layer.forward(x),
            |g| vec![("weight grad", host(layer.weight.val().grad(g).unwrap()))],
        )
    });
}

/// The gradient that leaves the `dcgan-mnist` critic and passes back through the generator's
/// `tanh`, on every backend. It reproduces the wgpu defect of RELIABILITY.md ("Backend parity
/// of a whole iteration"): when burn-cubecl's autotune picks `dgrad_im2col` for the critic's
/// first convolution, the gradient out of the critic is right but the `tanh` backward reads it
/// shifted (3,030 of 3,136 values wrong). Which kernel wins depends on timing, so run it by hand
/// with every backend and a fresh autotune: `CUBECL_AUTOTUNE_CACHE=0 cargo test --workspace
/// --features ganforge-cli/wgpu --test backends critic_gradient -- --ignored`.
#[test]
#[ignore = "fails on wgpu when burn-cubecl 0.22.1's autotune picks dgrad_im2col (RELIABILITY.md)"]
fn critic_gradient_through_the_generator_tanh() {
    let plan = common::plan(
        "[model]\narchitecture = \"dcgan-mnist\"\ng_width = 32\nd_width = 16\n\
         [data]\ndataset = \"mnist\"\n",
        &[],
    );
    parity("critic gradient through tanh", |device| {
        let ad = device.clone().autodiff();
        let conditioning = plan.gan_spec().conditioning;
        let critic = plan
            .architecture
            .discriminator(&ad, 5, &conditioning)
            .unwrap();
        let z = tensor([4, 1, 28, 28], 40, &ad).require_grad();
        let logits = critic
            .forward(ganforge_models::layers::tanh(z.clone()), None)
            .logits;
        let grads = (logits.clone() * tensor([4, 1], 41, &ad)).sum().backward();
        vec![
            ("logits", host(logits)),
            ("pre-tanh grad", host(z.grad(&grads).unwrap())),
        ]
    });
}

#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn conv_transpose2d() {
    for (name, channels, kernel, stride, padding, out_pad, side) in [
        ("convT k5 s2 p2 op1", [4, 3], 5, 2, 2, 1, 5),
        ("convT k5 s1 p2", [4, 3], 5, 1, 2, 0, 5),
        ("convT k4 s2 p1", [6, 3], 4, 2, 1, 0, 4),
        ("convT k4 s1 p0 from 1x1", [10, 6], 4, 1, 0, 0, 1),
    ] {
        parity(name, |device| {
            let ad = device.clone().autodiff();
            let layer = WeightInit::new(4)
                .conv_transpose2d(channels, kernel, stride, padding, out_pad, &ad);
            layer4(
                &ad,
                [2, channels[0], side, side],
                |x| layers::conv_transpose2d(&layer, x),
                |g| vec![("weight grad", host(layer.weight.val().grad(g).unwrap()))],
            )
        });
    }
}

/// Training-mode batch normalisation (alone, or fused with LeakyReLU / ReLU) and inference with
/// the running statistics it left.
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn batch_norm_train_and_eval() {
    for (name, slope) in [
        ("batchnorm2d", None),
        ("batchnorm2d + leaky relu", Some(0.2)),
        ("batchnorm2d + relu", Some(0.0)),
    ] {
        parity(name, |device| {
            let ad = device.clone().autodiff();
            let bn = WeightInit::new(5).batch_norm(3, &ad);
            let forward = |x| match slope {
                Some(s) => layers::batch_norm_leaky_relu(&bn, x, s),
                None => layers::batch_norm(&bn, x),
            };
            let mut r = layer4(&ad, [4, 3, 5, 5], forward, |g| {
                vec![
                    ("gamma grad", host(bn.gamma.val().grad(g).unwrap())),
                    ("beta grad", host(bn.beta.val().grad(g).unwrap())),
                ]
            });
            r.push(("running mean", host(bn.running_mean.value())));
            r.push(("running var", host(bn.running_var.value())));
            let eval = bn.valid();
            let x = tensor([2, 3, 5, 5], 9, device);
            let out = match slope {
                Some(s) => layers::batch_norm_leaky_relu(&eval, x, s),
                None => layers::batch_norm(&eval, x),
            };
            r.push(("eval output", host(out)));
            r
        });
    }
    parity("batchnorm1d", |device| {
        let ad = device.clone().autodiff();
        let bn = WeightInit::new(6).batch_norm(7, &ad);
        let x = tensor([6, 7], 1, &ad).require_grad();
        let out = layers::batch_norm(&bn, x.clone());
        let grads = (out.clone() * tensor([6, 7], 2, &ad)).sum().backward();
        vec![
            ("output", host(out)),
            ("input grad", host(x.grad(&grads).unwrap())),
            ("gamma grad", host(bn.gamma.val().grad(&grads).unwrap())),
        ]
    });
}

#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn activations() {
    parity("leaky relu 0.2", |device| {
        let ad = device.clone().autodiff();
        layer4(
            &ad,
            [2, 3, 4, 4],
            |x| layers::leaky_relu(x, 0.2),
            |_| vec![],
        )
    });
    parity("tanh", |device| {
        let ad = device.clone().autodiff();
        layer4(
            &ad,
            [2, 3, 4, 4],
            |x| layers::tanh(x.mul_scalar(3.0)),
            |_| vec![],
        )
    });
}

#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn losses() {
    let losses: [(&str, Box<dyn AdversarialLoss>); 4] = [
        ("non-saturating", Box::new(NonSaturating)),
        ("minimax", Box::new(Minimax)),
        ("hinge", Box::new(Hinge)),
        ("least-squares", Box::new(LeastSquares)),
    ];
    for (name, loss) in &losses {
        parity(name, |device| {
            let ad = device.clone().autodiff();
            let real = tensor([8, 1], 1, &ad).mul_scalar(4.0).require_grad();
            let fake = tensor([8, 1], 2, &ad).mul_scalar(4.0).require_grad();
            let d = loss.discriminator(real.clone(), fake.clone());
            let grads = d.backward();
            let g = loss.generator(fake.clone());
            let g_grads = g.backward();
            vec![
                ("discriminator loss", host(d)),
                ("real grad", host(real.grad(&grads).unwrap())),
                ("fake grad", host(fake.grad(&grads).unwrap())),
                ("generator loss", host(g)),
                ("generator grad", host(fake.grad(&g_grads).unwrap())),
            ]
        });
    }
}

struct Collect(Vec<f32>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.extend(host(param.val()));
    }
}

fn params(module: &impl Module) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// One full iteration of a small `dcgan-mnist` from the same initial weights and inputs.
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn dcgan_mnist_training_iteration() {
    // Adam's own epsilon (1e-8) turns a gradient that is zero up to rounding into a full
    // step of either sign, so two correct backends may then differ by several learning rates
    // on such weights. With epsilon above the gradients' size the update is a smooth function
    // of the gradients, and what is left of the difference is float rounding.
    let plan = common::plan(
        "[model]\narchitecture = \"dcgan-mnist\"\ng_width = 32\nd_width = 16\n\
         [data]\ndataset = \"mnist\"\n\
         [optimizer.generator]\nepsilon = 0.01\n[optimizer.discriminator]\nepsilon = 0.01\n",
        &[],
    );
    let lr = plan.generator_optimizer.lr() as f32;
    let step = |device: &Device, iterations: u32| {
        let ad = device.clone().autodiff();
        let mut gan = Gan::new(&plan.gan_spec(), &ad, plan.init_seeds()).unwrap();
        let objective = plan.objective();
        let mut stats = Vec::new();
        for i in 0..iterations {
            let batch = Batch {
                real: tensor([4, 1, 28, 28], 10 + i, &ad),
                labels: None,
                noise: tensor([4, 100], 20 + i, &ad),
                fake_labels: None,
                condition: None,
                target: None,
                penalty_mix: None,
                step: 0,
            };
            let (next, s) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
            gan = next;
            stats.extend(host(s.values));
        }
        (stats, params(&gan.generator), params(&gan.discriminator))
    };
    assert!(matches!(plan.architecture, Architecture::DcganMnist(..)));
    for (kind, device) in others() {
        // On wgpu the generator's gradient may be wrong (below), and from the second iteration
        // on the discriminator trains on that generator's samples: one iteration there.
        let iterations = if kind == BackendKind::Wgpu { 1 } else { 2 };
        let (stats, g, d) = step(&Device::flex(), iterations);
        let (s, g2, d2) = step(&device, iterations);
        assert_close(kind, "losses and D outputs", &stats, &s, tolerance(kind));
        for (what, a, b) in [("generator", &g, &g2), ("discriminator", &d, &d2)] {
            // The weights themselves are rounded to f32 after each step: a difference of a
            // unit in the last place of the weight is allowed beside the update's own.
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() - 2.0 * f32::EPSILON * x.abs().max(y.abs()))
                .fold(0.0f32, f32::max);
            eprintln!("{kind} {what}: worst update difference {} x lr", worst / lr);
            if kind == BackendKind::Wgpu {
                // burn-cubecl 0.22.1's autotune may choose kernels (`dgrad_im2col` for the data
                // gradient of the critic's 1-channel stride-2 convolution among them) with
                // which a later backward step reads a gradient shifted: the generator's update
                // then differs from flex's and LibTorch's by 0.5-0.7 x lr after two iterations,
                // and the discriminator's by over 1 x lr; with other choices both agree to
                // 1.4e-5 x lr. Which kernels win depends on timing, so on wgpu the updates are
                // reported, not asserted (RELIABILITY.md, "Backend parity of a whole
                // iteration"; `critic_gradient_through_the_generator_tanh` reproduces it).
                eprintln!("{kind} {what}: not asserted (burn-cubecl autotune, see above)");
                continue;
            }
            assert!(
                worst <= tolerance(kind) * lr,
                "{kind} {what}: worst update difference {} x lr exceeds {}",
                worst / lr,
                tolerance(kind)
            );
        }
    }
}

/// The whole pipeline (data, loop, samples, checkpoint) runs on every compiled backend.
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn short_run_on_every_backend() {
    let data = tempfile::tempdir().unwrap();
    common::mnist_fixture(data.path(), 16);
    let toml = format!(
        "[model]\narchitecture = \"dcgan-mnist\"\ng_width = 16\nd_width = 8\n\
         [data]\ndataset = \"mnist\"\ndir = \"{}\"\n\
         [train]\nsteps = 2\nbatch_size = 4\nlog_every = 1\nsample_every = 2\nsample_count = 4\n",
        data.path().display()
    );
    let runs = tempfile::tempdir().unwrap();
    for (kind, device) in others() {
        let plan = common::try_plan_on(&toml, &[], kind).unwrap();
        let summary = common::run_on(&plan, &device, runs.path(), None);
        let last = summary.last.unwrap();
        assert!(last.loss_d.is_finite() && last.loss_g.is_finite(), "{kind}");
        assert!(summary.run_dir.join("samples/step-00000002.png").is_file());
        let resolved = std::fs::read_to_string(summary.run_dir.join("resolved.toml")).unwrap();
        assert!(
            resolved.contains(&format!("backend = \"{kind}\"")),
            "{resolved}"
        );
    }
}

/// Each class-conditioning method: one iteration of a small conditional `mlp-mnist` from the
/// same weights, inputs and labels gives the same losses (and, for AC-GAN, class losses) on
/// every compiled backend as on flex.
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn conditional_iteration_on_every_backend() {
    // Adam's epsilon as in `dcgan_mnist_training_iteration`: the generator's losses follow
    // the discriminator's update.
    for method in ["concat", "projection", "acgan"] {
        let plan = common::plan(
            "[model]\narchitecture = \"mlp-mnist\"\ng_hidden = [16, 32]\nd_hidden = [16]\n\
             [data]\ndataset = \"mnist\"\n\
             [optimizer.generator]\nepsilon = 0.01\n[optimizer.discriminator]\nepsilon = 0.01\n",
            &[&format!("model.conditioning={method}")],
        );
        let step = |device: &Device| {
            let ad = device.clone().autodiff();
            let gan = Gan::new(&plan.gan_spec(), &ad, plan.init_seeds()).unwrap();
            let objective = plan.objective();
            let labels = |l: [u32; 4]| Some(ganforge_trainer::objective::label_tensor(&l, &ad));
            let batch = Batch {
                real: tensor([4, 1, 28, 28], 30, &ad),
                labels: labels([0, 3, 7, 9]),
                noise: tensor([4, 100], 31, &ad),
                fake_labels: labels([9, 1, 3, 0]),
                condition: None,
                target: None,
                penalty_mix: None,
                step: 0,
            };
            let (_, stats) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
            host(stats.values)
        };
        let flex = step(&Device::flex());
        assert_eq!(flex.len(), if method == "acgan" { 6 } else { 4 });
        for (kind, device) in others() {
            let other = step(&device);
            assert_close(kind, method, &flex, &other, tolerance(kind));
        }
    }
}

/// GAIN: three iterations from the same weights, rows, noise and hints give the same losses on
/// every compiled backend as on flex, and the filled table keeps its observed cells.
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn gain_iterations_on_every_backend() {
    use ganforge_data::{Table, table_fixture};
    use ganforge_trainer::impute::{GainSpec, GainStats, impute};
    let text = table_fixture(40, 0.2, 4);
    let table = Table::from_reader(text.as_bytes(), std::path::Path::new("t.csv")).unwrap();
    let spec = GainSpec {
        iterations: 3,
        batch_size: 16,
        ..GainSpec::default()
    };
    let losses = |device: &Device| {
        let mut stats = Vec::new();
        let out = impute(&table, &spec, device, 1, &mut |s: &GainStats| {
            stats.extend([s.loss_d, s.loss_g, s.mse])
        })
        .unwrap();
        assert_eq!(out.table.missing(), 0);
        stats
    };
    let flex = losses(&Device::flex());
    assert_eq!(flex.len(), 9);
    for (kind, device) in others() {
        assert_close(
            kind,
            "GAIN losses",
            &flex,
            &losses(&device),
            tolerance(kind),
        );
    }
}

/// pix2pix: one iteration from the same weights, pairs and dropout masks gives the same
/// discriminator losses and scores, and the same L1 of the translations, on every compiled
/// backend as on flex; the generator's adversarial term, taken after the discriminator's
/// update, is asserted on LibTorch and reported on wgpu (see `short_run_on_every_backend`).
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn pix2pix_iteration_on_every_backend() {
    translation_iteration_on_every_backend("pix2pix", "task = \"edges\"", 2);
}

#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn inpainting_iteration_on_every_backend() {
    translation_iteration_on_every_backend("inpainting", "task = \"masked\"\nhole = 12", 3);
}

/// One iteration of an image-to-image objective on `[pairs]` settings `pairs` and items of
/// `channels` channels agrees with flex on every compiled backend.
fn translation_iteration_on_every_backend(name: &str, pairs: &str, channels: usize) {
    use rand::SeedableRng;
    let plan = common::plan(
        &format!(
            "[model]\narchitecture = \"pix2pix\"\nimage_size = 32\ng_width = 8\nd_width = 8\n\
             [data]\ndataset = \"mnist\"\n[pairs]\n{pairs}\npad_to = 32\n\
             [optimizer.generator]\nepsilon = 0.01\n[optimizer.discriminator]\nepsilon = 0.01\n"
        ),
        &[],
    );
    let step = |device: &Device| {
        let ad = device.clone().autodiff();
        let gan = Gan::new(&plan.gan_spec(), &ad, plan.init_seeds()).unwrap();
        let objective = plan.objective();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let real = tensor([4, channels, 32, 32], 40, &ad);
        let batch = objective.batch_shape().batch(real, None, &mut rng, &ad);
        let (_, stats) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
        host(stats.values)
    };
    let flex = step(&Device::flex());
    assert_eq!(flex.len(), 5);
    for (kind, device) in others() {
        let other = step(&device);
        assert_iteration_close(
            kind,
            &format!("{name} D losses, scores and L1"),
            &flex,
            &other,
        );
    }
}

/// One iteration's statistics `[loss_d, loss_g, d_real, d_fake, x]` on backend `kind` against
/// flex's: all but the generator's loss always (they come before any update); `loss_g`, which
/// follows the discriminator's update, on LibTorch only (on wgpu it is printed: burn-cubecl's
/// autotune may pick kernels that shift a later backward step, see
/// `dcgan_mnist_training_iteration`).
fn assert_iteration_close(kind: BackendKind, what: &str, flex: &[f32], other: &[f32]) {
    let pick = |v: &[f32]| [0, 2, 3, 4].map(|i| v[i]);
    assert_close(kind, what, &pick(flex), &pick(other), tolerance(kind));
    match kind {
        BackendKind::Wgpu => eprintln!("wgpu {what}: loss_g {} vs flex {}", other[1], flex[1]),
        _ => assert_close(
            kind,
            &format!("{what}: loss_g"),
            &flex[1..2],
            &other[1..2],
            tolerance(kind),
        ),
    }
}

/// SNGAN's residual pair with the regularisers that act inside an iteration agrees with flex
/// on every compiled backend: WGAN-GP through the hand-written residual input gradient, with
/// spectral norm and DiffAugment; R1 on items augmented by ADA's pipeline; and projection
/// conditioning (class-conditional BatchNorm in the generator) with R1 and spectral norm in
/// both networks. The discriminator's losses,
/// scores and penalty are compared always, the generator's loss (after the discriminator's
/// update) on LibTorch only, as in `translation_iteration_on_every_backend`.
#[test]
#[cfg_attr(
    not(any(feature = "tch", feature = "wgpu")),
    ignore = "only flex is compiled in: no other backend to compare it with"
)]
fn residual_iteration_with_regularisers_on_every_backend() {
    let base = "[model]\narchitecture = \"sngan-resnet\"\ng_width = 8\nd_width = 8\n\
                latent_dim = 8\n[data]\ndataset = \"cifar10\"\n\
                [optimizer.generator]\nepsilon = 0.01\n[optimizer.discriminator]\nepsilon = 0.01\n";
    let cases = [
        (
            "WGAN-GP, DiffAugment",
            format!(
                "{base}[loss]\nkind = \"wasserstein\"\npenalty = \"gradient\"\n\
                 [augment]\npolicy = \"color,translation,cutout\"\n"
            ),
            vec![],
        ),
        (
            "hinge, R1, ADA's pipeline",
            format!(
                "{base}[loss]\nkind = \"hinge\"\npenalty = \"r1\"\n\
                 [augment]\npolicy = \"bgc\"\n"
            ),
            vec![],
        ),
        (
            "projection, R1, spectral norm in G",
            format!("{base}[loss]\nkind = \"hinge\"\npenalty = \"r1\"\n"),
            vec![
                "model.conditioning=\"projection\"",
                "model.spectral_norm_g=true",
            ],
        ),
    ];
    for (name, toml, overrides) in cases {
        let plan = common::plan(&toml, &overrides);
        let step = |device: &Device| {
            use rand::SeedableRng;
            let ad = device.clone().autodiff();
            let gan = Gan::new(&plan.gan_spec(), &ad, plan.init_seeds()).unwrap();
            let objective = plan.objective();
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
            let real = tensor([4, 3, 32, 32], 50, &ad);
            let labels = plan.conditioning.is_conditional().then(|| vec![0, 3, 7, 9]);
            let batch = objective.batch_shape().batch(real, labels, &mut rng, &ad);
            let (_, stats) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
            host(stats.values)
        };
        let flex = step(&Device::flex());
        assert_eq!(
            flex.len(),
            5,
            "{name}: loss_d, loss_g, d_real, d_fake, penalty"
        );
        assert!(flex[4] > 0.0, "{name}: a zero penalty compares nothing");
        for (kind, device) in others() {
            let other = step(&device);
            let what = format!("{name}: D losses, scores and penalty");
            assert_iteration_close(kind, &what, &flex, &other);
        }
    }
}
