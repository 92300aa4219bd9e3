"""A sweep over one hyperparameter: one run per value in out/KEY=VALUE/, each resumable.

A finished run (its log reaches ``steps``) is skipped, an interrupted one resumes from its
checkpoint, a diverged one is recorded (its log says so) and the sweep goes on.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tqdm import tqdm

from bea.errors import BeaError

from .config import Config
from .train import Diverged, run


def _finished(folder: Path, steps: int) -> bool:
    log = folder / "log.jsonl"
    if not log.is_file():
        return False
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return any("note" in r for r in rows) or any(r.get("step") == steps for r in rows)


def sweep(cfg: Config, over: str, values) -> list[Path]:
    if not values:
        raise BeaError("a sweep needs at least one value")
    folders = []
    for value in tqdm(values, desc=f"sweep over {over}"):
        folder = Path(cfg.out) / f"{over}={value:g}"
        run_cfg = dataclasses.replace(cfg, out=str(folder), **{over: value})
        if not _finished(folder, cfg.steps):
            try:
                run(run_cfg, resume=(folder / "checkpoint.pt").is_file(), progress=False)
            except Diverged as exc:
                tqdm.write(f"{over}={value:g}: {exc}")
        folders.append(folder)
    return folders
