"""bea: backward error analysis of optimization algorithms.

Derive the modified ODE θ̇ = F₀ + hF₁ + … of an optimizer (``modified_ode``),
run the optimizer itself (``iterate``) and compare the two (``integrate``).
"""
from . import games
from .errors import BeaError
from .games import Game, game
from .integrate import error_slope, fitted_slope, global_error, integrate, step_sizes
from .iterate import iterate
from .minibatch import cyclic_ode, iterate_batches
from .spec_file import load_spec
from .ode import ModifiedODE, modified_ode
from .optimizers import REGISTRY
from .registry import Example, register, registered
from .spec import Hyper, OptimizerSpec, State
from .verify import trajectory_error

__all__ = [
    "BeaError", "Example", "Game", "Hyper", "ModifiedODE", "OptimizerSpec", "REGISTRY", "State",
    "cyclic_ode", "error_slope", "game", "games", "fitted_slope", "global_error", "integrate", "iterate", "iterate_batches",
    "load_spec", "modified_ode", "register", "registered", "step_sizes", "trajectory_error",
]
