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
    with pytest.warns(bea.errors.BeaWarning, match="made with other settings"):
        other = verify.study("gd", E, xs, t0, orders=(0, 1), hs=(0.02, 0.01), T=0.3, cache=cache, progress=False)
    assert other.errors["1"][1] != 123.0


def test_the_cache_is_keyed_by_the_spec_content_not_its_name(tmp_path):
    """Editing a spec file and running again must not print the old errors."""
    E, xs, t0 = losses.quadratic(2)
    spec = tmp_path / "mine.toml"
    spec.write_text('name = "mine"\nstep = "g"')
    cache = tmp_path / "cache.json"
    first = verify.study(bea.load_spec(spec), E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.2, cache=cache,
                         progress=False)
    spec.write_text('name = "mine"\nstep = "2*g"')  # same name, another optimizer
    with pytest.warns(bea.errors.BeaWarning, match="made with other settings"):
        edited = verify.study(bea.load_spec(spec), E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.2, cache=cache,
                              progress=False)
    assert edited.errors["0"] != first.errors["0"]
    assert edited.errors["0"] == verify.study(bea.load_spec(spec), E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.2,
                                              progress=False).errors["0"]


@pytest.mark.parametrize("content,why", [
    (b"", "not readable JSON"), (b"{not json", "not readable JSON"), (b"\xff\xfe\x00", "not readable JSON"),
    (b"[1, 2]", "not a bea verification cache"), (b'{"points": 5}', "not a bea verification cache"),
    (b"[" * 100_000 + b"]" * 100_000, "not readable JSON"),
    (b'{"key": "0", "points": {}}', "made with other settings"),
])
def test_corrupt_empty_or_foreign_caches_are_ignored_with_a_warning(tmp_path, content, why):
    E, xs, t0 = losses.quadratic(2)
    cache = tmp_path / "cache.json"
    cache.write_bytes(content)
    with pytest.warns(bea.errors.BeaWarning, match=f"ignoring the cache .*: it (is|was) {why}"):
        result = verify.study("gd", E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.2, cache=cache, progress=False)
    assert json.loads(cache.read_text())["points"]  # recomputed and overwritten


def test_cache_points_that_are_not_well_formed_are_not_trusted(tmp_path):
    E, xs, t0 = losses.quadratic(2)
    cache = tmp_path / "cache.json"
    honest = verify.study("gd", E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.2, cache=cache, progress=False)
    stored = json.loads(cache.read_text())
    for bad in [{"error": "NaN"}, {"error": -1.0}, {"precision": "mp9"}, {"expected": "2"}, {"extra": 1}]:
        tampered = json.loads(json.dumps(stored))
        tampered["points"]["0:0.02"].update(bad)
        cache.write_text(json.dumps(tampered))
        with pytest.warns(bea.errors.BeaWarning, match="not well formed"):
            again = verify.study("gd", E, xs, t0, orders=(0,), hs=(0.02, 0.01), T=0.2, cache=cache, progress=False)
        assert again.errors == honest.errors


def test_files_are_written_with_the_users_umask(tmp_path):
    import os

    from bea.atomic import write_atomic

    old = os.umask(0o022)
    try:
        assert (write_atomic(tmp_path / "a.json", "{}").stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        assert (write_atomic(tmp_path / "b.json", "{}").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)


def test_output_folders_are_checked_before_any_work(tmp_path):
    from bea.atomic import writable_folder

    (tmp_path / "file").write_text("x")
    with pytest.raises(bea.BeaError, match="is a file, not a folder"):
        writable_folder(tmp_path / "file")
    with pytest.raises(bea.BeaError, match="is not a writable folder"):
        writable_folder(tmp_path / "file" / "below")
    assert writable_folder(tmp_path / "new" / "deep").is_dir() and not list((tmp_path / "new" / "deep").iterdir())


def test_a_kinked_loss_is_not_verified():
    x = sp.Symbol("x", real=True)
    with pytest.raises(bea.BeaError, match=r"needs a smooth loss; this one is not smooth where x = 0 \(from Abs"):
        verify.study("gd", sp.Abs(x) + x**2, [x], [0.01], progress=False)


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


def test_high_precision_flow_of_a_running_average_agrees_with_float64():
    """A joint flow whose field has the running average's 1/t (a singularity one step before the flow starts):
    the extrapolation halves its steps there and still agrees with DOP853."""
    from bea.highprec import integrate_mp

    E, xs, t0 = losses.nonconvex()
    ode = bea.modified_ode("running_average", E, xs, order=1, h=0.01)
    run, states = bea.iterate("running_average", E, xs, t0, 12, 0.01, states=True)
    start = ode.start_step
    y0 = ode.start_value(run, states, start)
    flow_mp, est = integrate_mp(ode, list(y0), 12 - start, start=start)
    np.testing.assert_allclose(np.array(flow_mp, dtype=float), bea.integrate(ode, y0, 12 - start, start=start),
                               rtol=1e-11)
    assert est < 1e-30
