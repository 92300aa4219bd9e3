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
    norm: str = "batch"  # ResNets: batch | group
    steps: int = 200
    optimizer: str = "adam"  # any built-in bea optimizer (bea list)
    lr: float = 1e-4
    beta: float = 0.99
    rho: float = 0.999
    eps: float = 1e-8
    lam: float = 0.0
    eps_inside: bool = True
    bias_correction: bool = True
    micro_batch: int = 500
    eval_every: int = 10
    checkpoint_every: int = 50
    augment: bool = False
    correction: float = 0.0
    correction_order: int = 1
    max_validity: float = 1.0
    seed: int = 0
    device: str = "auto"
    amp: str = "off"  # bf16 autocast: off (the faithful default) | on | auto (on with CUDA)
    tf32: str = "off"
    channels_last: str = "auto"
    compile: str = "auto"
    deterministic: str = "auto"

    def resolved(self, key: str, cuda: bool) -> bool:
        value = getattr(self, key)
        if value not in ("auto", "on", "off"):
            raise BeaError(f"{key} must be auto, on or off, got {value!r}")
        return cuda if value == "auto" else value == "on"

    def optimizer_params(self) -> tuple[str, dict]:
        """(bea optimizer name, its hyperparameters and options) from these settings: the optimizer's own
        hyperparameters among beta, rho, eps, lam, and bias_correction where it has that option;
        ``--no-eps-inside`` turns adam into adam_eps_outside (PyTorch's convention)."""
        from bea.optimizers import REGISTRY, option_names

        name = self.optimizer
        if name == "adam" and not self.eps_inside:
            name = "adam_eps_outside"
        if name not in REGISTRY:
            raise BeaError(f"unknown optimizer {self.optimizer!r}; known: {', '.join(REGISTRY)}")
        spec = REGISTRY[name]()
        params = {k: getattr(self, k) for k in spec.hyper_names}
        if "bias_correction" in option_names(name):
            params["bias_correction"] = self.bias_correction
        return name, params
