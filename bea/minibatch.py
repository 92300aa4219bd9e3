"""Mini-batch optimizers: step n uses the loss E_{n mod k} of k batches in cyclic order.

The field is piecewise: on [nh, (n+1)h] it is F^{(r)}, r = n mod k.

* Memoryless optimizers (GD = SGD, …): each step is a map with its own loss, so
  F^{(r)} is that map's modified field, at any order (:func:`bea.engine.derive`).
* Optimizers with memory, order ≤ 1, n → ∞: the past iterate j steps back is
  θ_{n-j} = θ − h Σ_{l=1}^{j} F₀^{(r-l)}(θ) + O(h²) (the past intervals' own fields),
  and u_{r-j}(θ_{n-j}) is summed over j = qk + t in closed form:

      s^{(r)} = b Σ_t a^t/(1−a^k) u_{r−t}
                − h b Σ_t a^t ∇u_{r−t} · [a^k/(1−a^k)² C + D_t/(1−a^k)],

  with C = Σ_{all r'} F₀^{(r')} (one cycle) and D_t = Σ_{l=1}^{t} F₀^{(r−l)}.
  With k = 1 this is the full-batch result.  Then F₀^{(r)} = −φ(s₀) and
  F₁^{(r)} = −φ₁ − ½ D_{F₀^{(r)}} F₀^{(r)}.

Random reshuffling each epoch (memoryless optimizers, order ≤ 1): over one epoch
the flows compose to the flow of Σ_r F^{(π(r))} plus commutators ½h[F^{(π(j))}, F^{(π(i))}],
whose average over the permutations π is zero (each pair comes in both orders equally
often).  So the expected epoch follows the mean field F̄ = (1/k) Σ_r F^{(r)}; for SGD
that is −∇(E + (h/4k) Σ_r ‖∇E_r‖²) with E the mean loss (Smith et al. 2021).
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import sympy as sp
import symengine as se

from . import engine
from . import symbols as S
from . import potential
from .concrete import ConcreteCalculus, check_loss, warn_if_not_smooth
from .errors import BeaError
from .iterate import check_start, check_steps, run
from .moments import stationary_limit
from .numeric import function, gradient_function
from .ode import check_order, derive_abstract, step_index
from .optimizers import build
from .plan import plan as make_plan
from .recognize import preconditioner, recognize
from .spec import check_value


def check_losses(losses, variables, spec=None):
    """At least one loss, each checked by :func:`bea.concrete.check_loss`."""
    if isinstance(losses, (str, sp.Basic)) or not hasattr(losses, "__iter__"):
        raise BeaError("losses must be a list of SymPy expressions, one per mini-batch")
    losses = list(losses)
    if not losses:
        raise BeaError("losses is empty: give one loss per mini-batch")
    checked = [check_loss(E, variables, spec) for E in losses]
    return tuple(E for E, _ in checked), checked[0][1]


@dataclasses.dataclass(frozen=True)
class BatchODE:
    """The piecewise modified ODE of an optimizer on k mini-batch losses in cyclic order.

    ``terms[r][i]`` is F_i^{(r)} (a column ``sp.Matrix``) on the intervals n ≡ r (mod k).
    """

    spec: object
    values: dict
    losses: tuple
    variables: tuple
    terms: tuple
    order: int
    h: sp.Expr
    stationary: bool

    @property
    def batches(self) -> int:
        return len(self.losses)

    def field(self, r: int):
        """F₀^{(r)} + hF₁^{(r)} + … on the intervals of batch r."""
        terms = self.terms[r % self.batches]
        return sum((self.h**i * F for i, F in enumerate(terms[1:], start=1)), terms[0])

    @property
    def step_dependent(self) -> bool:
        return True

    @property
    def global_order(self) -> int | None:
        """p + 1 from a zero start for memoryless optimizers; None (after the transient) with memory."""
        if self.spec.states:
            return None
        return self.order + 1 if not any(F.has(S.n) for Fs in self.terms for F in Fs) else None

    @functools.cached_property
    def _numpy(self):
        return [function([list(self.variables), S.n], list(self.field(r)), hint="; pass them (h too) to cyclic_ode")
                for r in range(self.batches)]

    def numpy_field(self, theta, n: int = 0) -> np.ndarray:
        """The field at θ on the interval of step n (batch n mod k)."""
        return np.asarray(self._numpy[n % self.batches](list(np.asarray(theta, dtype=float)), n), dtype=float)

    def rhs_at_step(self, n: int):
        return lambda t, theta: self.numpy_field(theta, n)

    def rhs(self, t, theta):
        return self.numpy_field(theta, step_index(t, self.h))

    def reshuffled(self):
        """The mean field F̄ = (1/k) Σ_r F^{(r)} that the expected epoch under random reshuffling
        follows (memoryless optimizers, order ≤ 1), with its potential when it is a gradient."""
        if self.spec.states:
            raise BeaError(f"{self.spec.name}: the reshuffled expectation is derived for memoryless optimizers "
                           "only; with memory the batch order inside the memory window does not average out "
                           "in closed form here (use cyclic order, or simulate)")
        if self.order > 1:
            raise BeaError("the reshuffled expectation holds to order 1: at h² the averaged commutators "
                           "of the batch fields no longer vanish")
        terms = [sp.expand(sum((Fs[i] for Fs in self.terms), sp.zeros(len(self.variables), 1)) / self.batches)
                 for i in range(self.order + 1)]
        found = [potential.find(F, self.variables, [c]) for F, c in zip(terms, self._candidates())]
        return Reshuffled(self, terms, [f.expr for f in found], [f.reason for f in found])

    def _candidates(self):
        """Mean potentials from each batch's recognized field (F₀ = −∇E_r, F_i = −∇(Σ c_k Ψ_k(E_r)))."""
        fields = [F.xreplace(self.values) for F in derive_abstract(self.spec, self.order, self.stationary).terms]
        if preconditioner(fields[0]) != 1:
            return [None] * len(fields)
        out = [sp.Add(*self.losses) / self.batches]
        for rec in recognize(fields):
            if not rec.is_gradient or rec.preconditioner != 1:
                out.append(None)
                continue
            out.append(sp.Add(*(p.coefficient * sum(p.functional.psi.subs(S.g, sp.diff(E, x)) for x in self.variables)
                                for p in rec.parts for E in self.losses)) / self.batches)
        return out

    def pretty(self) -> str:
        lines = [f"{self.spec.title} on {self.batches} mini-batch losses in cyclic order; order {self.order} in h",
                 "field on [nh, (n+1)h]: F^(r) with r = n mod k" + ("; n → ∞" if self.stationary else "")]
        for r, Fs in enumerate(self.terms):
            lines.append(f"batch r = {r}: E_{r} = {self.losses[r]}")
            lines += [f"  F{i}^({r}) = {list(F)}" for i, F in enumerate(Fs)]
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Reshuffled:
    """Expected-epoch field under random reshuffling: θ̇ = F̄₀ + hF̄₁, F̄_i = −∇V_i where a potential exists."""

    cyclic: BatchODE
    terms: list
    potentials: list
    reasons: list   # how each potential was found, or why there is none

    @property
    def regularizer(self):
        """V₁ with F̄₁ = −∇V₁: the implicit regularizer of the reshuffled epochs (None if not a gradient)."""
        return self.potentials[1] if len(self.potentials) > 1 else None


