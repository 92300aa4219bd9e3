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
from bea_experiments.cifar.config import Config  # noqa: E402
from bea_experiments.cifar.data import write_fake  # noqa: E402
from bea_experiments.cifar.train import Diverged, full_batch_gradient, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]  # the repository


@pytest.mark.parametrize("name,count", [("resnet18", 11_173_962), ("resnet50", 23_520_842), ("resnet101", 42_512_970)])
def test_resnet_parameter_counts_are_the_standard_cifar_ones(name, count):
    model = models.build(name, 10, 64)
    assert sum(p.numel() for p in model.parameters()) == count


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "small_cnn", "mlp"])
def test_models_map_images_to_logits(name):
    model = models.build(name, 100, 8)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


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
    a = torch.load(tmp_path / "a" / "run" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in straight] == [r["train_loss"] for r in resumed] and len(first) == 2
    rows = [json.loads(line) for line in (tmp_path / "a" / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and "test_acc" in rows[1] and "one_norm_eps" in rows[0]
    with pytest.raises(BeaError, match="other settings"):
        run(_cfg(tmp_path / "b", fake, lr=1e-2), resume=True, progress=False)


def test_a_step_at_another_point_takes_a_second_full_batch_gradient(tmp_path, fake):
    """SAM's gradient at θ + c·h·g/‖g‖ comes from the same micro-batch loop: with c → 0 it is the gradient
    at θ again, and SAM is GD step for step (a gradient accumulated twice would double the step); with
    c = 5 it is not."""
    gd = run(_cfg(tmp_path / "gd", fake, optimizer="gd", lr=0.05), progress=False)
    same = run(_cfg(tmp_path / "sam0", fake, optimizer="sam", params="c=1e-9", lr=0.05), progress=False)
    sam = run(_cfg(tmp_path / "sam", fake, optimizer="sam", params="c=5", lr=0.05), progress=False)
    losses = [[r["train_loss"] for r in log] for log in (gd, same, sam)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-6, abs=0)
    assert losses[2][0] == losses[0][0] and all(abs(a - b) > 1e-5 for a, b in zip(losses[2][1:], losses[0][1:]))


def test_divergence_stops_the_run_and_is_logged(tmp_path, fake):
    with pytest.raises(Diverged, match="diverged"):
        run(_cfg(tmp_path, fake, lr=1e30, model="small_cnn", width=8, steps=6), progress=False)
    assert '"note": "diverged' in (tmp_path / "run" / "log.jsonl").read_text()


@pytest.mark.parametrize("extra", [[], ["--channels-last", "on"]])
def test_ddp_gloo_with_batchnorm_two_processes_match_one(tmp_path, fake, extra):
    """ResNet-18 with BatchNorm: 2 ranks (each every other micro-batch, one flat all-reduce) equal one process —
    the objective does not depend on the number of processes; channels_last gradients all-reduce correctly.
    (ε = 1: Adam's step is then about h·g, so float32 sums in another order move the parameters by ~1e-8; with
    ε = 1e-3, where most coordinates move by h·sign(g), channels_last kernels alone moved them by 1e-4 in one
    process, and with ε = 1e-8 the order of a float32 sum decides the signs of coordinates whose gradient is ~0.
    Width 8: deterministic CPU kernels crash on channels_last at width 4 in torch 2.13.)"""
    args = ["--data-dir", str(fake), "--model", "resnet18", "--width", "8", "--train-size", "40", "--test-size", "20",
            "--steps", "3", "--lr", "1e-3", "--eps", "1", "--eval-every", "3", "--checkpoint-every", "3",
            "--micro-batch", "8", *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for cmd in (["-m", "torch.distributed.run", "--nproc_per_node=2", f"--master-port={29517 + len(extra)}",
                 "-m", "bea_experiments.cifar.train", "--out", str(tmp_path / "ddp"), *args],
                ["-m", "bea_experiments.cifar.train", "--out", str(tmp_path / "one"), *args]):
        proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    a = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)
    for k, v in a["model"].items():  # measured: ≤ 1.2e-7 apart; a step is ~h·g ≈ 1e-4 here
        if "running" not in k and "num_batches" not in k:  # running statistics: averaged over ranks
            torch.testing.assert_close(v, b["model"][k], rtol=0, atol=1e-6)
    # the objective itself: before the micro-batch-aligned shards, 2 ranks gave 2.6342 against 2.6308 here
    assert [r["train_loss"] for r in a["log"]] == pytest.approx([r["train_loss"] for r in b["log"]], rel=1e-6)
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["world_size"] == 2


def test_sweep_over_seeds_keeps_every_digit_and_plots_mean_and_std(tmp_path, fake):
    from bea_experiments.cifar.plot import plot_sweep
    from bea_experiments.cifar.sweep import sweep

    cfg = _cfg(tmp_path, fake, model="small_cnn", width=8, steps=2, eval_every=1, out=str(tmp_path / "sweep"))
    folders = sweep(cfg, "rho", [0.9, 0.9999999], seeds=[0, 1])
    assert [str(f.relative_to(tmp_path / "sweep")) for f in folders] == [
        "rho=0.9/seed=0", "rho=0.9/seed=1", "rho=0.9999999/seed=0", "rho=0.9999999/seed=1"]
    assert json.loads((folders[3] / "config.json").read_text())["rho"] == 0.9999999
    paths = plot_sweep(tmp_path / "sweep")
    assert all(p.stat().st_size > 0 for p in paths)
    summary = (tmp_path / "sweep" / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("value,seeds,failed,test_acc_at_level_mean,test_acc_at_level_std")
    assert [row.split(",")[:2] for row in summary[1:]] == [["0.9", "2"], ["0.9999999", "2"]]
    mtime = (folders[0] / "log.jsonl").stat().st_mtime
    sweep(cfg, "rho", [0.9], seeds=[0])  # finished: skipped
    assert (folders[0] / "log.jsonl").stat().st_mtime == mtime


def test_a_log_row_holds_train_and_test_metrics_of_the_same_parameters(tmp_path, fake):
    """Row k: the train and test metrics of θ_{k−1} (where step k's gradient is taken); wall times increase."""
    from bea_experiments.cifar.train import evaluate, load_tensors

    cfg = _cfg(tmp_path, fake, model="small_cnn", width=8, steps=3, eval_every=1)
    log = run(cfg, progress=False)
    torch.manual_seed(cfg.seed)
    _, _, xt, yt, _, classes = load_tensors(cfg, torch.device("cpu"))
    loss, acc = evaluate(models.build("small_cnn", classes, 8), xt, yt, cfg.micro_batch, False)
    assert log[0]["test_loss"] == pytest.approx(float(loss), rel=1e-6) and log[0]["test_acc"] == float(acc)
    assert log[0]["wall_s"] < log[1]["wall_s"] < log[2]["wall_s"]


def test_resume_loads_the_checkpoint_onto_the_cpu(tmp_path, fake, monkeypatch):
    """On CUDA a checkpoint mapped to the GPU holds CUDA RNG states, which set_rng_state rejects: resuming maps
    it to the CPU (the model and optimizer states move to the device when loaded into them)."""
    run(_cfg(tmp_path, fake, model="small_cnn", width=8, steps=2), progress=False)
    seen, load, set_rng = [], torch.load, torch.set_rng_state
    monkeypatch.setattr(torch, "load", lambda *a, **kw: seen.append(kw.get("map_location")) or load(*a, **kw))
    monkeypatch.setattr(torch, "set_rng_state", lambda s: seen.append(s.device.type) or set_rng(s))
    run(_cfg(tmp_path, fake, model="small_cnn", width=8, steps=3), resume=True, progress=False)
    assert seen == ["cpu", "cpu"]


@pytest.mark.slow
def test_compile_with_the_correction_on_the_cpu(tmp_path, fake):
    """torch.compile with the derived correction (once: 'donated buffers … create_graph=False'): the correction
    differentiates the uncompiled module, so compiled and eager runs agree."""
    kw = dict(model="small_cnn", width=8, steps=2, correction=-1.0, eps=1e-4, beta=0.5, rho=0.9)
    eager = run(_cfg(tmp_path / "eager", fake, compile="off", **kw), progress=False)
    compiled = run(_cfg(tmp_path / "compiled", fake, compile="on", **kw), progress=False)
    assert [r["train_loss"] for r in compiled] == pytest.approx([r["train_loss"] for r in eager], rel=1e-4)
    assert compiled[-1]["correction_l2"] == pytest.approx(eager[-1]["correction_l2"], rel=1e-3)


def test_check_device_logic_on_the_cpu(tmp_path, fake):
    """--check-device on the CPU: bf16 autocast against the fp32 reference from the same weights."""
    from bea_experiments.cifar.check_device import check, report

    result = check(_cfg(tmp_path, fake, model="small_cnn", width=8, micro_batch=20), steps=2)
    assert 1e-5 < result["gradient_relative_error"] < 0.5 and 0 <= result["flipped_signs"] < 0.5
    assert result["reference_images_per_s"] > 0 and 0 < result["fast_mfu"] and 0 < result["reference_mfu"]
    assert result["parameters_relative_distance"] > 0 and "flipped signs" in report(result)


def test_cli_errors_are_one_line(tmp_path, capsys):
    from bea.cli import main

    assert main(["experiment", "cifar", "--out", str(tmp_path), "--data-dir", str(tmp_path / "none")]) == 2
    assert "data directory" in capsys.readouterr().err
    assert main(["experiment", "plot", str(tmp_path)]) == 2
    assert "no KEY=VALUE/seed=S run folders" in capsys.readouterr().err


def test_a_corrected_step_adds_c_h2_F1_and_logs_its_validity(tmp_path, fake):
    """One step with correction c differs from the plain step by c·h²·F₁(θ₀, n = 0), F₁ the derived term on the
    model (bea.autodiff, itself checked against the concrete SymPy field); the validity ratio is logged."""
    from bea.autodiff import ModelLoss
    from bea_experiments.cifar.train import load_tensors, split
    from bea_experiments.optim import Correction

    kw = dict(model="small_cnn", width=8, steps=1, lr=1e-2, beta=0.5, rho=0.9, eps=1e-4)
    run(_cfg(tmp_path / "plain", fake, **kw), progress=False)
    log = run(_cfg(tmp_path / "corr", fake, correction=1.0, **kw), progress=False)
    assert log[0]["correction_l2"] > 0 and 0 < log[0]["validity_ratio"] < 1
    plain = torch.load(tmp_path / "plain" / "run" / "checkpoint.pt", weights_only=True)["model"]
    corr = torch.load(tmp_path / "corr" / "run" / "checkpoint.pt", weights_only=True)["model"]
    cfg = _cfg(tmp_path / "x", fake, **kw)
    torch.manual_seed(cfg.seed)
    x, y, _, _, n, classes = load_tensors(cfg, torch.device("cpu"))
    model = models.build("small_cnn", classes, 8)
    loss = ModelLoss(model, lambda b: torch.nn.functional.cross_entropy(model(b[0]), b[1], reduction="sum") / n,
                     split(x, y, cfg.micro_batch))
    delta, ratio = Correction(*cfg.optimizer_params(), cfg.lr, loss, 1.0).delta(loss.theta(), 0)
    got = torch.cat([(corr[k] - plain[k]).reshape(-1) for k in loss.names])
    torch.testing.assert_close(got, delta, rtol=1e-3, atol=3e-8)  # float32 parameters
    assert ratio == pytest.approx(log[0]["validity_ratio"], rel=1e-5)


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
    (dict(dataset="mnist"), "--dataset must be one of cifar10, cifar100, got 'mnist'"),
    (dict(lr=float("nan")), "--lr must be a finite number, got nan"),
    (dict(eps=float("inf")), "--eps must be a finite number, got inf"),
    (dict(test_size=0), "--test-size must be >= 1"),
    (dict(train_size=-3), "--train-size must be >= 1"),
    (dict(device="bogus"), "--device must be auto, cpu, cuda, cuda:N or mps, got 'bogus'"),
    (dict(device="cuda:7"), "--device cuda:7: this machine has"),
    (dict(steps=1.5), "--steps must be an integer"),
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


def test_a_hostile_checkpoint_is_refused_on_resume_and_never_run(tmp_path, fake, monkeypatch):
    """--resume (and a sweep, which resumes on its own) loads checkpoints with weights_only=True."""
    import pickle

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'MARKER'}",)

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    for content, fragment in [(None, "UnpicklingError"), (b"", "is not a checkpoint of this program"),
                              (b"PK\x03\x04 truncated zip", "is not a checkpoint of this program")]:
        if content is None:
            torch.save({"model": Payload()}, out / "checkpoint.pt", _use_new_zipfile_serialization=True,
                       pickle_module=pickle)
        else:
            (out / "checkpoint.pt").write_bytes(content)
        with pytest.raises(BeaError, match=fragment):
            run(_cfg(tmp_path, fake), resume=True, progress=False)
        assert not (tmp_path / "MARKER").exists()
    torch.save({"model": {}, "step": 3}, out / "checkpoint.pt")  # plain data, but not this program's
    with pytest.raises(BeaError, match="expected the keys"):
        run(_cfg(tmp_path, fake), resume=True, progress=False)


def test_corrupt_or_foreign_logs_are_ignored_with_a_warning(tmp_path, fake):
    from bea.errors import BeaWarning
    from bea_experiments.cifar.plot import read_runs
    from bea_experiments.cifar.sweep import sweep

    cfg = _cfg(tmp_path, fake, model="small_cnn", width=8, steps=2, out=str(tmp_path / "sweep"))
    (folder,) = sweep(cfg, "rho", [0.9])  # sweep/rho=0.9/seed=3
    honest = (folder / "log.jsonl").read_text()
    for bad in ["", "{not json\n", '[1, 2]\n', '{"step": 2}\n', '{"step": "2", "train_loss": 1}\n', "\udcff"]:
        (folder / "log.jsonl").write_text(bad, errors="surrogateescape")
        with pytest.warns(BeaWarning, match="ignoring .*log.jsonl"):
            with pytest.raises(BeaError, match="no KEY=VALUE/seed=S run folders"):
                read_runs(tmp_path / "sweep")
        with pytest.warns(BeaWarning, match="ignoring .*log.jsonl"):
            sweep(cfg, "rho", [0.9])  # not finished: resumed from its checkpoint, which holds the log
        assert (folder / "log.jsonl").read_text() == honest
    (tmp_path / "sweep" / "rho=abc" / "seed=3").mkdir(parents=True)
    (tmp_path / "sweep" / "rho=abc" / "seed=3" / "log.jsonl").write_text(honest)
    with pytest.warns(BeaWarning, match="'rho=abc' is not KEY=NUMBER"):
        assert list(read_runs(tmp_path / "sweep")) == [("rho", 0.9)]


@pytest.mark.parametrize("argv,fragment", [
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--eps", "nan"], "--eps must be a finite number, got nan"),
    (["--test-size", "0"], "--test-size must be >= 1"),
    (["--train-size", "-3"], "--train-size must be >= 1"),
    (["--train-size", "0"], "--train-size must be >= 1"),
    (["--device", "bogus"], "--device must be auto, cpu, cuda, cuda:N or mps"),
    (["--model", "vgg"], "unknown model 'vgg'"),
    (["--width", "x"], "argument --width: invalid int value"),
    (["--optimizer", "sam"], "--optimizer sam needs --params c=VALUE"),
    (["--optimizer", "sam", "--params", "c=nan"], "--params must be KEY=VALUE"),
    (["--optimizer", "sam", "--params", "r=1"], "sam has no hyperparameter 'r'"),
    (["--optimizer", "adam", "--params", "beta=0.5"], "give beta as --beta"),
])
def test_bad_cifar_flags_end_with_one_line_before_any_work(tmp_path, fake, capsys, argv, fragment):
    from bea.cli import main

    out = tmp_path / "out"
    assert main(["experiment", "cifar", "--out", str(out), "--data-dir", str(fake), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bea: error: ") and fragment in err, err
    assert not out.exists()


def test_sweep_values_are_checked_before_the_first_run(tmp_path, fake, capsys):
    from bea.cli import main

    base = ["experiment", "sweep", "--out", str(tmp_path / "s"), "--data-dir", str(fake), "--over", "rho"]
    for values, fragment in [("0.9,nan", "--rho must be a finite number"), ("0.9,1.5", "--rho must be in [0, 1)"),
                             ("0.999,0.9990", "a run is given twice")]:
        assert main([*base, "--values", values]) == 2
        assert fragment in capsys.readouterr().err
        assert not (tmp_path / "s").exists()


def test_paired_differences_at_equal_train_loss():
    """Runs of the same seed compared at the same train loss: a one-norm 10 % above the reference's at every loss
    gives +10 % at every level, whatever the steps at which each run gets there; a seed only one value has is
    left out."""
    from bea_experiments.cifar.plot import at_train_loss, paired

    def rows(losses, factor):
        return [{"step": k + 1, "train_loss": L, "one_norm_eps": factor * L, "grad_l1": factor * L**2}
                for k, L in enumerate(losses)]

    slow, fast = [2.0, 1.6, 1.2, 0.9, 0.7, 0.5], [2.0, 1.0, 0.6, 0.4]
    runs = {("rho", 0.8): [(0, {}, rows(slow, 10.0)), (1, {}, rows(fast, 10.0))],
            ("rho", 0.97): [(0, {}, rows(fast, 11.0)), (1, {}, rows(slow, 11.0)), (2, {}, rows(slow, 50.0))]}
    levels, reference, table = paired(runs, points=6)
    assert reference == 0.8 and levels[0] < 2.0 and levels[-1] == pytest.approx(0.5)
    assert table[0.97]["one_norm_eps"].shape == (2, 5)
    np.testing.assert_allclose(table[0.97]["one_norm_eps"], 0.1, rtol=1e-12)
    assert at_train_loss(rows(slow, 1.0), 0.1, "one_norm_eps") is None
    # a corrected run counts only while its validity ratio is small: seed 1's value run leaves the range at 0.9
    runs[("rho", 0.97)][1] = (1, {}, [r | {"validity_ratio": 0.1 if r["train_loss"] > 0.95 else 0.8}
                                      for r in rows(slow, 11.0)])
    levels, _, table = paired(runs, points=6)
    kept = table[0.97]["one_norm_eps"]
    assert np.isnan(kept[1, levels < 0.95]).all() and not np.isnan(kept[1, levels > 1.2]).any()
    np.testing.assert_allclose(kept[0], 0.1, rtol=1e-12)
