"""The CIFAR experiment module on the CPU: models, Adam, the full-batch step, checkpoints, DDP (gloo)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

import bea  # noqa: E402
from bea import BeaError  # noqa: E402
from bea_experiments.cifar import models  # noqa: E402
from bea_experiments.cifar.adam import PaperAdam  # noqa: E402
from bea_experiments.cifar.config import Config  # noqa: E402
from bea_experiments.cifar.data import write_fake  # noqa: E402
from bea_experiments.cifar.train import Diverged, full_batch_gradient, hessian_vector, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]  # the repository


@pytest.mark.parametrize("name,count", [("resnet18", 11_173_962), ("resnet50", 23_520_842), ("resnet101", 42_512_970)])
def test_resnet_parameter_counts_are_the_standard_cifar_ones(name, count):
    model = models.build(name, 10, 64)
    assert sum(p.numel() for p in model.parameters()) == count


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "small_cnn"])
def test_models_map_images_to_logits(name):
    model = models.build(name, 100, 8)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


def _quadratic_model():
    """θ ∈ R², E(θ) = (θ₁θ₂ − 1)²/2 + θ₁⁴/10: the same loss in torch and in SymPy."""
    theta = torch.nn.Parameter(torch.tensor([0.3, 1.2], dtype=torch.float64))
    loss = lambda: (theta[0] * theta[1] - 1) ** 2 / 2 + theta[0] ** 4 / 10  # noqa: E731
    return theta, loss


@pytest.mark.parametrize("bias_correction", [True, False])
def test_paper_adam_is_bea_iterate_step_by_step(bias_correction):
    theta, loss = _quadratic_model()
    opt = PaperAdam([theta], lr=0.05, beta=0.9, rho=0.99, eps=1e-3, bias_correction=bias_correction)
    got = [theta.detach().numpy().copy()]
    for _ in range(30):
        opt.zero_grad()
        loss().backward()
        opt.step()
        got.append(theta.detach().numpy().copy())
    x, y = sp.symbols("x y")
    want = bea.iterate("adam", (x * y - 1) ** 2 / 2 + x**4 / 10, [x, y], [0.3, 1.2], 30, 0.05, beta=0.9, rho=0.99,
                       eps=1e-3, bias_correction=bias_correction)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12, atol=1e-14)


def test_paper_adam_with_eps_outside_is_torch_adam():
    torch.manual_seed(0)
    a, b = models.build("small_cnn", 10, 8).double(), models.build("small_cnn", 10, 8).double()
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (6,))
    oa = PaperAdam(a.parameters(), lr=1e-3, beta=0.8, rho=0.95, eps=1e-6, eps_inside=False)
    ob = torch.optim.Adam(b.parameters(), lr=1e-3, betas=(0.8, 0.95), eps=1e-6)
    for _ in range(5):
        for model, opt in ((a, oa), (b, ob)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_micro_batches_give_the_full_batch_gradient():
    torch.manual_seed(1)
    model = models.build("small_cnn", 10, 8).double()
    x, y = torch.randn(10, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (10,))
    grads = []
    for micro in (3, 10):
        model.zero_grad()
        full_batch_gradient(model, x, y, 10, micro, autocast=False)
        grads.append([p.grad.clone() for p in model.parameters()])
    for g3, g10 in zip(*grads):
        torch.testing.assert_close(g3, g10, rtol=1e-10, atol=1e-12)


def test_regularizer_gradient_is_the_gradient_of_the_one_norm():
    """∇ Σ√((∂E)² + ε) computed by differentiating the penalty directly equals ∇²E·(g/s) over micro-batches."""
    torch.manual_seed(2)
    model = models.build("small_cnn", 10, 8).double()
    params = list(model.parameters())
    x, y = torch.randn(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (6,))
    eps = 1e-3
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g = torch.autograd.grad(loss, params, create_graph=True)
    penalty = sum(torch.sqrt(gi**2 + eps).sum() for gi in g)
    direct = torch.autograd.grad(penalty, params)
    s = [gi.detach() / torch.sqrt(gi.detach() ** 2 + eps) for gi in g]
    hv = hessian_vector(model, params, x, y, 6, 4, False, s)
    for d, h in zip(direct, hv):  # two routes through float64 autograd: equal to ~1e-7 of the largest entry
        assert (d - h).abs().max() <= 1e-6 * d.abs().max()


def _cfg(tmp_path, data, **kw):
    base = dict(out=str(tmp_path / "run"), data_dir=str(data), model="resnet18", width=4, train_size=40, test_size=20,
                steps=4, lr=1e-3, eval_every=2, checkpoint_every=2, micro_batch=16, seed=3)
    return Config(**(base | kw))


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_fake(root, "cifar10", n=20)
    return root


def test_resume_is_bit_exact(tmp_path, fake):
    straight = run(_cfg(tmp_path / "a", fake), progress=False)
    first = run(_cfg(tmp_path / "b", fake, steps=2), progress=False)
    resumed = run(_cfg(tmp_path / "b", fake, steps=4), resume=True, progress=False)
    a = torch.load(tmp_path / "a" / "run" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in straight] == [r["train_loss"] for r in resumed] and len(first) == 2
    rows = [json.loads(line) for line in (tmp_path / "a" / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and "test_acc" in rows[1] and "one_norm_eps" in rows[0]
    with pytest.raises(BeaError, match="other settings"):
        run(_cfg(tmp_path / "b", fake, lr=1e-2), resume=True, progress=False)


def test_divergence_stops_the_run_and_is_logged(tmp_path, fake):
    with pytest.raises(Diverged, match="diverged"):
        run(_cfg(tmp_path, fake, lr=1e30, model="small_cnn", width=8, steps=6), progress=False)
    assert '"note": "diverged' in (tmp_path / "run" / "log.jsonl").read_text()


def test_ddp_gloo_two_processes_match_one(tmp_path, fake):
    """The same full-batch step split over 2 ranks (each half the images, gradients all-reduced)."""
    args = ["--data-dir", str(fake), "--model", "small_cnn", "--width", "8", "--train-size", "40", "--test-size", "20",
            "--steps", "3", "--lr", "1e-3", "--eval-every", "3", "--checkpoint-every", "3", "--micro-batch", "8"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master-port=29517",
                    "-m", "bea_experiments.cifar.train", "--out", str(tmp_path / "ddp"), *args],
                   check=True, cwd=ROOT, env=env, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "bea_experiments.cifar.train", "--out", str(tmp_path / "one"), *args],
                   check=True, cwd=ROOT, env=env, capture_output=True, timeout=300)
    a = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-4, atol=1e-6)
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["world_size"] == 2


def test_sweep_and_plot(tmp_path, fake):
    from bea_experiments.cifar.plot import plot_sweep
    from bea_experiments.cifar.sweep import sweep

    cfg = _cfg(tmp_path, fake, model="small_cnn", width=8, steps=2, out=str(tmp_path / "sweep"))
    folders = sweep(cfg, "rho", [0.9, 0.99])
    assert [f.name for f in folders] == ["rho=0.9", "rho=0.99"]
    assert json.loads((folders[1] / "config.json").read_text())["rho"] == 0.99
    paths = plot_sweep(tmp_path / "sweep")
    assert all(p.stat().st_size > 0 for p in paths)
    mtime = (folders[0] / "log.jsonl").stat().st_mtime
    sweep(cfg, "rho", [0.9])  # finished: skipped
    assert (folders[0] / "log.jsonl").stat().st_mtime == mtime


def test_cli_errors_are_one_line(tmp_path, capsys):
    from bea.cli import main

    assert main(["experiment", "cifar", "--out", str(tmp_path), "--data-dir", str(tmp_path / "none")]) == 2
    assert "data directory" in capsys.readouterr().err
    assert main(["experiment", "plot", str(tmp_path)]) == 2
    assert "no KEY=VALUE run folders" in capsys.readouterr().err


def test_explicit_correction_step_is_minus_c_h2_b_hessian_times_g_over_s_over_s(tmp_path, fake):
    """One step with regularizer c differs from the plain step by −c·h²·b·∇‖∇E‖_{1,ε}/s, b = β/(1−β) − ρ/(1−ρ);
    ∇‖∇E‖_{1,ε} is computed here by differentiating the penalty directly (a second route)."""
    from bea_experiments.cifar.train import load_tensors

    kw = dict(model="small_cnn", width=8, steps=1, lr=1e-2, beta=0.5, rho=0.9, eps=1e-4)
    run(_cfg(tmp_path / "plain", fake, **kw), progress=False)
    log = run(_cfg(tmp_path / "corr", fake, regularizer=1.0, **kw), progress=False)
    assert log[0]["correction_l2"] > 0  # the size of the explicit correction is logged
    plain = torch.load(tmp_path / "plain" / "run" / "checkpoint.pt", weights_only=False)["model"]
    corr = torch.load(tmp_path / "corr" / "run" / "checkpoint.pt", weights_only=False)["model"]
    cfg = _cfg(tmp_path / "x", fake, **kw)
    torch.manual_seed(cfg.seed)
    x, y, _, _, n, classes = load_tensors(cfg, torch.device("cpu"))
    model = models.build("small_cnn", classes, 8)
    params = list(model.parameters())
    g = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), params, create_graph=True)
    grad_penalty = torch.autograd.grad(sum(torch.sqrt(gi**2 + cfg.eps).sum() for gi in g), params)
    b = 0.5 / 0.5 - 0.9 / 0.1
    for (name, _), gp, gi in zip(model.named_parameters(), grad_penalty, g):
        expected = -(1e-2) ** 2 * b * gp / torch.sqrt(gi.detach() ** 2 + cfg.eps)
        torch.testing.assert_close(corr[name] - plain[name], expected, rtol=1e-3, atol=2e-8)  # float32 params


SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "cifar-10-batches-py").is_dir(), reason="shared CIFAR subset not present")
def test_smoke_run_on_real_cifar_images(tmp_path):
    """A tiny ResNet-18 on 300 real CIFAR-10 images: the full-batch training loss falls over a few steps."""
    log = run(Config(out=str(tmp_path), data_dir=str(SHARED), width=4, train_size=300, test_size=100, steps=5,
                     lr=3e-3, beta=0.9, rho=0.999, eval_every=5, micro_batch=150), progress=False)
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    assert 0 <= log[-1]["test_acc"] <= 1 and log[-1]["one_norm_eps"] > log[-1]["grad_l1"]


@pytest.mark.parametrize("override,fragment", [
    (dict(amp="maybe"), "amp must be auto, on or off"),
    (dict(model="vgg"), "unknown model 'vgg'"),
    (dict(micro_batch=0), "must be >= 1"),
    (dict(dataset="mnist"), "unknown dataset 'mnist'"),
    (dict(rho=1.0), "rho must be in [0, 1)"),
])
def test_bad_run_settings_name_the_problem(tmp_path, fake, override, fragment):
    with pytest.raises(BeaError) as info:
        run(_cfg(tmp_path, fake, **override), progress=False)
    assert fragment in str(info.value)
    with pytest.raises(BeaError, match="no checkpoint"):
        run(_cfg(tmp_path / "fresh", fake), resume=True, progress=False)


def test_cli_rejects_bad_sweep_values_and_unknown_figures(tmp_path, capsys):
    from bea.cli import main

    assert main(["experiment", "sweep", "--out", str(tmp_path), "--over", "rho", "--values", "0.9,high"]) == 2
    assert "comma-separated numbers" in capsys.readouterr().err
    assert main(["experiment", "separable", "--figure", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown figure 'nope'" in capsys.readouterr().err
