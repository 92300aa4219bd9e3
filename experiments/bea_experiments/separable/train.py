"""The optimizers on L(w) = mean_i ℓ(z_iᵀw), ℓ logistic or exponential, in float64 NumPy.

One loop serves all of them; a step sees the gradient g = ∇L_B(w) of its batch B
(all samples, one sample or k samples, in cyclic or reshuffled order):

    gd       w ← w − η g
    adam     m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η m̂/√(v̂ + ε)   (or m̂/(√v̂ + ε))
             (β₁ = 0: RMSProp; with bias correction: "Adam without momentum" of Wang et al.)
    signum   m ← βm + (1−β)g, w ← w − η sign(m)
    adagrad  v ← v + g², w ← w − η g/√(v + ε)
    proxy    w ← w − η ∇L ⊘ √(Σ_i ∇L_i²)   (the β₂ → 1 limit of per-sample Adam; full batch)

with η_t = η₀/(t + 2)^a (a = 0: constant).  Gradients decay like e^{−margin}; for the
algorithms that are invariant to rescaling all gradients (ε = 0: adam, signum, adagrad,
proxy) the gradients are kept in a floating scale e^S, and the states are rescaled
with it, so long runs neither underflow nor change.  A coordinate whose gradients
have all been exactly 0 gives 0/0 in m/√v: its step is taken as 0 and counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bea.errors import BeaError

ALGORITHMS = ("gd", "adam", "signum", "adagrad", "proxy")


@dataclass(frozen=True)
class Settings:
    algorithm: str
    steps: int
    lr: float = 0.1
    decay: float = 0.5  # η_t = lr / (t + 2)^decay
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 0.0
    eps_outside: bool = False
    bias_correction: bool = False
    batch: int | None = None  # None: full batch
    order: str = "cyclic"  # or "shuffle" (a new permutation each epoch)
    loss: str = "logistic"  # or "exp"
    seed: int = 0
    records: int = 120

    def check(self, N: int) -> None:
        if self.algorithm not in ALGORITHMS:
            raise BeaError(f"unknown algorithm {self.algorithm!r}; known: {', '.join(ALGORITHMS)}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise BeaError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.eps < 0 or self.lr <= 0 or self.steps < 1:
            raise BeaError(f"need eps >= 0, lr > 0 and steps >= 1; got {self.eps}, {self.lr}, {self.steps}")
        if self.batch is not None and not 1 <= self.batch <= N:
            raise BeaError(f"batch must be between 1 and N = {N}, got {self.batch}")
        if self.algorithm == "proxy" and self.batch not in (None, N):
            raise BeaError("the proxy algorithm is full-batch (it uses every per-sample gradient each step)")
        if self.order not in ("cyclic", "shuffle") or self.loss not in ("logistic", "exp"):
            raise BeaError("order must be cyclic or shuffle, loss logistic or exp")

    @property
    def scale_invariant(self) -> bool:
        return self.eps == 0 and self.algorithm != "gd"


@dataclass
class Run:
    settings: Settings
    steps: np.ndarray  # recorded step indices
    w: np.ndarray  # (records, d) iterates at those steps
    zero_denominators: int = 0  # coordinate-steps where 0/0 was taken as 0
    accumulator: np.ndarray | None = None  # final v (adam, adagrad) in gradient units
    notes: list = field(default_factory=list)


def log_weights(u, loss: str) -> np.ndarray:
    """log(−ℓ'(u)): logistic −log(1 + e^u), exponential −u."""
    return -np.logaddexp(0.0, u) if loss == "logistic" else -u


def loss_value(Z, w, loss: str) -> float:
    """L(w) = mean_i ℓ(z_iᵀw)."""
    u = Z @ w
    return float(np.mean(np.logaddexp(0.0, -u) if loss == "logistic" else np.exp(-u)))


def batches(N: int, batch: int | None, order: str, rng):
    """Endless batches of sample indices: epochs of consecutive chunks, permuted when shuffling."""
    size = N if batch is None else batch
    while True:
        idx = rng.permutation(N) if order == "shuffle" else np.arange(N)
        for start in range(0, N - size + 1, size):
            yield idx[start:start + size]


def train(Z, settings: Settings, w0=None) -> Run:
    """Run ``settings.algorithm`` on the signed samples Z from w0 (default 0)."""
    Z = np.asarray(Z, float)
    N, d = Z.shape
    s = settings
    s.check(N)
    rng = np.random.default_rng(s.seed)
    w = np.zeros(d) if w0 is None else np.array(w0, float)
    record_at = set(np.unique(np.geomspace(1, s.steps, s.records).astype(int)).tolist()) | {0}
    steps, ws = [], []
    m, v = np.zeros(d), np.zeros(d)
    S, zeros = 0.0, 0
    source = batches(N, s.batch, s.order, rng)
    for t in range(s.steps + 1):
        if t in record_at:
            steps.append(t)
            ws.append(w.copy())
        if t == s.steps:
            break
        B = next(source)
        ZB = Z if s.algorithm == "proxy" else Z[B]
        a_all = log_weights(Z @ w, s.loss)
        if s.scale_invariant:  # keep the largest of (states, this gradient) near 1 in scale units
            level = max([a_all.max() - S, *(np.log(np.abs(x).max()) * p for x, p in ((m, 1), (v, 0.5)) if x.any())])
            if abs(level) > 30:
                m *= np.exp(-level)
                v *= np.exp(-2 * level)
                S += level
        q = np.exp((a_all if s.algorithm == "proxy" else a_all[B]) - S)
        per_sample = -q[:, None] * ZB
        g = per_sample.mean(axis=0)
        lr = s.lr / (t + 2) ** s.decay
        if s.algorithm == "gd":
            step = g
        elif s.algorithm == "adam":
            m = s.beta1 * m + (1 - s.beta1) * g
            v = s.beta2 * v + (1 - s.beta2) * g**2
            mh, vh = (m / (1 - s.beta1 ** (t + 1)), v / (1 - s.beta2 ** (t + 1))) if s.bias_correction else (m, v)
            step, z = _ratio(mh, np.sqrt(vh) + s.eps if s.eps_outside else np.sqrt(vh + s.eps))
            zeros += z
        elif s.algorithm == "signum":
            m = s.beta1 * m + (1 - s.beta1) * g
            step = np.sign(m)
        elif s.algorithm == "adagrad":
            v = v + g**2
            step, z = _ratio(g, np.sqrt(v + s.eps * np.exp(-2 * S)))
            zeros += z
        else:  # proxy
            step, z = _ratio(g, np.sqrt((per_sample**2).sum(axis=0)))
            zeros += z
        w = w - lr * step
        if not np.all(np.isfinite(w)):
            raise BeaError(f"{s.algorithm} diverged at step {t + 1}; reduce lr")
    run = Run(s, np.array(steps), np.array(ws), zeros, v * np.exp(2 * S))
    if zeros:
        run.notes.append(f"{zeros} coordinate-steps had a zero denominator (all gradients 0 so far): step 0 taken")
    return run


def _ratio(num, den):
    """num/den with 0/0 := 0 (a coordinate that has never seen a gradient does not move)."""
    zero = den == 0
    out = np.divide(num, den, out=np.zeros_like(num), where=~zero)
    return out, int(zero.sum())
