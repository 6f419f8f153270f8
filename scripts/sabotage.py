"""Sabotage check of the test suite: applies each change below alone, runs the tests that
should catch it, reports which failed, and restores the file with `git checkout`.

Run from anywhere inside the repository, with a clean work tree:
    python3 scripts/sabotage.py          # every case
    python3 scripts/sabotage.py 2 3      # cases 2 and 3
"""
import os
import subprocess
import sys

os.chdir(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True).stdout.strip())
env = dict(os.environ, GANFORGE_OFFLINE="1")
cases = [
 ("BatchNorm running statistics never updated", "crates/models/src/layers.rs",
  "fn update_running_statistics(norm: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {",
  "fn update_running_statistics(norm: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {\n    if norm.epsilon > 0.0 { return; }",
  "cargo test --workspace --lib"),
 ("LeakyReLU kernel backward masks by dy instead of y", "crates/kernels/src/flex/activation.rs",
  "Self::Leaky(leaky) => leaky.backward(dy, y),", "Self::Leaky(leaky) => leaky.backward(dy, dy),",
  "cargo test --workspace --lib"),
 ("convolution kernel backward drops the input gradient", "crates/kernels/src/flex/conv.rs",
  "for ((parent, value), shape) in parents.iter().zip(values).zip(shapes) {",
  "for ((parent, value), shape) in parents.iter().zip(values).zip(shapes).skip(1) {",
  "cargo test --workspace --lib --test against_burn"),
 ("fused BatchNorm backward swaps the gamma and beta gradients", "crates/kernels/src/flex/norm.rs",
  "(computed.gamma, channels.clone()),\n            (computed.beta, channels),",
  "(computed.beta, channels.clone()),\n            (computed.gamma, channels),",
  "cargo test --workspace --lib --test against_burn"),
 ("non-saturating generator loss with the wrong target", "crates/losses/src/non_saturating.rs",
  "bce_with_logits(fake_logits, true)", "bce_with_logits(fake_logits, false)",
  "cargo test --workspace --lib"),
 ("resume restores the weights but not the loop state (noise RNG, data position)", "crates/trainer/src/train.rs",
  "                        checkpoint::load(&ckpt, gan)?\n",
  "                        (checkpoint::load(&ckpt, gan)?.0, fresh_state(spec))\n",
  "cargo test --workspace --test library"),
 ("resume forgets the metrics window in progress", "crates/trainer/src/train.rs",
  "            stats_tensors(&state.log_window, &ad),", "            Vec::new(),",
  "cargo test --workspace --test soak"),
 ("checkpoint written without the finite check", "crates/trainer/src/hooks.rs",
  "        if let Some(what) = non_finite(tick) {", "        if let Some(what) = non_finite(tick).filter(|_| false) {",
  "cargo test --workspace --test library"),
 ("IDX size check without overflow checks", "crates/data/src/idx.rs",
  "    let expected = n\n        .checked_mul(rows)\n        .and_then(|v| v.checked_mul(cols))\n        .and_then(|v| v.checked_add(16));",
  "    let expected = Some(16 + n * rows * cols);",
  "cargo test --workspace --test hostile"),
 ("Adam's first-moment bias correction left out of the fused kernel", "crates/kernels/src/adam.rs",
  "combined: bias_correction_2 / (1.0 - self.beta_1.powi(t)),", "combined: bias_correction_2,",
  "cargo test --workspace --lib"),
 ("the generator's moving average blended with the shares swapped", "crates/trainer/src/ema.rs",
  "average.mul_scalar(decay) + current.mul_scalar(1.0 - decay)",
  "average.mul_scalar(1.0 - decay) + current.mul_scalar(decay)",
  "cargo test --workspace --lib"),
 ("the moving average not restored from the checkpoint", "crates/trainer/src/checkpoint.rs",
  "            ema.generator = load_module(ema.generator, &dir.join(GENERATOR_EMA))?;",
  "            let _ = dir.join(GENERATOR_EMA);",
  "cargo test --workspace --test library"),
 ("the gradient penalty left out of the discriminator's loss", "crates/trainer/src/objective.rs",
  "            loss = loss + penalty.clone();", "            let _ = penalty.clone();",
  "cargo test --workspace --test library"),
 ("the input gradient built from detached weights", "crates/models/src/layers.rs",
  "grad.matmul(layer.weight.val().transpose())", "grad.matmul(layer.weight.val().detach().transpose())",
  "cargo test --workspace --test penalty"),
 ("the LeakyReLU slope mask left out of the input gradient", "crates/models/src/layers.rs",
  "            let grad = grad * leaky_relu_slopes(a, activation);",
  "            let grad = grad + leaky_relu_slopes(a, activation).mul_scalar(0.0);",
  "cargo test --workspace --lib"),
 ("spectral norm's vector recorded one update late", "crates/models/src/spectral.rs",
  "            let _ = self.u.value_sync();", "",
  "cargo test --workspace --test library"),
 ("LeCam's moving averages not restored from the checkpoint", "crates/trainer/src/checkpoint.rs",
  "            Some(Tensor::<1>::from_floats(values.as_slice(), &fresh.device()))",
  "            let _ = values;\n            Some(fresh)",
  "cargo test --workspace --test library"),
]
only = sys.argv[1:] and [int(a) for a in sys.argv[1:]]
for k,(what,f,old,new,cmd) in enumerate(cases):
    if only and k not in only: continue
    s=open(f).read()
    if old not in s:
        print(f"[{k}] {what}: PATTERN NOT FOUND"); continue
    open(f,'w').write(s.replace(old,new,1))
    try:
        r=subprocess.run(cmd+" 2>&1", shell=True, env=env, capture_output=True, text=True, timeout=1200)
        out=r.stdout
        failed=[l.split()[1] for l in out.splitlines() if l.startswith("test ") and l.endswith("FAILED")]
        comp = "error[" in out
        print(f"[{k}] {what}: rc={r.returncode} failed={failed} compile_error={comp}", flush=True)
    finally:
        subprocess.run(["git","checkout",f])
