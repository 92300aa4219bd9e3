"""Full-batch training on CIFAR: one step = the gradient of the mean loss over the whole training set.

Read top to bottom: ``Config`` holds every setting; ``run`` loads the data onto the device
once, builds the model, and repeats {full-batch gradient over micro-batches → metrics → step of
the optimizer}, logging per step the train loss/accuracy, the perturbed one-norm Σ√(g² + ε) of
the full-batch gradient g, ‖g‖₁, ‖g‖₂ and wall time, the test loss/accuracy every
``eval_every`` steps, and a checkpoint every ``checkpoint_every`` steps from which
``resume=True`` continues.  Row k of the log holds the train *and* test metrics of θ_{k−1},
the point where step k's gradient is taken.

The optimizer is any bea spec (:class:`bea_experiments.optim.SpecOptimizer`: Adam is bea's
``adam``, not a copy; a step that needs the gradient at another point, such as SAM's, takes a
second full-batch gradient there).  ``correction = c`` adds c·h·(hF₁) (``correction_order`` 2: also
c·h·(h²F₂)) to every step, F₁ and F₂ the derived terms of that optimizer at step n, finite-n and
with every ε-term, evaluated on the model by autodiff (:class:`bea_experiments.optim.Correction`):
the iterates then follow F₀ + (1 + c)hF₁ + …, so c = −1 cancels the implicit term and c = 1
doubles it.  Each row logs the validity ratio ‖hF₁‖/‖F₀‖; a run warns once above 0.1 and stops
above ``max_validity`` (the expansion means nothing there).

Numerics: fp32 with TF32 off is the default (the measured quantities, e.g. the signs Adam moves
by, are those of fp32); bf16 autocast (``amp``) and TF32 are opt-in speed modes whose effect
``--check-device`` measures.  channels_last and ``torch.compile`` ("auto": on with CUDA) keep
the numerics up to summation order.  Metrics stay on the device between log flushes (no host
syncs inside a step); per-step wall times come from CUDA events there.

Under ``torchrun`` each rank takes every world-th micro-batch of the one partition of the
training set, so BatchNorm sees the same micro-batches as in one process and the objective does
not depend on the number of processes; gradients (one flat buffer) and the correction's
contractions are all-reduced (gloo on a CPU, NCCL on GPUs), and BatchNorm running statistics
are averaged over ranks before evaluation and checkpoints.  ``norm = "group"`` replaces
BatchNorm by GroupNorm (an objective that is a plain sum over images).
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from bea.atomic import replacing, writable_folder, write_atomic
from bea.autodiff import ModelLoss
from bea.errors import BeaError

from ..optim import Correction, SpecOptimizer
from . import data as cifar_data
from .config import Config
from .logfile import valid_rows
from .models import ARCHITECTURES, build

WARN_VALIDITY = 0.1


class Diverged(BeaError):
    pass


def _distributed():
    """(rank, world size), initializing the process group under torchrun."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _device(cfg: Config, rank: int) -> torch.device:
    if cfg.device == "auto":
        device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)  # the syntax is checked by Config.check
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise BeaError(f"--device {cfg.device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise BeaError(f"--device {cfg.device}: MPS is not available on this machine")
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL and the default CUDA stream use this rank's GPU
    return device


def _numerics(cfg: Config, cuda: bool):
    """TF32 (off unless asked for) and deterministic algorithms (on a CPU always; on CUDA with
    ``deterministic`` on, which also needs CUBLAS_WORKSPACE_CONFIG)."""
    tf32 = cfg.resolved("tf32", cuda)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    deterministic = not cuda or cfg.deterministic == "on"
    if cuda and deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(deterministic, warn_only=not cuda)


def load_tensors(cfg: Config, device, rank: int = 0, world: int = 1):
    """Normalized images and labels on the device: (x_train, y_train, x_test, y_test, N_train, classes).

    Normalization uses the channel statistics of the whole training subset.  The training set
    is cut into micro-batches of ``micro_batch`` images in order; rank r keeps micro-batches
    r, r + world, … (all of them in one process)."""
    train = cifar_data.load(cfg.data_dir, cfg.dataset, "train", cfg.train_size)
    test = cifar_data.load(cfg.data_dir, cfg.dataset, "test", cfg.test_size)
    mean, std = cifar_data.channel_stats(train.images)

    def prep(images):
        x = torch.tensor(images, dtype=torch.float32) / 255.0
        return ((x - torch.tensor(mean, dtype=torch.float32)[:, None, None]) /
                torch.tensor(std, dtype=torch.float32)[:, None, None]).to(device)

    mine = shard(len(train), cfg.micro_batch, rank, world)
    return (prep(train.images[mine]), torch.tensor(train.labels[mine], device=device),
            prep(test.images), torch.tensor(test.labels, device=device), len(train), len(train.classes))


def shard(n: int, micro: int, rank: int, world: int) -> list[int]:
    """The image indices of rank ``rank``: micro-batches rank, rank + world, … of [0, n) cut every ``micro``.

    >>> shard(10, 3, 1, 2)
    [3, 4, 5, 9]
    """
    return [i for start in range(rank * micro, n, world * micro) for i in range(start, min(start + micro, n))]


def augment(x, generator):
    """Random crop (padding 4) and horizontal flip, per image (changes the full-batch loss every step)."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    i = torch.randint(0, 9, (n,), generator=generator, device="cpu")
    j = torch.randint(0, 9, (n,), generator=generator, device="cpu")
    flip = torch.rand(n, generator=generator, device="cpu") < 0.5
    out = torch.stack([padded[k, :, i[k]:i[k] + 32, j[k]:j[k] + 32] for k in range(n)])
    out[flip] = out[flip].flip(-1)
    return out


def split(x, y, micro):
    """[(x, y) of each micro-batch], in order."""
    return [(x[s:s + micro], y[s:s + micro]) for s in range(0, x.shape[0], micro)]


def micro_batches(model, x, y, micro, autocast):
    """(Σ cross-entropy, correct predictions) of each micro-batch, in order, with the graph kept."""
    for xb, yb in split(x, y, micro):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(xb).float()
        yield F.cross_entropy(logits, yb, reduction="sum"), (logits.argmax(1) == yb).sum()


def full_batch_gradient(model, x, y, n_total, micro, autocast):
    """Accumulate ∇ of (1/N) Σ_i CE(x_i) into .grad over micro-batches; returns (loss sum, correct) tensors."""
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device)
    for loss, right in micro_batches(model, x, y, micro, autocast):
        (loss / n_total).backward()
        loss_sum += loss.detach()
        correct += right
    return loss_sum, correct


def all_reduce_flat(tensors):
    """Sum ``tensors`` over ranks through one flat buffer (one collective; any memory format)."""
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view(t.shape))
        offset += t.numel()


@torch.no_grad()
def add_flat(tensors, flat):
    """tensors += the consecutive slices of the flat vector (any memory format)."""
    offset = 0
    for t in tensors:
        t.add_(flat[offset:offset + t.numel()].view(t.shape).to(t.dtype))
        offset += t.numel()


def average_running_stats(model, world):
    """BatchNorm running statistics averaged over ranks (each rank saw its own micro-batches)."""
    stats = [b for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var"))]
    if world > 1 and stats:
        all_reduce_flat(stats)
        for b in stats:
            b /= world


@torch.no_grad()
def evaluate(model, x, y, micro, autocast):
    """(mean loss, accuracy) on (x, y) in evaluation mode."""
    model.eval()
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for batch_loss, right in micro_batches(model, x, y, micro, autocast):
        loss += batch_loss
        correct += right
    model.train()
    return loss / x.shape[0], correct / x.shape[0]


class _Clock:
    """Wall seconds at each step's end without a host sync inside the step (CUDA events there)."""

    def __init__(self, device, offset: float):
        self.cuda, self.offset, self.t0 = device.type == "cuda", offset, time.perf_counter()
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.start.record()

    def mark(self):
        if not self.cuda:
            return time.perf_counter() - self.t0 + self.offset
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def seconds(self, mark) -> float:
        return mark if not self.cuda else self.start.elapsed_time(mark) / 1000 + self.offset  # after a sync


CHECKPOINT_KEYS = {"model", "optimizer", "step", "log", "config", "cpu_rng", "aug_rng"}


def _checkpoint(path: Path, model, opt, step, log, cfg, generator):
    """Tensors and plain data only (RNG states are CPU byte tensors), so that it loads with weights_only=True."""
    with replacing(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "log": log,
                    "config": asdict(cfg), "cpu_rng": torch.get_rng_state(), "aug_rng": generator.get_state()}, tmp)


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by :func:`_checkpoint`, loaded with ``weights_only=True`` (tensors and plain data;
    a pickle that asks for anything else is refused, never run) onto the CPU (``set_rng_state`` takes CPU
    tensors; the model and optimizer states move to their device when loaded into them)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated, foreign or hostile file: refused, with the reason
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise BeaError(f"{str(path)!r} is not a checkpoint of this program ({type(exc).__name__}: {reason})") from None
    if not isinstance(state, dict) or set(state) != CHECKPOINT_KEYS or not isinstance(state["config"], dict) \
            or type(state["step"]) is not int or not valid_rows(state["log"]) or len(state["log"]) != state["step"]:
        raise BeaError(f"{str(path)!r} is not a checkpoint of this program (expected the keys "
                       f"{sorted(CHECKPOINT_KEYS)})")
    return state


