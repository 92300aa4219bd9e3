"""bea: backward error analysis of optimization algorithms.

Derive the modified ODE θ̇ = F₀ + hF₁ + … of an optimizer (``modified_ode``),
run the optimizer itself (``iterate``) and compare the two (``integrate``).
"""
from .errors import BeaError
from .integrate import fitted_slope, global_error, integrate
from .iterate import iterate
from .minibatch import cyclic_ode, iterate_batches
from .spec_file import load_spec
from .ode import ModifiedODE, modified_ode
from .optimizers import REGISTRY
from .registry import Example, register, registered
from .spec import Hyper, OptimizerSpec, State

__all__ = [
    "BeaError", "Example", "Hyper", "ModifiedODE", "OptimizerSpec", "REGISTRY", "State",
    "cyclic_ode", "fitted_slope", "global_error", "integrate", "iterate", "iterate_batches", "load_spec",
    "modified_ode", "register", "registered",
]