def _check_memory(spec):
    """Mini-batch memory is derived for exponential moving averages of g and θ only."""
    plan = make_plan(spec, True)
    fed = [st.symbol for st in spec.states if sp.sympify(st.input, strict=True).free_symbols & {s.symbol for s in spec.states}]
    constructs = any(S.constructs_innermost_first(e) for e in [spec.step, *(st.input for st in spec.states)])
    if plan.slow or fed or constructs or spec.step.has(S.t):
        raise BeaError(f"{spec.name}: mini-batch fields with memory are derived for moving averages of g and θ "
                       "with a step in them; running averages, states fed by states, grad/prev/sum and schedules "
                       "are derived for full batches only")


def _memoryless_fields(spec, loss, variables, order, stationary):
    calculus = ConcreteCalculus(loss, variables)
    derivation = engine.derive(spec, calculus, order, stationary)
    return [sp.Matrix(calculus.output(F[S.theta], derivation.restore)) for F in derivation.fields]


def _memory_fields(spec, losses, variables, order):
    """[F₀^{(r)}, F₁^{(r)}] for every batch r (stationary, see the module docstring)."""
    k = len(losses)
    calcs = [ConcreteCalculus(E, variables) for E in losses]
    d = len(variables)
    step = stationary_limit(spec.step)
    state_symbols = [se.Symbol(st.symbol.name) for st in spec.states]
    seeds = [[c.local(st.input) for st in spec.states] for c in calcs]  # seeds[r][state][j]
    steps = [c.local(step) for c in calcs]  # φ with g = ∂_jE_r, θ = θ_j, per coordinate j
    theta = calcs[0].local(S.theta)

    def const(c):
        return calcs[0].const(c)[0]

    def state_values(values, j):
        return {sym: v[j] for sym, v in zip(state_symbols, values)}

    def along(r, u, offset):
        return calcs[r].lie(u, calcs[r].direction({theta: offset}, time=False))

    s0 = [[[se.Add(*(const(st.scale * st.decay**t / (1 - st.decay**k)) * seeds[(r - t) % k][i][j] for t in range(k)))
            for j in range(d)] for i, st in enumerate(spec.states)] for r in range(k)]
    F0 = [[-steps[r][j].xreplace(state_values(s0[r], j)) for j in range(d)] for r in range(k)]
    out = [[F0[r]] for r in range(k)]
    if order >= 1:
        cycle = [se.Add(*(F[j] for F in F0)) for j in range(d)]
        for r in range(k):
            s1 = []
            for i, st in enumerate(spec.states):
                a, acc = st.decay, [se.Integer(0)] * d
                for t in range(k):
                    partial = [se.Add(*(F0[(r - l) % k][j] for l in range(1, t + 1))) for j in range(d)]
                    offset = [const(a**k / (1 - a**k) ** 2) * c + p / const(1 - a**k) for c, p in zip(cycle, partial)]
                    acc = [x + const(st.scale * a**t) * y for x, y in zip(acc, along(r, seeds[(r - t) % k][i], offset))]
                s1.append([-x for x in acc])
            phi1 = [se.Add(*(se.diff(steps[r][j], sym).xreplace(state_values(s0[r], j)) * s1[i][j]
                             for i, sym in enumerate(state_symbols))) for j in range(d)]
            flow = along(r, F0[r], F0[r])
            out[r].append([-p - f / 2 for p, f in zip(phi1, flow)])
    return [[sp.Matrix(calcs[0].output(F)) for F in fields] for fields in out]


