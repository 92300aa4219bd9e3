"""Separable data: exact max-margin solvers on known cases, and the directions the optimizers take."""
import numpy as np
import pytest

from bea import BeaError
from bea_experiments.separable import data, margins
from bea_experiments.separable.train import Settings, train


def test_l2_max_margin_of_two_symmetric_points_and_a_second_method():
    """z₁ = (1, 2), z₂ = (2, 1): by symmetry w* ∝ (1, 1), min Zw = 1 gives w* = (1/3, 1/3)."""
    Z = np.array([[1.0, 2.0], [2.0, 1.0]])
    np.testing.assert_allclose(margins.l2_max_margin(Z), [1 / 3, 1 / 3], atol=1e-7)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(12, 6))
    Zg = data.signed_samples(X, np.sign(X @ rng.normal(size=6)).astype(int))
    np.testing.assert_allclose(margins.l2_max_margin(Zg), margins.l2_max_margin_primal(Zg), rtol=1e-5, atol=1e-6)


def test_linf_and_l1_max_margin_on_known_cases():
    """One sample z = (1, 3): ℓ∞ optimum w = (1/4, 1/4) (t* = 1/4); ℓ1 optimum puts all weight on
    the largest coordinate, w = (0, 1/3); ℓ2 optimum is z/‖z‖² = (0.1, 0.3)."""
    Z = np.array([[1.0, 3.0]])
    face = margins.linf_face(Z)
    assert face.t == pytest.approx(0.25) and face.unique
    np.testing.assert_allclose(face.w, [0.25, 0.25], atol=1e-9)
    np.testing.assert_allclose(margins.l1_max_margin(Z), [0, 1 / 3], atol=1e-9)
    np.testing.assert_allclose(margins.l2_max_margin(Z), [0.1, 0.3], atol=1e-7)


def test_non_unique_linf_solution_is_detected():
    """z = (1, 0): every w = (1, c) with |c| ≤ 1 is ℓ∞-optimal; the spread must show it."""
    face = margins.linf_face(np.array([[1.0, 0.0]]))
    assert not face.unique and face.spread > 0.1


def test_weighted_margin_is_the_l2_margin_of_rescaled_data():
    """min wᵀdiag(M)w s.t. Zw ≥ 1 is, with u = √M ⊙ w, the ℓ2 problem for the data Z/√M."""
    rng = np.random.default_rng(2)
    Z = data.gaussian(N=8, d=12, seed=3)
    M = rng.uniform(0.5, 3, size=12)
    u = margins.l2_max_margin(Z / np.sqrt(M))
    np.testing.assert_allclose(margins.weighted_l2_max_margin(Z, M), u / np.sqrt(M), rtol=1e-5, atol=1e-7)


def test_proxy_fixed_point_is_l2_on_scaled_rademacher_and_matches_a_simulation():
    """On SR data M(c) ∝ 1 (every coordinate of a sample has the same size), so the proxy is ℓ2.
    On Gaussian data the damped fixed-point iteration and a long proxy run agree (method (a) vs (b))."""
    Z = data.scaled_rademacher()
    fp = margins.proxy_fixed_point(Z)
    assert fp.converged
    assert margins.cosine(fp.w, margins.l2_max_margin(Z)) == pytest.approx(1, abs=1e-6)
    Zg = data.gaussian()
    fp = margins.proxy_fixed_point(Zg)
    run = train(Zg, Settings("proxy", 100_000, records=5))
    assert fp.converged and margins.cosine(run.w[-1], fp.w) > 0.99
    assert margins.cosine(fp.w, margins.l2_max_margin(Zg)) < 0.98  # a genuinely different direction


