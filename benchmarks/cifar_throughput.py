"""Images per second of full-batch steps: a plain eager fp32 loop against the fast path, same run.

    python benchmarks/cifar_throughput.py [--models resnet18 resnet50] [--images 2048] [--micro-batch 512]
                                          [--steps 5] [--modes eager fast] [--out results.json]

"eager" is fp32, NCHW, no compilation (the faithful default of ``bea experiment cifar``); "fast" is
bf16 autocast + channels_last + torch.compile (opt-in; ``--check-device`` measures its numerics).  A step is the gradient of the mean
loss over ``--images`` random CIFAR-shaped images, accumulated over micro-batches, then one
Adam step; timings exclude one warm-up step (two for "fast": compilation).
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from bea_experiments.cifar.models import build
from bea_experiments.cifar.train import full_batch_gradient
from bea_experiments.optim import SpecOptimizer


def measure(model_name, mode, images, micro, steps, device):
    torch.manual_seed(0)
    model = build(model_name, 10).to(device)
    x = torch.randn(images, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (images,), device=device)
    fast = mode == "fast"
    if fast:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    forward = torch.compile(model) if fast else model
    opt = SpecOptimizer(model.parameters(), "adam", 1e-4, dict(beta=0.99, rho=0.999, eps=1e-8))

    def step():
        opt.zero_grad(set_to_none=False)
        full_batch_gradient(forward, x, y, images, micro, autocast=fast)
        opt.step()

    for _ in range(2 if fast else 1):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return {"model": model_name, "mode": mode, "images": images, "micro_batch": micro,
            "seconds_per_step": seconds, "images_per_second": images / seconds}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    p.add_argument("--modes", nargs="+", default=["eager", "fast"], choices=["eager", "fast"])
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--micro-batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--out")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or platform.machine()
    results = {"device": name, "torch": torch.__version__, "threads": torch.get_num_threads(), "runs": []}
    print(f"device: {name}, torch {torch.__version__}")
    for model_name in args.models:
        for mode in args.modes:
            r = measure(model_name, mode, args.images, args.micro_batch, args.steps, device)
            results["runs"].append(r)
            print(f"{model_name:10s} {mode:6s} {r['images_per_second']:10.1f} images/s "
                  f"({r['seconds_per_step']:.3f} s per full-batch step of {args.images})", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
