"""Full-batch Adam on CIFAR: one step = the gradient of the mean loss over the whole training set.

Read top to bottom: ``Config`` holds every setting; ``run`` loads the data onto the device
once, builds the model, and repeats {full-batch gradient over micro-batches → metrics → Adam
step}, logging the train loss/accuracy, the perturbed one-norm Σ√(g² + ε) of the full-batch
gradient g, ‖g‖₁, ‖g‖₂ and wall time every step, the test loss/accuracy every
``eval_every`` steps, and a checkpoint every ``checkpoint_every`` steps from which
``resume=True`` continues bit-exactly (same device and settings).

Speed on a CUDA GPU (each switch is in ``Config``; "auto" turns it on there, off on a CPU):
bf16 autocast, channels_last memory format, ``torch.compile``; the data sit on the device and
metrics stay on it between log flushes (no host syncs inside a step).  Under ``torchrun`` each
rank takes a slice of the training set and the summed gradients are all-reduced (gloo on a
CPU, NCCL on GPUs), so a step is still one full-batch step.

``regularizer = c`` makes the small-ε part of Adam's derived O(h) correction explicit:
hF₁ = −h (b/s) ⊙ ∇‖∇E‖_{1,ε}, b = β/(1−β) − ρ/(1−ρ), s = √(g² + ε), is added c times to each
step, θ ← θ − h·(Adam's direction) + c·h·(hF₁), so that the iterates follow F₀ + (1 + c)hF₁:
c = −1 cancels the implicit term, c = 1 doubles it.  It is added to the step, not to the loss,
because Adam normalizes its input: a loss term of size h would reach the step only through
∂(g/s)/∂g = ε/s³, which vanishes for small ε.  ∇‖∇E‖_{1,ε} = ∇²E·(g/s) is a Hessian-vector
product, computed by double backpropagation over the micro-batches.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from bea.atomic import replacing, write_atomic
from bea.errors import BeaError

from . import data as cifar_data
from .adam import PaperAdam
from .config import Config
from .models import build


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
        return torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def load_tensors(cfg: Config, device, rank: int = 0, world: int = 1):
    """Normalized images and labels on the device: (x_train, y_train, x_test, y_test, N_train, classes).

    Normalization uses the channel statistics of the whole training subset; each rank keeps
    the slice rank::world of it."""
    train = cifar_data.load(cfg.data_dir, cfg.dataset, "train", cfg.train_size)
    test = cifar_data.load(cfg.data_dir, cfg.dataset, "test", cfg.test_size)
    mean, std = cifar_data.channel_stats(train.images)

    def prep(images):
        x = torch.tensor(images, dtype=torch.float32) / 255.0
        return ((x - torch.tensor(mean, dtype=torch.float32)[:, None, None]) /
                torch.tensor(std, dtype=torch.float32)[:, None, None]).to(device)

    return (prep(train.images[rank::world]), torch.tensor(train.labels[rank::world], device=device),
            prep(test.images), torch.tensor(test.labels, device=device), len(train), len(train.classes))


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


def micro_batches(model, x, y, micro, autocast):
    """(Σ cross-entropy, correct predictions) of each micro-batch, in order, with the graph kept."""
    for start in range(0, x.shape[0], micro):
        xb, yb = x[start:start + micro], y[start:start + micro]
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


def hessian_vector(model, params, x, y, n_total, micro, autocast, vector):
    """∇²E·u over micro-batches (double backprop), u a list like ``params``."""
    out = [torch.zeros_like(p) for p in params]
    for loss, _ in micro_batches(model, x, y, micro, autocast):
        grads = torch.autograd.grad(loss / n_total, params, create_graph=True)
        hv = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, vector)), params)
        for o, h in zip(out, hv):
            o += h
    return out


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


def _checkpoint(path: Path, model, opt, step, log, cfg, generator):
    with replacing(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "log": log,
                    "config": asdict(cfg), "cpu_rng": torch.get_rng_state(), "aug_rng": generator.get_state()}, tmp)


def run(cfg: Config, resume: bool = False, progress: bool = True) -> list[dict]:
    """Train; returns the log (one dict per step). Writes log.jsonl, log.csv, config.json, checkpoint.pt."""
    rank, world = _distributed()
    device = _device(cfg, rank)
    cuda = device.type == "cuda"
    use_amp, use_cl, use_compile = (cfg.resolved(k, cuda) for k in ("amp", "channels_last", "compile"))
    if cfg.micro_batch < 1 or cfg.steps < 1 or cfg.eval_every < 1 or cfg.checkpoint_every < 1:
        raise BeaError("steps, micro_batch, eval_every and checkpoint_every must be >= 1")
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(not cuda, warn_only=True)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    x, y, xt, yt, n_total, classes = load_tensors(cfg, device, rank, world)
    model = build(cfg.model, classes, cfg.width).to(device)
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
        x, xt = x.contiguous(memory_format=torch.channels_last), xt.contiguous(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = PaperAdam(params, cfg.lr, cfg.beta, cfg.rho, cfg.eps, cfg.eps_inside, cfg.bias_correction)
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    log, start = [], 0
    ckpt = out / "checkpoint.pt"
    if resume:
        if not ckpt.is_file():
            raise BeaError(f"--resume: no checkpoint at {ckpt}")
        state = torch.load(ckpt, map_location=device, weights_only=False)
        changed = sorted(k for k, v in state["config"].items() if k != "steps" and v != asdict(cfg).get(k))
        if changed:  # only the number of steps may grow on resume
            raise BeaError(f"--resume: the checkpoint was made with other settings ({changed})")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["cpu_rng"])
        generator.set_state(state["aug_rng"])
        log, start = state["log"], state["step"]
    elif rank == 0:
        write_atomic(out / "config.json", json.dumps(asdict(cfg) | {"device": str(device), "world_size": world,
                                                                    "amp": use_amp, "channels_last": use_cl,
                                                                    "compile": use_compile}, indent=1))
    forward = torch.compile(model) if use_compile else model
    coef = cfg.regularizer * cfg.lr**2 * (cfg.beta / (1 - cfg.beta) - cfg.rho / (1 - cfg.rho))
    pending = []  # per-step metric tensors, fetched to the host at flush points
    bar = _progress(cfg.steps, start, progress and rank == 0)
    t0 = time.perf_counter() - (log[-1]["wall_s"] if log else 0.0)
    for step in range(start, cfg.steps):
        opt.zero_grad(set_to_none=False)
        xb = augment(x, generator) if cfg.augment else x
        loss_sum, correct = full_batch_gradient(forward, xb, y, n_total, cfg.micro_batch, use_amp)
        stats = torch.stack([loss_sum, correct.float()])
        if world > 1:
            for p in params:
                dist.all_reduce(p.grad)
            dist.all_reduce(stats)
        g = torch.cat([p.grad.reshape(-1) for p in params]).float()
        metrics = torch.stack([stats[0] / n_total, stats[1] / n_total, torch.sqrt(g**2 + cfg.eps).sum(),
                               g.abs().sum(), g.norm()])
        if coef:
            scale = [torch.sqrt(p.grad**2 + cfg.eps) for p in params]
            hv = hessian_vector(forward, params, xb, y, n_total, cfg.micro_batch, use_amp,
                                [p.grad / s for p, s in zip(params, scale)])
            if world > 1:
                for h in hv:
                    dist.all_reduce(h)
        opt.step()
        if coef:  # θ ← θ + c·h·(hF₁) = θ − c h² b ∇²E(g/s) / s; its size is logged next to h·√(#params)
            with torch.no_grad():
                shift = [h / s * coef for h, s in zip(hv, scale)]
                for p, d in zip(params, shift):
                    p.sub_(d)
                metrics = torch.cat([metrics, torch.sqrt(sum((d**2).sum() for d in shift)).reshape(1)])
        test = evaluate(forward, xt, yt, cfg.micro_batch, use_amp) if (step + 1) % cfg.eval_every == 0 else None
        pending.append((step, metrics, test))
        checkpoint_now = (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps
        if not cuda or test is not None or checkpoint_now:
            fresh = _fetch(pending, time.perf_counter() - t0)
            log += fresh
            pending = []
            bad = next((r for r in fresh if not math.isfinite(r["train_loss"])), None)
            if bad is not None:
                if rank == 0:
                    _write_logs(out, log, note=f"diverged: non-finite train loss at step {bad['step']}")
                raise Diverged(f"the run diverged: train loss {bad['train_loss']} at step {bad['step']} "
                               f"(lr {cfg.lr}); the log in {out} says so")
        if rank == 0 and checkpoint_now:
            _checkpoint(ckpt, model, opt, step + 1, log, cfg, generator)
            _write_logs(out, log)
        bar.update(1)
    bar.close()
    return log


def _fetch(pending, wall):
    """Host copies of the pending metric tensors (one sync for all of them)."""
    values = torch.stack([m for _, m, _ in pending]).cpu().tolist()
    rows = []
    for (step, _, test), v in zip(pending, values):
        row = {"step": step + 1, "train_loss": v[0], "train_acc": v[1], "one_norm_eps": v[2], "grad_l1": v[3],
               "grad_l2": v[4], "wall_s": wall}
        if len(v) > 5:
            row["correction_l2"] = v[5]
        if test is not None:
            row["test_loss"], row["test_acc"] = float(test[0]), float(test[1])
        rows.append(row)
    return rows


def _write_logs(out: Path, log, note: str | None = None):
    lines = [json.dumps(r) for r in log] + ([json.dumps({"note": note})] if note else [])
    write_atomic(out / "log.jsonl", "\n".join(lines) + "\n")
    keys = ["step", "train_loss", "train_acc", "test_loss", "test_acc", "one_norm_eps", "grad_l1", "grad_l2", "wall_s",
            "correction_l2"]
    rows = [",".join(keys)] + [",".join("" if r.get(k) is None else f"{r[k]:.9g}" for k in keys) for r in log]
    write_atomic(out / "log.csv", "\n".join(rows) + "\n")


def _progress(total, start, enabled):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, disable=not enabled, desc="full-batch steps", leave=False)


if __name__ == "__main__":  # python -m bea_experiments.cifar.train … (what torchrun launches)
    from .cli import main

    raise SystemExit(main())
