"""Every setting of a CIFAR run in one place (no torch import, so the CLI can list them cheaply)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import get_type_hints

from bea.errors import BeaError

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d{1,2})?")
SWITCHES = ("auto", "on", "off")
NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
FLAG_PARAMS = ("beta", "rho", "eps", "lam")  # hyperparameters with flags of their own; others go in --params


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
    params: str | None = None  # the optimizer's other hyperparameters, KEY=VALUE,… (e.g. c=0.05 for sam)
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

    def check(self) -> "Config":
        """The config if every setting is in range, else a :class:`BeaError` naming its flag: finite numbers
        (``lr`` > 0, ``beta`` and ``rho`` in [0, 1), ``eps``, ``lam`` ≥ 0), sizes ≥ 1, a known dataset and norm,
        a correction order of 1 or 2, ``max_validity`` > 0, device syntax and switches.  Called before any work."""
        from .data import LAYOUT

        def fail(name, what):
            raise BeaError(f"--{name.replace('_', '-')} must be {what}, got {getattr(self, name)!r}")

        for name, kind in get_type_hints(Config).items():
            value = getattr(self, name)
            if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
                fail(name, "a finite number")
            if kind in (int, int | None) and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                fail(name, "an integer")
            if kind is bool and not isinstance(value, bool):
                fail(name, "true or false")
            if kind is str and (not isinstance(value, str) or not value):
                fail(name, "a non-empty string")
        if not self.lr > 0:
            fail("lr", "> 0")
        for name in ("beta", "rho"):
            if not 0 <= getattr(self, name) < 1:
                fail(name, "in [0, 1)")
        for name in ("eps", "lam"):
            if not getattr(self, name) >= 0:
                fail(name, ">= 0")
        if self.norm not in ("batch", "group"):
            fail("norm", "batch or group")
        if self.correction_order not in (1, 2):
            fail("correction_order", "1 or 2")
        if not self.max_validity > 0:
            fail("max_validity", "> 0")
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                fail(name, ">= 1 (leave it out for every image present)")
        for name in ("steps", "micro_batch", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                fail(name, ">= 1")
        if not 2 <= self.width <= 1024:
            fail("width", "in [2, 1024]")
        if not 0 <= self.seed < 2**63:
            fail("seed", "in [0, 2**63)")
        if self.dataset not in LAYOUT:
            fail("dataset", f"one of {', '.join(LAYOUT)}")
        self.optimizer_params()
        if not DEVICE.fullmatch(self.device):
            fail("device", "auto, cpu, cuda, cuda:N or mps")
        for name in ("amp", "tf32", "channels_last", "compile", "deterministic"):
            if getattr(self, name) not in SWITCHES:
                fail(name, "auto, on or off")
        return self

    def resolved(self, key: str, cuda: bool) -> bool:
        value = getattr(self, key)
        if value not in ("auto", "on", "off"):
            raise BeaError(f"{key} must be auto, on or off, got {value!r}")
        return cuda if value == "auto" else value == "on"

    def optimizer_params(self) -> tuple[str, dict]:
        """(bea optimizer name, its hyperparameters and options) from these settings: the optimizer's own
        hyperparameters among beta, rho, eps, lam, the others from ``params``, and bias_correction where it
        has that option; ``--no-eps-inside`` turns adam into adam_eps_outside (PyTorch's convention).

        >>> Config("run", optimizer="sam", params="c=0.05").optimizer_params()
        ('sam', {'c': 0.05})
        """
        from bea.optimizers import REGISTRY, option_names

        name = self.optimizer
        if name == "adam" and not self.eps_inside:
            name = "adam_eps_outside"
        if name not in REGISTRY:
            raise BeaError(f"unknown optimizer {self.optimizer!r}; known: {', '.join(REGISTRY)}")
        spec = REGISTRY[name]()
        extra = self._other_params()
        for key in extra:
            if key in FLAG_PARAMS:
                raise BeaError(f"--params: give {key} as --{key}")
            if key not in spec.hyper_names:
                raise BeaError(f"--params: {name} has no hyperparameter {key!r}; its hyperparameters: "
                               f"{', '.join(spec.hyper_names) or 'none'}")
        missing = [k for k in spec.hyper_names if k not in FLAG_PARAMS and k not in extra]
        if missing:
            raise BeaError(f"--optimizer {name} needs --params {','.join(f'{k}=VALUE' for k in missing)}")
        params = {k: getattr(self, k) if k in FLAG_PARAMS else extra[k] for k in spec.hyper_names}
        if "bias_correction" in option_names(name):
            params["bias_correction"] = self.bias_correction
        return name, params

    def __post_init__(self):
        if isinstance(self.params, str):  # one spelling per value: c=5e-2 and c=0.05 are the same run on resume
            canonical = ",".join(f"{k}={v!r}" for k, v in sorted(self._other_params().items()))
            object.__setattr__(self, "params", canonical)

    def _other_params(self) -> dict:
        """{key: number} from ``params`` = "KEY=VALUE,…"."""
        if self.params is not None and not isinstance(self.params, str):
            raise BeaError(f"--params must be KEY=VALUE,…, got {self.params!r}"[:300])
        out = {}
        for item in self.params.split(",") if self.params is not None else ():
            key, sep, value = item.partition("=")
            key = key.strip()
            number = float(value) if NUMBER.fullmatch(value) else math.nan
            if not sep or not key.isidentifier() or not math.isfinite(number) or key in out:
                raise BeaError(f"--params must be KEY=VALUE,… with each key once and finite numbers, "
                               f"got {self.params!r}"[:300])
            out[key] = number
        return out
