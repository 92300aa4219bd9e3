"""Cost of Adam's derived fields on ResNet-18 by autodiff (bea.autodiff), in gradients.

    python benchmarks/autodiff_cost.py [--width 64] [--images 32] [--repeats 3] [--dtype float32]

One "gradient" is ∇E of the cross-entropy over the batch by plain ``loss.backward()`` (fused
BatchNorm, what a training step pays).  Measured in the same run, interleaved, best of
``--repeats``: F₀ (one gradient through the evaluator), the order-1 terms [F₀, F₁] (g, then one
nested jvp ∇²E[g/s]), the same with g supplied by the caller (what a training step that has
already computed g pays), and the order-2 terms [F₀, F₁, F₂].  The per-step SymPy programs are
built before timing (their build time is printed separately).  Random CIFAR-shaped images.
"""
import argparse
import platform
import time

import torch

import bea
from bea.autodiff import AutodiffField, ModelLoss
from bea_experiments.cifar.models import build

HYPER = dict(beta=0.9, rho=0.999, eps=1e-8)


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--step", type=int, default=10, help="the step n whose fields are evaluated")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    model = build("resnet18", 10, args.width).to(dtype)
    x = torch.randn(args.images, 3, 32, 32, dtype=dtype)
    y = torch.randint(0, 10, (args.images,))
    loss = ModelLoss(model, lambda: torch.nn.functional.cross_entropy(model(x), y))
    theta = loss.theta()

    def plain_gradient():
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()

    fields = {}
    for order in (0, 1, 2):
        t = time.perf_counter()
        fields[order] = AutodiffField(bea.modified_ode("adam", order=order, **HYPER), loss)
        fields[order].program(args.step)
        print(f"order {order}: derivation and step-{args.step} program {time.perf_counter() - t:.1f} s", flush=True)
    g = fields[0].gradient(theta)
    cases = {
        "one gradient (loss.backward)": plain_gradient,
        "F0 (evaluator)": lambda: fields[0].terms(theta, args.step),
        "F0, F1": lambda: fields[1].terms(theta, args.step),
        "F0, F1 with g given": lambda: fields[1].terms(theta, args.step, gradient=g),
        "F0, F1, F2": lambda: fields[2].terms(theta, args.step),
    }
    times = {k: [] for k in cases}
    for _ in range(args.repeats):  # interleaved: load changes hit every case alike
        for k, fn in cases.items():
            times[k].append(best(fn, 1))
            print(f"  {k}: {times[k][-1]:.2f} s", flush=True)
    base = min(times["one gradient (loss.backward)"])
    params = theta.numel()
    print(f"\nResNet-18 width {args.width} ({params:,} parameters), {args.images} images, {args.dtype}, "
          f"{args.threads} thread(s), torch {torch.__version__}, {platform.machine()}, step n = {args.step}")
    print(f"{'quantity':<32}{'seconds':>10}{'gradients':>11}")
    for k, v in times.items():
        print(f"{k:<32}{min(v):>10.2f}{min(v) / base:>11.2f}")


if __name__ == "__main__":
    main()
