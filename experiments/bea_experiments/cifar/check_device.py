"""``bea experiment cifar --check-device``: can the fast settings be trusted here, and how fast are they?

From the same weights and images, full-batch steps run twice: with the fp32 reference (no
autocast, TF32 off, eager) and with the fast settings (bf16 autocast, TF32 on, channels_last,
``torch.compile`` on CUDA; on a CPU compile only with ``--compile on``).  Reported:

* at the first step, the fast gradient against the reference one: relative error
  ‖g_fast − g_ref‖/‖g_ref‖, the fraction of coordinates whose sign flips (small-ε Adam moves by
  these signs), and the relative change of ‖∇E‖_{1,ε};
* after ``steps`` optimizer steps, the relative distance of the two parameter vectors;
* images/s of each (best of the timed steps, after a warm-up step), and an MFU estimate:
  FLOPs per image (``torch.utils.flop_counter`` over one forward and backward) × images/s over
  the device's peak — the vendor's dense peak for known GPUs (bf16 for the fast path, fp32
  without TF32 for the reference), otherwise the rate of a large matmul measured here.
"""
from __future__ import annotations

import copy
import dataclasses
import time

import torch

from ..optim import SpecOptimizer
from .config import Config
from .models import build
from .train import _device, full_batch_gradient, load_tensors

#: Dense peak TFLOP/s by GPU name: (bf16, fp32 without TF32).  Vendor data sheets (SXM parts where both exist).
PEAKS = {"H200": (989.0, 67.0), "H100 PCIe": (756.0, 51.0), "H100": (989.0, 67.0), "A100": (312.0, 19.5),
         "L40S": (362.0, 91.6), "L4": (121.0, 30.3), "A10": (125.0, 31.2), "4090": (165.2, 82.6)}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measured_peak(device, dtype) -> float:
    """FLOP/s of a square matmul in ``dtype`` on ``device`` (best of three; 4096 on a GPU, 512 on a CPU)."""
    size = 4096 if device.type == "cuda" else 512
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(3):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best


def peak(device, fast: bool) -> tuple[float, str]:
    """(peak FLOP/s, where it comes from) for the fast (bf16) or the reference (fp32) path."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, (bf16, fp32) in PEAKS.items():
            if key in name:
                return (bf16 if fast else fp32) * 1e12, f"{name}: vendor dense {'bf16' if fast else 'fp32'} peak"
    dtype = torch.bfloat16 if fast else torch.float32
    return measured_peak(device, dtype), f"{device.type}: measured {dtype} matmul rate"


def flops_per_image(model, x, y) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad()
    return counter.get_total_flops() / x.shape[0]


@dataclasses.dataclass
class _Path:
    """One of the two runs: its model, optimizer and switches."""

    model: torch.nn.Module
    forward: object
    opt: SpecOptimizer
    amp: bool
    tf32: bool

    def gradient(self, x, y, n, micro):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.tf32
        self.opt.zero_grad(set_to_none=False)
        full_batch_gradient(self.forward, x, y, n, micro, self.amp)
        return torch.cat([p.grad.reshape(-1) for p in self.model.parameters()]).float()


def check(cfg: Config, steps: int = 3) -> dict:
    """The numbers of the check (see the module docstring) for the settings of ``cfg``."""
    device = _device(cfg, 0)
    cuda = device.type == "cuda"
    torch.manual_seed(cfg.seed)
    x, y, _, _, n, classes = load_tensors(cfg, device)
    name, hyper = cfg.optimizer_params()
    reference = build(cfg.model, classes, cfg.width, cfg.norm).to(device)
    fast_model = copy.deepcopy(reference).to(memory_format=torch.channels_last)
    compile_fast = cfg.compile == "on" or (cuda and cfg.compile == "auto")
    paths = {
        "reference": _Path(reference, reference, SpecOptimizer(reference.parameters(), name, cfg.lr, hyper), False,
                           False),
        "fast": _Path(fast_model, torch.compile(fast_model) if compile_fast else fast_model,
                      SpecOptimizer(fast_model.parameters(), name, cfg.lr, hyper), True, cuda),
    }
    inputs = {"reference": x, "fast": x.contiguous(memory_format=torch.channels_last)}
    g = {k: p.gradient(inputs[k], y, n, cfg.micro_batch) for k, p in paths.items()}
    ref, fast = g["reference"], g["fast"]
    one_norm = {k: float(torch.sqrt(v.double() ** 2 + cfg.eps).sum()) for k, v in g.items()}
    result = {
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "model": f"{cfg.model} width {cfg.width}, {sum(p.numel() for p in reference.parameters()):,} parameters",
        "images": n, "fast_settings": f"bf16 autocast, channels_last, TF32 {'on' if cuda else 'n/a'}, "
                                      f"compile {'on' if compile_fast else 'off'}",
        "gradient_relative_error": float((fast - ref).norm() / ref.norm()),
        "flipped_signs": float((torch.sign(fast) != torch.sign(ref)).double().mean()),
        "one_norm_relative_change": (one_norm["fast"] - one_norm["reference"]) / one_norm["reference"],
    }
    seconds = {k: [] for k in paths}
    for step in range(steps):
        for k, p in paths.items():
            _sync(device)
            t = time.perf_counter()
            if step:  # the first gradient is the one compared above (and the warm-up)
                p.gradient(inputs[k], y, n, cfg.micro_batch)
            p.opt.step(recompute=lambda: p.gradient(inputs[k], y, n, cfg.micro_batch))  # SAM: a second gradient
            _sync(device)
            seconds[k].append(time.perf_counter() - t)
    a = torch.cat([p.reshape(-1) for p in reference.parameters()])
    b = torch.cat([p.reshape(-1) for p in fast_model.parameters()])
    result["parameters_relative_distance"] = float((a - b).norm() / a.norm())
    per_image = flops_per_image(reference, x[:cfg.micro_batch], y[:cfg.micro_batch])
    result["gflops_per_image"] = per_image / 1e9
    for k in paths:
        rate = n / min(seconds[k][1:] or seconds[k])
        top, source = peak(device, k == "fast")
        result[f"{k}_images_per_s"] = rate
        result[f"{k}_mfu"] = rate * per_image / top
        result[f"{k}_peak"] = source
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    return result


def report(result: dict) -> str:
    """The check as lines of text."""
    return "\n".join([
        f"device: {result['device']}; {result['model']}; {result['images']} images",
        f"fast settings: {result['fast_settings']}",
        f"gradient at the first step, fast vs fp32 reference: relative error {result['gradient_relative_error']:.2e}, "
        f"flipped signs {100 * result['flipped_signs']:.2f} %, ‖∇E‖_1,ε changed by "
        f"{100 * result['one_norm_relative_change']:+.3f} %",
        f"parameters after the steps: relative distance {result['parameters_relative_distance']:.2e}",
        f"fp32 reference: {result['reference_images_per_s']:.1f} images/s, MFU {100 * result['reference_mfu']:.1f} % "
        f"({result['reference_peak']})",
        f"fast settings: {result['fast_images_per_s']:.1f} images/s, MFU {100 * result['fast_mfu']:.1f} % "
        f"({result['fast_peak']}); {result['gflops_per_image']:.2f} GFLOP per image (forward + backward)",
    ])
