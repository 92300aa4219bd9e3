"""A sweep over one setting and seeds: one run per (value, seed) in out/KEY=VALUE/seed=S/, each resumable.

Folder names keep every digit of the value (ρ = 0.9999999 is ``rho=0.9999999``, not ``rho=1``).
A finished run (its log reaches ``steps``) is skipped, an interrupted one resumes from its
checkpoint, a diverged or stopped one is recorded (its log says so) and the sweep goes on.  A log
that is not one (:mod:`bea_experiments.cifar.logfile`) does not count as finished.  Every run's
settings are checked before the first run starts.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm import tqdm

from bea.errors import BeaError

from .config import Config
from .logfile import read_log
from .train import Diverged, run

OVER = ("rho", "beta", "eps", "lr", "lam", "correction")


def value_name(value: float) -> str:
    """The shortest text that reads back as the same float (every digit kept).

    >>> value_name(0.9999999), value_name(1e-8), value_name(-1)
    ('0.9999999', '1e-08', '-1.0')
    """
    return repr(float(value))


def run_folder(out, over: str, value: float, seed: int) -> Path:
    return Path(out) / f"{over}={value_name(value)}" / f"seed={seed}"


def _finished(folder: Path, steps: int) -> bool:
    log = folder / "log.jsonl"
    rows = read_log(log) if log.is_file() else None
    return rows is not None and (any("note" in r for r in rows) or any(r.get("step") == steps for r in rows))


def sweep(cfg: Config, over: str, values, seeds=None) -> list[Path]:
    if not values:
        raise BeaError("a sweep needs at least one value")
    if over not in OVER:
        raise BeaError(f"a sweep goes over {', '.join(OVER)}, not {over!r}")
    seeds = [cfg.seed] if seeds is None else list(seeds)
    pairs = [(v, s) for v in values for s in seeds]
    folders = [run_folder(cfg.out, over, v, s) for v, s in pairs]
    if len(set(folders)) != len(folders):
        raise BeaError(f"--values/--seeds: a run is given twice ({', '.join(value_name(v) for v in values)}; "
                       f"seeds {seeds})")
    runs = [dataclasses.replace(cfg, out=str(f), seed=s, **{over: v}).check() for f, (v, s) in zip(folders, pairs)]
    for folder, (value, seed), run_cfg in tqdm(list(zip(folders, pairs, runs)), desc=f"sweep over {over}"):
        if not _finished(folder, cfg.steps):
            try:
                run(run_cfg, resume=(folder / "checkpoint.pt").is_file(), progress=False)
            except Diverged as exc:
                tqdm.write(f"{over}={value_name(value)}, seed {seed}: {exc}")
    return folders
