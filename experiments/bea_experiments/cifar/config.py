"""Every setting of a CIFAR run in one place (no torch import, so the CLI can list them cheaply)."""
from __future__ import annotations

from dataclasses import dataclass

from bea.errors import BeaError


@dataclass(frozen=True)
class Config:
    out: str
    model: str = "resnet18"
    dataset: str = "cifar10"
    data_dir: str = "../shared/data"
    train_size: int | None = None  # first N training images (None: all present)
    test_size: int | None = None
    width: int = 64
    steps: int = 200
    lr: float = 1e-4
    beta: float = 0.99
    rho: float = 0.999
    eps: float = 1e-8
    eps_inside: bool = True
    bias_correction: bool = True
    micro_batch: int = 500
    eval_every: int = 10
    checkpoint_every: int = 50
    augment: bool = False
    regularizer: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # bf16 autocast: auto | on | off
    channels_last: str = "auto"
    compile: str = "auto"

    def resolved(self, key: str, cuda: bool) -> bool:
        value = getattr(self, key)
        if value not in ("auto", "on", "off"):
            raise BeaError(f"{key} must be auto, on or off, got {value!r}")
        return cuda if value == "auto" else value == "on"
