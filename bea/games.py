"""Vector fields that are not gradients: games.

A two-player game, player 1 minimizing f₁(x, y) over x and player 2 minimizing f₂(x, y) over y
(zero-sum: f₂ = −f₁), has the simultaneous gradient v = (∇_x f₁, ∇_y f₂).  Any optimizer runs on
a field v in place of ∇E: simultaneous gradient descent is ``gd`` on v, θ ← θ − h v (Rosca et
al. 2021: its drift is −(h/2)∇v·v, not a gradient in general).  Alternating updates use
``symbols.player``, the indicator of the first player's coordinates (1 there, 0 elsewhere), so
that the second player sees the first player's new position: see ``gda_alternating``.

A :class:`Game` is passed where a loss would be (``bea.modified_ode``, ``bea.iterate``,
``bea.verify``): the optimizer then sees v in place of ∇E.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> G = game([x * y, -x * y], [[x], [y]])        # the bilinear zero-sum game
>>> G.field, G.variables
((y, -x), (x, y))
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .expr import check_expression, read


@dataclass(frozen=True)
class Game:
    """A vector field v over ``variables`` (not a gradient in general), with the players' variables."""

    field: tuple
    variables: tuple
    players: tuple | None = None

    def __str__(self):
        return f"v = {list(self.field)}"


def game(losses, players) -> Game:
    """The simultaneous gradient v = (∇_{x₁} f₁, ∇_{x₂} f₂, …) of the players' losses."""
    losses, players = list(losses), [list(p) for p in players]
    if len(losses) != len(players) or len(players) < 2:
        raise BeaError("a game needs one loss per player and at least two players")
    variables = tuple(x for p in players for x in p)
    if len(set(variables)) != len(variables) or not all(isinstance(x, sp.Symbol) for x in variables):
        raise BeaError(f"the players' variables must be distinct symbols, got {players}")
    names = {v.name: v for v in variables}
    losses = [_expression(f, names, f"player {k + 1}'s loss") for k, f in enumerate(losses)]
    field = tuple(sp.diff(f, x) for f, p in zip(losses, players) for x in p)
    return Game(field, variables, tuple(tuple(p) for p in players))


def _expression(value, names: dict, where: str) -> sp.Expr:
    """Text read by the whitelist reader, or a SymPy expression checked by it."""
    if isinstance(value, str):
        return read(value, names, where)
    try:
        return check_expression(sp.sympify(value, strict=True), where)
    except (TypeError, sp.SympifyError):
        raise BeaError(f"{where} must be a SymPy expression (or text), got {type(value).__name__}") from None


def as_field(loss, variables, field, players):
    """Read a :class:`Game` given as the loss into (field, variables, players); other input unchanged."""
    if not isinstance(loss, Game):
        return loss, variables, field, players
    if field is not None or players is not None:
        raise BeaError("a Game carries its field and players; do not pass them again")
    if variables is not None and tuple(variables) != loss.variables:
        raise BeaError(f"the game's variables are {list(loss.variables)}, not {list(variables)}")
    return None, loss.variables, loss.field, loss.players


def check_field(field, variables, players, loss):
    """(field, variables, masks) checked: a field of expressions in exactly ``variables``, one per
    variable; ``players`` (lists of variables) give the mask ``symbols.player`` of the first one."""
    if loss is not None:
        raise BeaError("give either a loss or a field, not both")
    if field is True:
        raise BeaError("field=True is for abstract results; a concrete one needs the field's expressions")
    variables = tuple(variables)
    if not variables or not all(isinstance(x, sp.Symbol) for x in variables) or len(set(variables)) != len(variables):
        raise BeaError(f"variables must be distinct symbols, got {variables!r}")
    try:
        field = tuple(field)
    except TypeError:
        raise BeaError("field must be a list of SymPy expressions, one per variable") from None
    field = tuple(_expression(v, {x.name: x for x in variables}, f"field component {k + 1}")
                  for k, v in enumerate(field))
    if len(field) != len(variables):
        raise BeaError(f"field has {len(field)} components for {len(variables)} variables")
    stray = set().union(*(v.free_symbols for v in field)) - set(variables)
    if stray:
        raise BeaError(f"the field uses {sorted(map(str, stray))}, which are not among the variables")
    masks = {}
    if players is not None:
        players = [list(p) for p in players]
        if sorted(map(str, (x for p in players for x in p))) != sorted(map(str, variables)):
            raise BeaError("players must split the variables: every variable in exactly one player's list")
        masks[S.player] = tuple(1 if x in players[0] else 0 for x in variables)
    return field, variables, masks