def cyclic_ode(optimizer, losses, variables, order: int = 1, h=None, stationary: bool = True,
               **hyper_and_options) -> BatchODE:
    """The piecewise modified ODE of ``optimizer`` on mini-batch losses visited in cyclic order.

    Memoryless optimizers: any order, finite or stationary n.  With memory: order ≤ 1 and
    ``stationary=True`` (the fields after the initialization transient).

    Examples
    --------
    >>> import sympy as sp, bea
    >>> x = sp.Symbol("x")
    >>> sgd = bea.cyclic_ode("gd", [(x - 1)**2 / 2, (x + 1)**2 / 2], [x], order=1)
    >>> [F[1][0] for F in sgd.terms]
    [1/2 - x/2, -x/2 - 1/2]
    """
    order = check_order(order)
    spec, values = build(optimizer, hyper_and_options)
    losses, variables = check_losses(losses, variables, spec)
    for E in losses:
        warn_if_not_smooth(E)
    if any(e.has(S.Prev) for e in [spec.step, *(st.input for st in spec.states)]):
        raise BeaError(f"{spec.name}: prev(·) with mini-batches: the previous step used another batch's loss, "
                       "which the batch fields do not carry; use full batches")
    h_value = S.h if h is None else check_value("h", h, "positive")
    if not spec.states:
        terms = [_memoryless_fields(spec.substitute(values), E, variables, order, stationary) for E in losses]
    else:
        if order > 1 or not stationary:
            raise BeaError(f"{spec.name}: with memory, mini-batch fields are derived for n → ∞ (stationary=True) "
                           f"and order ≤ 1; asked for order {order}, stationary={stationary}")
        engine.check_expandable(spec, order)
        _check_memory(spec)
        terms = [[F.xreplace(values) for F in Fs] for Fs in _memory_fields(spec, losses, variables, order)]
    return BatchODE(spec, values, losses, variables, tuple(tuple(Fs) for Fs in terms), order, h_value, stationary)


def iterate_batches(optimizer, losses, variables, theta0, steps: int, h, schedule: str = "cyclic", seed: int = 0,
                    **hyper_and_options) -> np.ndarray:
    """Iterates with step n on batch loss E_{b(n)}: ``schedule`` "cyclic" (b(n) = n mod k) or "shuffle"
    (a fresh random permutation of the k batches each epoch, from ``seed``). Batches of one sample
    give incremental (per-sample) optimizers, e.g. per-sample Adam."""
    steps, h = check_steps(steps, h)
    spec, values = build(optimizer, hyper_and_options, require_all=True)
    losses, variables = check_losses(losses, variables, spec)
    theta = check_start(theta0, len(variables))
    order = batch_order(len(losses), steps, schedule, seed)
    grads = [gradient_function(E, variables) for E in losses]
    return run(spec.substitute(values), lambda n, th: grads[order[n]](th), theta, steps, h)


def batch_order(k: int, steps: int, schedule: str, seed: int = 0) -> np.ndarray:
    """The batch index used at each step."""
    if schedule == "cyclic":
        return np.arange(steps) % k
    if schedule == "shuffle":
        rng = np.random.default_rng(seed)
        epochs = -(-steps // k) if steps else 0
        return np.concatenate([rng.permutation(k) for _ in range(epochs)] or [np.array([], int)])[:steps]
    raise BeaError(f"schedule must be 'cyclic' or 'shuffle', got {schedule!r}")


def permutations_mean_epoch(optimizer, losses, variables, theta0, h, **hyper_and_options) -> np.ndarray:
    """E_π[θ after one epoch] over all k! batch orders, from θ₀ (memoryless optimizers; a check of
    :meth:`BatchODE.reshuffled`)."""
    spec, values = build(optimizer, hyper_and_options, require_all=True)
    losses, variables = check_losses(losses, variables, spec)
    if spec.states:
        raise BeaError("the exact permutation average is for memoryless optimizers")
    grads = [gradient_function(E, variables) for E in losses]
    theta = check_start(theta0, len(variables))
    ends = [run(spec.substitute(values), lambda n, th, p=perm: grads[p[n]](th), theta, len(losses), float(h))[-1]
            for perm in itertools.permutations(range(len(losses)))]
    return np.mean(ends, axis=0)
