"""A sweep over one hyperparameter: one run per value in out/KEY=VALUE/, each resumable.

A finished run (its log reaches ``steps``) is skipped, an interrupted one resumes from its
checkpoint, a diverged one is recorded (its log says so) and the sweep goes on.  A log that is
not one (:mod:`bea_experiments.cifar.logfile`) does not count as finished.  Every value is
checked before the first run starts.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm import tqdm

from bea.errors import BeaError

from .config import Config
from .logfile import read_log
from .train import Diverged, run


def _finished(folder: Path, steps: int) -> bool:
    log = folder / "log.jsonl"
    rows = read_log(log) if log.is_file() else None
    return rows is not None and (any("note" in r for r in rows) or any(r.get("step") == steps for r in rows))


def sweep(cfg: Config, over: str, values) -> list[Path]:
    if not values:
        raise BeaError("a sweep needs at least one value")
    if over not in ("rho", "beta", "eps", "lr", "regularizer"):
        raise BeaError(f"a sweep goes over rho, beta, eps, lr or regularizer, not {over!r}")
    folders = [Path(cfg.out) / f"{over}={value:g}" for value in values]  # KEY=VALUE folders, as the plot reads them
    if len(set(folders)) != len(folders):
        raise BeaError(f"--values: two values print alike ({', '.join(f'{v:g}' for v in values)}); give distinct ones")
    runs = [dataclasses.replace(cfg, out=str(folder), **{over: value}).check() for folder, value in zip(folders, values)]
    for folder, value, run_cfg in tqdm(list(zip(folders, values, runs)), desc=f"sweep over {over}"):
        if not _finished(folder, cfg.steps):
            try:
                run(run_cfg, resume=(folder / "checkpoint.pt").is_file(), progress=False)
            except Diverged as exc:
                tqdm.write(f"{over}={value:g}: {exc}")
    return folders
