"""A new optimizer is a spec of a few lines: no engine change, same guarantees."""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import bea
from bea import symbols as S
from bea.integrate import error_slope, step_sizes
from bea.errors import BeaError
from bea.spec import Hyper, OptimizerSpec, State
from bea.spec_file import load_spec, spec_from_dict
from bea.verify import trajectory_error

lam = sp.Symbol("lambda", nonnegative=True)

# gradient descent with L2 weight decay: θ ← θ − h(∇E + λθ) (the step uses θ itself)
GD_WD = OptimizerSpec("gd_wd", "GD with weight decay", step=S.g + lam * S.theta,
                      hyperparameters=(Hyper("lam", lam, "nonnegative"),))
# a smooth Signum: m ← βm + (1−β)g, θ ← θ − h m/√(m² + ε)
SOFT_SIGNUM = OptimizerSpec("soft_signum", "smoothed Signum", step=S.m / sp.sqrt(S.m**2 + S.eps),
                            states=(State(S.m, S.beta, S.g, 1 - S.beta),),
                            hyperparameters=(Hyper("beta", S.beta, "unit"), Hyper("eps", S.eps, "nonnegative")))
# RMSProp written by hand must give what the built-in gives
MY_RMSPROP = OptimizerSpec("my_rmsprop", "RMSProp by hand", step=S.g / sp.sqrt(S.v + S.eps),
                           states=(State(S.v, S.rho, S.g**2, 1 - S.rho),),
                           hyperparameters=(Hyper("rho", S.rho, "unit"), Hyper("eps", S.eps, "nonnegative")))

x, y = sp.symbols("x y", real=True)
LOSS = (x * y - 1) ** 2 / 2 + x**4 / 10 + sp.sin(x + y) / 3


def test_hand_written_rmsprop_equals_builtin():
    mine = bea.modified_ode(MY_RMSPROP, order=2, stationary=False)
    builtin = bea.modified_ode("rmsprop", order=2, stationary=False)
    for a, b in zip(mine.terms, builtin.terms):
        assert sp.simplify(a - b) == 0


@pytest.mark.parametrize("spec,params", [(GD_WD, dict(lam=0.7)), (SOFT_SIGNUM, dict(beta=0.5, eps=0.2))])
def test_user_spec_slopes_and_abstract_route(spec, params):
    hs = step_sizes(0.01, 3)
    sweep = error_slope(lambda h: trajectory_error(spec, LOSS, [x, y], (0.3, 1.2), h, 1, T=0.25, **params), hs)
    ode = bea.modified_ode(spec, LOSS, [x, y], order=1, h=hs[-1], **params)
    assert sweep.slope == pytest.approx(ode.global_order, abs=0.2), str(sweep)
    lifted = bea.modified_ode(spec, order=1, h=hs[-1], **params).concretize(LOSS, [x, y])
    for n in [0, 3]:
        np.testing.assert_allclose(lifted.numpy_field([0.4, -0.2], n), ode.numpy_field([0.4, -0.2], n), rtol=1e-10)


def test_weight_decay_adds_the_expected_discreteness_term():
    """F₁ = −½ D_{F₀}F₀ with F₀ = −(g + λθ): −½(∇²E + λ)(g + λθ), componentwise in the abstract calculus."""
    from bea.abstract import DE

    F1 = bea.modified_ode(GD_WD, order=1).terms[1]
    expected = -(DE(S.g) + lam * DE(S.theta) + lam * S.g + lam**2 * S.theta) / 2
    assert sp.simplify(sp.expand(F1 - expected)) == 0


# -- the text (TOML) form -------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "adam_no_bc.toml"


def test_the_documented_toml_example_is_adam_without_bias_correction():
    spec = load_spec(EXAMPLE)
    for stationary in (True, False):
        mine = bea.modified_ode(spec, order=2, stationary=stationary)
        builtin = bea.modified_ode("adam", order=2, stationary=stationary, bias_correction=False)
        for a, b in zip(mine.terms, builtin.terms):
            assert sp.simplify(a - b) == 0
    assert bea.modified_ode(spec, order=1, stationary=True).recognized[0].parts[0].functional.name == "‖∇E‖_{1,ε}"


def test_a_toml_optimizer_of_ones_own_is_derived_and_iterated(tmp_path):
    """A momentum method that is none of the built-ins: m ← a m + g/(1+θ²), θ ← θ − h (m + c θ)."""
    path = tmp_path / "odd.toml"
    path.write_text('name = "odd"\nstep = "m + c*theta"\n[hyperparameters]\na = "unit"\nc = "nonnegative"\n'
                    '[[states]]\nsymbol = "m"\ndecay = "a"\ninput = "g/(1 + theta**2)"\n')
    spec = load_spec(path)
    x, y = sp.symbols("x y")
    loss = (x * y - 1) ** 2 / 2 + x**4 / 10
    params = dict(a=0.5, c=0.2)
    sweep = error_slope(lambda h: trajectory_error(spec, loss, [x, y], (0.3, 1.2), h, 1, T=0.25, **params),
                        step_sizes(0.01, 3))
    ode = bea.modified_ode(spec, loss, [x, y], order=1, h=0.01, **params)
    assert sweep.slope == pytest.approx(ode.global_order, abs=0.2), str(sweep)


