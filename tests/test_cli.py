"""The command line, as a user runs it."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bea.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ["gd", "heavy_ball", "heavy_ball_polyak", "rmsprop", "adam"]:
        assert name in out


def test_derive_adam_prints_the_one_norm_and_its_regimes(capsys):
    code, out, _ = run(capsys, "derive", "adam", "--order", "1")
    assert code == 0
    assert "s = √(g² + ε)" in out
    assert "∇‖∇E‖_{1,ε}" in out
    assert "anti-penalized when (β - ρ) < 0" in out
    assert "‖∇E‖₂² penalized" in out


def test_derive_gd_names_the_regularizer(capsys):
    code, out, _ = run(capsys, "derive", "gd")
    assert "modified loss: Ẽ = E + h·((1/4)·‖∇E‖₂²)" in out


def test_derive_numbers_decide_the_regime(capsys):
    code, out, _ = run(capsys, "derive", "adam", "--param", "beta=0.9", "--param", "rho=0.999", "--param", "eps=1e-8")
    assert code == 0
    assert "‖∇E‖₁ anti-penalized" in out


def test_derive_json_and_latex(capsys):
    code, out, _ = run(capsys, "derive", "heavy_ball", "--format", "json")
    data = json.loads(out)
    assert data["optimizer"] == "heavy_ball" and data["order"] == 1 and data["regime"] == "stationary"
    assert data["recognized"][0]["is_gradient"] is True
    code, out, _ = run(capsys, "derive", "adam", "--format", "latex")
    assert out.startswith("\\begin{align*}") and "\\nabla^{2}E" in out


def test_latex_shows_the_recognized_form_and_its_regimes(capsys):
    _, gd, _ = run(capsys, "derive", "gd", "--format", "latex")
    assert r"\tilde E &= E + h \left(\frac{1}{4} \|\nabla E\|_2^2\right)" in gd
    _, adam, _ = run(capsys, "derive", "adam", "--format", "latex")
    recognized = adam.split("% recognized")[1]
    assert r"F_{1} &= -P \odot c \odot \nabla \|\nabla E\|_{1,\varepsilon}" in recognized
    assert r"\sqrt{\varepsilon} \ll |\partial_j E|" in recognized and r"\sqrt{\varepsilon} \gg |\partial_j E|" in recognized
    assert r"\text{anti-penalized when } \left(\beta - \rho\right) < 0" in recognized
    math = recognized.replace(r"\text{(early training, small ε)}", "").replace(r"\text{(late training, large ε)}", "")
    assert not set("‖∇√≪≫²₁") & set(math) and "epsilon" not in adam.replace(r"\varepsilon", "")  # all LaTeX
    assert adam.count("{") == adam.count("}") and adam.count(r"\begin{align*}") == 2


def test_derive_concrete_loss_and_step(capsys):
    code, out, _ = run(capsys, "derive", "adam", "--loss", "(x*y-1)**2/2", "--vars", "x,y", "--step", "0",
                       "--param", "eps=0.1")
    assert code == 0 and "loss: E = (x*y - 1)**2/2" in out


@pytest.mark.parametrize("argv,fragment", [
    (["derive", "adam", "--param", "beta=2"], "beta must be in [0, 1)"),
    (["derive", "adam", "--param", "beta"], "--param takes key=value"),
    (["derive", "nope"], "unknown optimizer 'nope'"),
    (["derive", "gd", "--order", "-1"], "order must be >= 0"),
    (["derive", "gd", "--loss", "x+*", "--vars", "x"], "--loss: invalid syntax, at column 3 ('*')"),
    (["derive", "gd", "--loss", "x**2"], "--loss needs --vars"),
    (["derive", "adam", "--param", "eps=-1"], "eps must be >= 0"),
])
def test_errors_are_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and fragment in err and "Traceback" not in err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "bea.cli", "derive", "gd", "--format", "json"],
                          capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["optimizer"] == "gd"


def test_python_m_bea_is_the_bea_command():
    """`python -m bea` prints what the installed `bea` script prints, errors and exit codes included."""
    script = shutil.which("bea", path=str(Path(sys.executable).parent)) or shutil.which("bea")
    if script is None:
        pytest.skip("the bea console script is not installed (pip install -e .)")
    runs = {}
    for argv in (["derive", "gd", "--order", "2"], ["derive", "adam", "--param", "beta=1.2"], ["--help"]):
        module = subprocess.run([sys.executable, "-m", "bea", *argv], capture_output=True, text=True, timeout=300)
        command = subprocess.run([script, *argv], capture_output=True, text=True, timeout=300)
        assert (module.returncode, module.stdout, module.stderr) == (command.returncode, command.stdout,
                                                                     command.stderr), argv
        runs[argv[-1]] = module
    assert runs["2"].returncode == 0 and "F₂ = " in runs["2"].stdout
    assert runs["beta=1.2"].returncode == 2 and runs["beta=1.2"].stderr.startswith("bea: error: beta must be in")
    assert runs["--help"].stdout.startswith("usage: bea ")  # not "usage: __main__.py"


def test_output_into_a_pipe_closed_early_is_not_an_error():
    proc = subprocess.Popen([sys.executable, "-m", "bea.cli", "derive", "adam", "--order", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    proc.stdout.close()  # the reader is gone before the derivation is printed, like `| head` that has finished
    assert proc.wait(timeout=120) == 0
    assert b"Traceback" not in proc.stderr.read()


def test_python_api_prints_the_same_as_the_cli(capsys):
    import bea

    ode = bea.modified_ode("gd", order=1, stationary=True)
    code, out, _ = run(capsys, "derive", "gd")
    assert out.strip() == ode.pretty().strip()
    assert "E + h·((1/4)·‖∇E‖₂²)" in ode.pretty()
    assert json.loads(ode.to_json())["recognized"][0]["is_gradient"] is True
    assert ode.latex().startswith("\\begin{align*}")


def test_compare_reads_each_optimizer_and_its_regimes(capsys):
    code, out, _ = run(capsys, "compare", "adam", "lion", "adamw", "adagrad")
    assert code == 0
    blocks = {b.split(":")[0]: b for b in out.split("\n\n")}
    assert "‖∇E‖₁ penalized when (β - ρ) > 0, anti-penalized when (β - ρ) < 0" in blocks["adam"]
    assert "coefficient 0, neither penalized nor anti-penalized" in blocks["lion"]  # memory does not anti-regularize
    assert "at λ = 0" in blocks["adamw"] and "λ-terms of F₁" in blocks["adamw"]
    assert "order 0 only" in blocks["adagrad"]
    code, out, _ = run(capsys, "compare", "adam", "--param", "beta=0.9", "--param", "rho=0.999")
    assert "anti-penalized" in out


def test_derive_mini_batches_and_reshuffling(capsys):
    code, out, _ = run(capsys, "derive", "gd", "--batch-loss", "(x-1)**2/2", "--batch-loss", "(x+1)**2/2 + y**2",
                       "--vars", "x,y", "--reshuffled")
    assert code == 0
    assert "F1^(0) = [1/2 - x/2, 0]" in out  # the GD field of E_0 alone: −(1/2)∇²E₀∇E₀
    # (1/4k) Σ_r ‖∇E_r‖² with k = 2, read off each batch's recognized regularizer
    assert "F̄1 = [-x/2, -y] = −∇(y**2/2 + (x - 1)**2/8 + (x + 1)**2/8)" in out
    code, _, err = run(capsys, "derive", "adam", "--batch-loss", "x**2", "--vars", "x", "--reshuffled")
    assert code == 2 and "memoryless optimizers only" in err


def test_derive_reads_a_library_loss_by_name(capsys):
    code, out, _ = run(capsys, "derive", "gd", "--loss", "quadratic", "--order", "1")
    assert code == 0 and "‖∇E‖₂²" in out
    code, _, err = run(capsys, "derive", "gd", "--loss", "quadratic", "--vars", "x")  # text: needs its variables
    assert code == 2 and err.startswith("bea: error:")


def test_an_empty_option_is_an_error_not_the_default(capsys):
    for argv in (["verify", "gd", "--theta0", ""], ["derive", "gd", "--schedule", " "], ["verify", "gd", "--out", ""]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "is empty" in err, argv
