"""The timing and command line the peers written for ganforge's side-by-side benchmark share
(`torch_pix2pix.py`, `torch_sngan.py`): each defines its networks and one training step, and
this module times the step and prints the JSON line `cargo xtask bench` reads.
"""
import argparse, json, time
import torch


def time_steps(step, device, iters, warmup):
    """Seconds taken by `iters` calls `step(i)` after `warmup` untimed ones, and the last
    call's (loss_d, loss_g)."""
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    for i in range(warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    losses = (float("nan"), float("nan"))
    for i in range(iters):
        losses = step(i)
    sync()
    return time.perf_counter() - t0, losses


def report(name, device, nets, batch, iters, freeze_d, seconds, losses):
    """Prints the JSON line of one timed model."""
    params = [sum(p.numel() for p in net.parameters()) for net in nets]
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "device": str(device),
                      "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
                      "threads": torch.get_num_threads(), "model": name, "mode": "fp32",
                      "freeze_d": freeze_d, "batch": batch, "iters": iters, "params": params,
                      "s_per_iter": seconds / iters, "images_per_s": batch * iters / seconds,
                      "loss_d": float(losses[0]), "loss_g": float(losses[1])}), flush=True)


def main(models, run):
    """Parses the peers' shared options and calls `run(name, device, iters, warmup, batch,
    freeze_d)` for each model asked for; a failing model is reported and the rest go on."""
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", default=",".join(models))
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--modes", default="fp32", help="fp32 only (accepted for the bench driver)")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (CPU); 0 = default")
    p.add_argument("--freeze-d", action="store_true", help="no D weight gradients in the G step")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for m in a.models.split(","):
        try:
            run(m, torch.device(a.device), a.iters, a.warmup, a.batch, a.freeze_d)
        except Exception as e:  # report and go on: one failing model must not hide the rest
            print(json.dumps({"model": m, "error": repr(e)[:300]}), flush=True)