def run(cfg: Config, resume: bool = False, progress: bool = True) -> list[dict]:
    """Train; returns the log (one dict per step). Writes log.jsonl, log.csv, config.json, checkpoint.pt."""
    cfg.check()
    if cfg.model not in ARCHITECTURES:
        raise BeaError(f"unknown model {cfg.model!r}; known: {', '.join(ARCHITECTURES)}")
    name, hyper = cfg.optimizer_params()
    rank, world = _distributed()
    device = _device(cfg, rank)
    cuda = device.type == "cuda"
    use_amp, use_cl, use_compile = (cfg.resolved(k, cuda) for k in ("amp", "channels_last", "compile"))
    torch.manual_seed(cfg.seed)
    _numerics(cfg, cuda)
    out = writable_folder(cfg.out)
    x, y, xt, yt, n_total, classes = load_tensors(cfg, device, rank, world)
    model = build(cfg.model, classes, cfg.width, cfg.norm).to(device)
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
        x, xt = x.contiguous(memory_format=torch.channels_last), xt.contiguous(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = SpecOptimizer(params, name, cfg.lr, hyper)
    correction = None
    if cfg.correction:
        share = lambda b: F.cross_entropy(model(b[0]), b[1], reduction="sum") / n_total  # noqa: E731
        loss = ModelLoss(model, share, split(x, y, cfg.micro_batch), reduce=dist.all_reduce if world > 1 else None)
        correction = Correction(name, hyper, cfg.lr, loss, cfg.correction,
                                cfg.correction if cfg.correction_order == 2 else 0.0)
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    log, start = [], 0
    ckpt = out / "checkpoint.pt"
    if resume:
        if not ckpt.is_file():
            raise BeaError(f"--resume: no checkpoint at {ckpt}")
        state = load_checkpoint(ckpt)  # onto the CPU: set_rng_state takes CPU tensors (a CUDA run's too)
        changed = sorted(k for k, v in state["config"].items() if k != "steps" and v != asdict(cfg).get(k))
        if changed:  # only the number of steps may grow on resume
            raise BeaError(f"--resume: the checkpoint was made with other settings ({changed})")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["cpu_rng"])
        generator.set_state(state["aug_rng"])
        log, start = state["log"], state["step"]
        if rank == 0:  # the log files say what the checkpoint says (a damaged log.jsonl is repaired)
            _write_logs(out, log)
    elif rank == 0:
        write_atomic(out / "config.json", json.dumps(asdict(cfg) | {"device": str(device), "world_size": world,
                                                                    "amp": use_amp, "channels_last": use_cl,
                                                                    "compile": use_compile, "bea_optimizer": name,
                                                                    "hyperparameters": hyper}, indent=1))
    forward = torch.compile(model) if use_compile else model
    pending = []  # per-step metric tensors, fetched to the host at flush points
    bar = _progress(cfg.steps, start, progress and rank == 0)
    clock = _Clock(device, log[-1]["wall_s"] if log else 0.0)
    warned = any(r.get("validity_ratio", 0) > WARN_VALIDITY for r in log)
    for step in range(start, cfg.steps):
        xb = augment(x, generator) if cfg.augment else x

        def gradient_here():  # at the parameters' current values: θ_n, and θ + u for a step that needs it (SAM)
            return _full_gradient(opt, forward, xb, y, n_total, cfg.micro_batch, use_amp, params, world)

        stats = gradient_here()
        g = torch.cat([p.grad.reshape(-1) for p in params]).float()
        metrics = [stats[0] / n_total, stats[1] / n_total, torch.sqrt(g**2 + cfg.eps).sum(), g.abs().sum(), g.norm()]
        test = None
        if (step + 1) % cfg.eval_every == 0:  # the test metrics of the same θ as the train metrics
            average_running_stats(model, world)
            test = evaluate(forward, xt, yt, cfg.micro_batch, use_amp)
        delta = None
        if correction is not None:
            if cfg.augment:
                correction.field.loss.batches = split(xb, y, cfg.micro_batch)
            delta, ratio = correction.delta(correction.field.loss.theta(), step, gradient=g)
            metrics += [delta.norm(), torch.tensor(ratio, device=device)]
        opt.step(recompute=gradient_here)
        if delta is not None:
            add_flat(params, delta)
        pending.append((step, torch.stack([m.float() for m in metrics]), test, clock.mark()))
        checkpoint_now = (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps
        if not cuda or test is not None or checkpoint_now:
            fresh = _fetch(pending, clock)
            log += fresh
            pending = []
            bad = next((r for r in fresh if not math.isfinite(r["train_loss"])), None)
            invalid = next((r for r in fresh if r.get("validity_ratio", 0) > cfg.max_validity), None)
            if bad is not None or invalid is not None:
                note = (f"diverged: non-finite train loss at step {bad['step']}" if bad is not None else
                        f"stopped: validity ratio ‖hF₁‖/‖F₀‖ = {invalid['validity_ratio']:.3g} > {cfg.max_validity} "
                        f"at step {invalid['step']} (the modified equation does not describe this run)")
                if rank == 0:
                    _write_logs(out, log, note=note)
                raise Diverged(f"the run {note} (lr {cfg.lr}); the log in {out} says so")
            if not warned and any(r.get("validity_ratio", 0) > WARN_VALIDITY for r in fresh):
                warned = True
                warnings.warn(f"validity ratio ‖hF₁‖/‖F₀‖ above {WARN_VALIDITY} (see validity_ratio in the log): "
                              "the derived correction is not small at this step size", stacklevel=2)
        if checkpoint_now:
            average_running_stats(model, world)
            if rank == 0:
                _checkpoint(ckpt, model, opt, step + 1, log, cfg, generator)
                _write_logs(out, log)
        bar.update(1)
    bar.close()
    return log


def _full_gradient(opt, forward, x, y, n_total, micro, autocast, params, world):
    """.grad = the full-batch gradient at the parameters' current values, all-reduced over ranks together
    with [loss sum, correct], which it returns.  A step that needs the gradient at another point (SAM,
    extragradient) calls it again there: those forward passes also update BatchNorm's running statistics."""
    opt.zero_grad(set_to_none=False)
    loss_sum, correct = full_batch_gradient(forward, x, y, n_total, micro, autocast)
    stats = torch.stack([loss_sum, correct.float()])
    if world > 1:
        all_reduce_flat([p.grad for p in params] + [stats])
    return stats


def _fetch(pending, clock):
    """Host copies of the pending metric tensors (one sync for all of them)."""
    values = torch.stack([m for _, m, _, _ in pending]).cpu().tolist()
    rows = []
    for (step, _, test, mark), v in zip(pending, values):
        row = {"step": step + 1, "train_loss": v[0], "train_acc": v[1], "one_norm_eps": v[2], "grad_l1": v[3],
               "grad_l2": v[4], "wall_s": clock.seconds(mark)}
        if len(v) > 5:
            row["correction_l2"], row["validity_ratio"] = v[5], v[6]
        if test is not None:
            row["test_loss"], row["test_acc"] = float(test[0]), float(test[1])
        rows.append(row)
    return rows


LOG_KEYS = ["step", "train_loss", "train_acc", "test_loss", "test_acc", "one_norm_eps", "grad_l1", "grad_l2", "wall_s",
            "correction_l2", "validity_ratio"]


def _write_logs(out: Path, log, note: str | None = None):
    lines = [json.dumps(r) for r in log] + ([json.dumps({"note": note})] if note else [])
    write_atomic(out / "log.jsonl", "\n".join(lines) + "\n")
    rows = [",".join(LOG_KEYS)] + [",".join("" if r.get(k) is None else f"{r[k]:.9g}" for k in LOG_KEYS) for r in log]
    write_atomic(out / "log.csv", "\n".join(rows) + "\n")


def _progress(total, start, enabled):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, disable=not enabled, desc="full-batch steps", leave=False)


if __name__ == "__main__":  # python -m bea_experiments.cifar.train … (what torchrun launches)
    from .cli import main

    raise SystemExit(main())
