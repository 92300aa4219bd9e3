"""Convergence studies: slopes, saturation and validity guards, atomic resumable output, CLI."""
import json

import numpy as np
import pytest
import sympy as sp

import bea
from bea import losses, verify
from bea.cli import main


def test_study_slopes_match_expected_orders(tmp_path):
    E, xs, t0 = losses.nonconvex()
    result = verify.study("heavy_ball", E, xs, t0, orders=(0, 1), hs=(0.01, 0.005, 0.0025), T=0.25,
                          progress=False, beta=0.5, bias_correction=True)
    for p in (0, 1):
        assert result.expected[str(p)] == p + 1
        assert result.slope(p) == pytest.approx(p + 1, abs=0.2)
    assert not result.warnings


def test_saturation_is_detected_and_left_out_of_the_fit():
    x = sp.Symbol("x", real=True)
    # GD on a quadratic at order 4: the error drops to round-off level
    result = verify.study("gd", x**2 / 2, [x], [1.0], orders=(4,), hs=(0.02, 0.01, 0.005, 0.0025), T=0.25,
                          progress=False, precision="double")
    assert any(result.saturated(4))
    assert any("integration-error floor" in w and "float64" in w for w in result.warnings)


def test_auto_precision_recomputes_saturated_points_in_mpmath():
    """The same study resolves O(h⁵) once the saturated points run in 40 digits."""
    x = sp.Symbol("x", real=True)
    result = verify.study("gd", x**2 / 2 + x**4 / 12, [x], [1.0], orders=(4,), hs=(0.02, 0.01, 0.005), T=0.1,
                          progress=False)
    assert "mp40" in result.precision["4"] and not any(result.saturated(4))
    assert result.slope(4) == pytest.approx(5, abs=0.2), result.errors


def test_validity_range_is_reported():
    E, xs, t0 = losses.quadratic(2)
    result = verify.study("adam", E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.1, progress=False,
                          beta=0.9, rho=0.999, eps=1e-3)
    assert any("outside the validity range" in w and "rho" in w for w in result.warnings)


def test_resume_uses_the_cache_and_writes_atomically(tmp_path):
    E, xs, t0 = losses.quadratic(2)
    cache = tmp_path / "cache.json"
    first = verify.study("gd", E, xs, t0, orders=(0, 1), hs=(0.02, 0.01), T=0.2, cache=cache, progress=False)
    stored = json.loads(cache.read_text())
    assert set(stored["points"]) == {"0:0.02", "1:0.02", "0:0.01", "1:0.01"}
    # a tampered cache entry is what a resumed study reports: proof that it was reused, not recomputed
    stored["points"]["1:0.01"]["error"] = 123.0
    cache.write_text(json.dumps(stored))
    again = verify.study("gd", E, xs, t0, orders=(0, 1), hs=(0.02, 0.01), T=0.2, cache=cache, progress=False)
    assert again.errors["1"][1] == 123.0 and again.errors["0"] == first.errors["0"]
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    # other settings (a different horizon) never reuse the cache
    other = verify.study("gd", E, xs, t0, orders=(0, 1), hs=(0.02, 0.01), T=0.3, cache=cache, progress=False)
    assert other.errors["1"][1] != 123.0


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    from bea.atomic import replacing, write_atomic

    target = write_atomic(tmp_path / "result.json", "old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and not list(tmp_path.glob(".*"))


def test_save_writes_json_csv_png(tmp_path):
    E, xs, t0 = losses.quadratic(2)
    result = verify.study("gd", E, xs, t0, orders=(0, 1), hs=(0.02, 0.01), T=0.2, progress=False)
    paths = verify.save(result, tmp_path)
    data = json.loads((tmp_path / "study.json").read_text())
    assert data["slopes"]["1"] == pytest.approx(result.slope(1))
    assert (tmp_path / "study.csv").read_text().startswith("h,order_0,order_1")
    assert (tmp_path / "study.png").stat().st_size > 1000 and len(paths) == 3


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_library_losses_are_smooth_and_usable(name):
    E, xs, t0 = losses.get(name)
    field = list(E.field) if isinstance(E, bea.games.Game) else [sp.diff(E, x) for x in xs]  # a game: its v
    grad = sp.lambdify([list(xs)], field)
    g = np.array(grad(t0), dtype=float)
    assert np.all(np.isfinite(g)) and 1e-3 < np.abs(g).max() < 1e3
    traj = bea.iterate("gd", E, xs, t0, 5, 0.01)
    assert traj.shape == (6, len(xs))


def test_bad_study_input():
    E, xs, t0 = losses.quadratic(2)
    with pytest.raises(bea.BeaError, match="at least two step sizes"):
        verify.study("gd", E, xs, t0, hs=(0.01,), progress=False)
    with pytest.raises(bea.BeaError, match="unknown loss"):
        losses.get("nope")
    with pytest.raises(bea.BeaError, match="h must be > 0"):
        verify.study("gd", E, xs, t0, hs=(0.01, -0.01), progress=False)
    with pytest.raises(bea.BeaError, match="order must be >= 0"):
        verify.study("gd", E, xs, t0, orders=(-1,), progress=False)
    with pytest.raises(bea.BeaError, match="at least one order"):
        verify.study("gd", E, xs, t0, orders=(), progress=False)
    with pytest.raises(bea.BeaError, match="rosenbrock needs dimension >= 2"):
        losses.get("rosenbrock", d=1)


def test_cli_verify(tmp_path, capsys):
    code = main(["verify", "gd", "--loss", "quadratic", "--order", "1", "--levels", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "slope" in out and (tmp_path / "study.png").exists()
    code = main(["verify", "gd", "--loss", "quadratic", "--theta0", "1"])
    assert code == 2 and "--theta0 needs 2" in capsys.readouterr().err


def test_high_precision_path_agrees_with_float64_where_both_resolve():
    from bea.highprec import global_error_mp, integrate_mp, iterate_mp

    E, xs, t0 = losses.nonconvex()
    params = dict(beta=0.5, rho=0.6, eps=0.1)
    ode = bea.modified_ode("adam", E, xs, order=1, h=0.01, **params)
    it_mp = iterate_mp("adam", E, xs, t0, 10, 0.01, **params)
    it = bea.iterate("adam", E, xs, t0, 10, 0.01, **params)
    np.testing.assert_allclose(np.array(it_mp, dtype=float), it, rtol=1e-13)
    flow_mp, est = integrate_mp(ode, t0, 10)
    np.testing.assert_allclose(np.array(flow_mp, dtype=float), bea.integrate(ode, t0, 10), rtol=1e-11)
    assert est < 1e-30
    assert global_error_mp(it_mp, flow_mp) == pytest.approx(bea.global_error(it, bea.integrate(ode, t0, 10)),
                                                            rel=1e-6)