def test_full_batch_adam_goes_to_linf_and_per_sample_adam_to_the_proxy():
    Z = data.gaussian()
    l2, linf, proxy = margins.l2_max_margin(Z), margins.linf_max_margin(Z), margins.proxy_fixed_point(Z).w
    full = train(Z, Settings("adam", 5000, beta2=0.99)).w
    inc = train(Z, Settings("adam", 5000 * len(Z), beta2=0.99, batch=1)).w
    cos = margins.cosine
    # each moves toward its predicted direction and ends closer to it than the other run does
    assert cos(full[-1], linf) > cos(full[len(full) // 3], linf)
    assert cos(inc[-1], proxy) > cos(inc[len(inc) // 3], proxy)
    assert cos(full[-1], linf) > cos(inc[-1], linf) + 0.05
    assert cos(inc[-1], proxy) > cos(full[-1], proxy) + 0.05
    assert cos(inc[-1], l2) > cos(full[-1], l2) + 0.03


def test_scaled_rademacher_per_sample_adam_goes_to_l2():
    Z = data.scaled_rademacher()
    l2 = margins.l2_max_margin(Z)
    full = train(Z, Settings("adam", 3000, beta2=0.99)).w[-1]
    inc = train(Z, Settings("adam", 3000 * len(Z), beta2=0.99, batch=1)).w[-1]
    assert margins.cosine(inc, l2) > 0.99 > margins.cosine(full, l2) + 0.01


def test_signum_moves_toward_linf():
    """Signum with β near 1 raises the normalized ℓ∞ margin toward its optimum and ends above GD's."""
    Z = data.gaussian()
    linf_star = margins.normalized_margin(margins.linf_max_margin(Z), Z, np.inf)
    sig = train(Z, Settings("signum", 40_000, beta1=0.99, batch=None)).w
    gd = train(Z, Settings("gd", 40_000)).w[-1]
    ratio = [margins.normalized_margin(w, Z, np.inf) / linf_star for w in sig[len(sig) // 2:]]
    assert ratio[-1] > ratio[0]
    assert ratio[-1] > margins.normalized_margin(gd, Z, np.inf) / linf_star + 0.1


def test_zero_first_gradient_is_handled_and_reported():
    """Symmetric ±1 data with Σ_i z_i[k] = 0 in one coordinate: from w₀ = 0 that gradient is exactly 0."""
    Z = np.array([[1.0, 1.0], [1.0, -1.0]])
    run = train(Z, Settings("adam", 50, beta2=0.99))
    assert np.all(np.isfinite(run.w)) and run.zero_denominators > 0 and run.notes


def test_long_runs_do_not_underflow_with_eps_zero():
    """Gradients ∝ e^{−margin} fall below the float64 range; the floating scale keeps Adam moving."""
    Z = data.gaussian()
    run = train(Z, Settings("adam", 20_000, lr=200.0, decay=0.0, beta2=0.99, records=3))
    u = Z @ run.w[-1]
    assert u.min() > 800  # e^{-800} underflows in float64
    assert np.linalg.norm(run.w[-1] - run.w[-2]) > 0


@pytest.mark.parametrize("X,y,fragment", [
    (np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([1, -1]), "not linearly separable"),
    (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 0]), "labels must be -1 or +1"),
    (np.array([[np.nan, 0.0], [0.0, 1.0]]), np.array([1, -1]), "NaN"),
    (np.ones((3, 2)), np.array([1, -1]), "X must be (N, d)"),
])
def test_bad_data(X, y, fragment):
    with pytest.raises(BeaError) as info:
        data.signed_samples(X, y)
    assert fragment in str(info.value)


def test_bad_settings():
    Z = data.gaussian()
    for s, fragment in [(Settings("adamx", 10), "unknown algorithm"), (Settings("adam", 10, beta2=1.0), "beta2"),
                        (Settings("adam", 10, batch=11), "batch must be"), (Settings("proxy", 10, batch=1), "full-batch")]:
        with pytest.raises(BeaError, match=fragment):
            train(Z, s)


def test_every_figure_runs_quick(tmp_path):
    from bea_experiments.separable.figures import FIGURES
    for name in ["toy_hinf", "adagrad"]:
        summary = FIGURES[name](tmp_path, quick=True)
        assert (tmp_path / f"{name}.png").stat().st_size > 0 and summary


def test_network_experiment_runs_on_a_few_fake_images(tmp_path):
    torch = pytest.importorskip("torch")
    from bea_experiments.cifar.data import write_fake
    from bea_experiments.separable import network

    write_fake(tmp_path, "cifar10", n=30)
    batch = network.two_classes(tmp_path, n_train=20, n_test=10)
    assert set(torch.unique(batch[1]).tolist()) <= {-1.0, 1.0}
    net = network.model(width=4)
    x = batch[0][:3]
    assert torch.allclose(net(2 * x), 2 * net(x), atol=1e-5)  # no biases: positively homogeneous in x too
    hist = network.train("adam_nomomentum", batch, steps=3, lr=1e-3, eps=1e-8, width=4, every=1)
    assert len(hist["margin"]) == 4 and all(np.isfinite(hist["loss"]))
    with pytest.raises(BeaError, match="unknown optimizer"):
        network.train("sgd", batch, 1, 1e-3, 1e-8)


def test_on_shifted_diagonal_data_the_proxy_is_the_linf_direction():
    """z_i = λ_i e_i + b·1: the proxy's Mahalanobis margin reduces to ℓ∞ (w ∝ 1), unlike ℓ2."""
    Z = data.shifted_diagonal(b=0.2)
    fp, face = margins.proxy_fixed_point(Z), margins.linf_face(Z)
    ones = np.ones(Z.shape[1])
    assert fp.converged and face.unique
    assert margins.cosine(fp.w, ones) == pytest.approx(1, abs=1e-8)
    assert margins.cosine(face.w, ones) == pytest.approx(1, abs=1e-8)
    assert margins.cosine(margins.l2_max_margin(Z), ones) < 0.97


def test_curves_record_loss_and_norm_along_a_run():
    from bea_experiments.separable.figures import curves

    Z = data.gaussian()
    run = train(Z, Settings("gd", 2000, records=20))
    c = curves(run, Z, {"ℓ2": margins.l2_max_margin(Z), "ℓ∞": margins.linf_max_margin(Z)})
    assert c["loss"][0] == pytest.approx(np.log(2)) and c["loss"][-1] < c["loss"][1] < c["loss"][0]
    assert c["‖w‖"][0] == 0 and c["‖w‖"][-1] > c["‖w‖"][1]