@pytest.mark.parametrize("text,fragment", [
    ('step = "g"', "missing field(s) ['name']"),
    ('name = "x"\nstep = "g"\nlr = 1', "unknown field(s) ['lr']"),
    ('name = "x"\nstep = "g*k"', "step: unknown name 'k' (declared names: g, n, theta; constants: pi, E), at column 3"),
    ('name = "x"\nstep = "g*("', "step: '(' was never closed, at column 3"),
    ('name = "x"\nstep = "g"\n[hyperparameters]\nb = "wide"', "needs a domain"),
    ('name = "x"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "0.5"', "fields are symbol, decay, input"),
    ('name = "x"\nstep = "g"\n[[states]]\nsymbol = "g"\ndecay = "0.5"\ninput = "g"', "must be a new name"),
    ('name = "x"\nstep = [1, 2]', "must be an expression written as a string"),
    ('name = "x" step', "not valid TOML"),
    ('name = "x"\nstep = "g > 0"', "step: not allowed: a comparison, at column 1"),
    ('name = "x"\nstep = "__import__(\'os\').system(\'touch MARKER\')"', "not allowed: attribute access"),
    ('name = "x"\nstep = "grad_at(theta)"', "unknown function 'grad_at'"),
    ('name = "x"\nstep = "g"\n[[states]]\nsymbol = "m"\ndecay = "g"\ninput = "g"', "decay must be built from numbers, hyperparameters, n, t and h"),
    ('name = "x"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = 2\ninput = "g"', "decay must be in [0, 1], got 2"),
    ('name = "x"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "0.5"\ninput = "g"\nscale = "g"', "scale must be built from numbers"),
    ('name = "x"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "0.5"\ninput = "g"\n'
     '[[states]]\nsymbol = "m"\ndecay = "0.5"\ninput = "g"', "state 2: symbol 'm' must be a new name"),
    ('name = "../../x"\nstep = "g"', "name must be 1 to 64 letters"),
    ('name = "x"\ntitle = "a\\u001b[2J"\nstep = "g"', "title must be printable"),
    ('name = "x"\nstep = inf', "step must be finite"),
    ('name = "x"\nstep = "g"\n[hyperparameters]\nlambda = "unit"', "not a Python keyword"),
    ('name = "x"\nstep = "g"\n[hyperparameters]\n__class__ = "unit"', "must not start with '__'"),
    ("a = " + "[" * 3000 + "]" * 3000 + '\nname = "x"\nstep = "g"', "cannot read|not valid TOML"),
])
def test_malformed_toml_specs(tmp_path, text, fragment, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BeaError) as info:
        load_spec(path)
    assert any(f in str(info.value) for f in fragment.split("|")), str(info.value)
    assert "\n" not in str(info.value) and not (tmp_path / "MARKER").exists()


def test_spec_files_that_are_not_utf8_or_too_large(tmp_path):
    (tmp_path / "latin1.toml").write_bytes('name = "é"\nstep = "g"'.encode("latin-1"))
    with pytest.raises(BeaError, match=r"not UTF-8 text \(byte 8\)"):
        load_spec(tmp_path / "latin1.toml")
    (tmp_path / "big.toml").write_text('name = "x"\nstep = "g"\n' + "# padding\n" * 200_000)
    with pytest.raises(BeaError, match="a spec file is at most"):
        load_spec(tmp_path / "big.toml")
    with pytest.raises(BeaError, match="does not exist or is not a file"):
        load_spec(tmp_path)


def test_missing_spec_file_and_cli(tmp_path, capsys):
    with pytest.raises(BeaError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
    from bea.cli import main
    assert main(["derive", "--spec", str(EXAMPLE), "--order", "1"]) == 0
    assert "‖∇E‖_{1,ε}" in capsys.readouterr().out
    assert main(["derive", "adam", "--spec", str(EXAMPLE)]) == 2
    assert "not both" in capsys.readouterr().err
    assert spec_from_dict({"name": "gd2", "step": "g"}).step == S.g


def test_a_toml_schedule_in_t_has_the_hand_derived_first_correction(tmp_path):
    """θ ← θ − h P(t) g with P = 1 − e^{−10t}: Taylor of the flow θ̇ = −P g gives the one-step
    matching field F₁ = −½(∇f·f + ∂ₜf) = −½P²Hg + ½P′g (f = −Pg), derived here by hand."""
    path = tmp_path / "warm.toml"
    path.write_text('name = "warm"\nstep = "(1 - exp(-t/0.1)) * g"\n')
    spec = load_spec(path)
    x, y = sp.symbols("x y")
    loss = (x * y - 1) ** 2 / 2 + x**4 / 10
    ode = bea.modified_ode(spec, loss, [x, y], order=1)
    P = 1 - sp.exp(-10 * S.t)
    g = sp.Matrix([loss.diff(v) for v in (x, y)])
    H = sp.hessian(loss, (x, y))
    expected = -P**2 * H * g / 2 + P.diff(S.t) * g / 2
    point = {x: 0.3, y: -1.1, S.t: 0.07}
    assert [float(F.subs(point)) for F in ode.terms[1]] == pytest.approx([float(e.subs(point)) for e in expected],
                                                                               rel=1e-12)


def test_a_toml_game_of_ones_own_matches_its_measured_order(tmp_path, capsys):
    """Alternating descent–ascent written in a spec file (player, grad at a shifted point), on the
    bilinear game: `bea verify` measures slopes 1, 2 for orders 0, 1."""
    path = tmp_path / "alt.toml"
    path.write_text('name = "my_gda"\nstep = "player*g + (1 - player)*grad(theta - h*player*g)"\n')
    from bea.cli import main
    assert main(["verify", "--spec", str(path), "--loss", "bilinear_game", "--order", "1", "--levels", "3",
                 "--out", str(tmp_path / "out")]) == 0
    study = __import__("json").loads((tmp_path / "out" / "study.json").read_text())
    assert [round(study["slopes"][p], 1) for p in ("0", "1")] == [1.0, 2.0], study["slopes"]
