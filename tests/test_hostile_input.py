"""A fuzz corpus for the command line: bad input ends with one ``bea: error:`` line and exit code 2.

Every case runs in a fresh temporary folder (inside a second one, to see writes outside it), and
must leave no traceback, no marker file from a payload, and no file outside the folder it asked
for.  Most cases run bea.cli.main in-process; a few run the real console entry point.
"""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bea.cli import main
from test_expr import HOSTILE

PAYLOAD = "__import__('os').system('touch MARKER')"
SECRET = "the-secret-content"


def run(argv, files=None, seconds=60):
    """(exit code, stdout, stderr, files created) of ``bea argv`` run in-process in a fresh folder."""
    with tempfile.TemporaryDirectory() as outer:
        work = Path(outer) / "work"
        work.mkdir()
        (work / "SECRET").write_text(SECRET)
        for name, text in (files or {}).items():
            (work / name).write_bytes(text if isinstance(text, bytes) else text.encode())
        before = {p for p in Path(outer).rglob("*")}
        out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
        os.chdir(work)
        signal.alarm(seconds)  # a guard against hangs, not a speed test
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in argv])
        finally:
            signal.alarm(0)
            os.chdir(cwd)
        created = sorted(str(p.relative_to(outer)) for p in set(Path(outer).rglob("*")) - before)
    return code, out.getvalue(), err.getvalue(), created


def assert_clean_error(argv, files=None, allowed=()):
    code, out, err, created = run(argv, files)
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("bea: error: ")]
    assert code == 2 and len(errors) == 1, (argv, code, err)
    assert all(line.startswith("bea: ") for line in lines), err  # warnings are "bea: warning: …" lines
    assert "Traceback" not in err and SECRET not in err + out
    assert not [c for c in created if not any(c.startswith(a) for a in allowed)], created
    return errors[0]


LOSSES = [text for text, _ in HOSTILE] + [PAYLOAD, "1/0", "oo*x", "nan", "I*x**2", "lambda x: x**2", "(x", "n**2",
                                          "sign(x)", "x**2 + 10**10**10", "Symbol(open('SECRET').read())"]

CASES = [
    *(["derive", "gd", "--loss", text, "--vars", "x,y"] for text in LOSSES),
    *(["verify", "gd", "--loss-expr", text, "--vars", "x,y", "--theta0", "1,2"] for text in LOSSES[::7]),
    *(["derive", "gd", "--batch-loss", "x**2", "--batch-loss", text, "--vars", "x,y"] for text in LOSSES[::5]),
    ["derive", "gd", "--loss", "x**2", "--vars", "n"],
    ["derive", "gd", "--loss", "n**2", "--vars", "n"],
    ["derive", "gd", "--loss", "t**2 + h", "--vars", "t,h"],
    ["derive", "adam", "--loss", "m**2", "--vars", "m"],
    ["derive", "gd", "--loss", "x", "--vars", "x,x"],
    ["derive", "gd", "--loss", "x", "--vars", "exp"],
    ["derive", "gd", "--loss", "x", "--vars", "__class__"],
    ["derive", "gd", "--loss", "x", "--vars", "x;__import__('os')"],
    ["derive", "gd", "--loss", "x", "--vars", ",".join(f"x{i}" for i in range(60))],
    ["derive", "gd", "--loss", "x", "--vars", "a" * 100],
    ["derive", "gd", "--loss", "x**2"],
    ["derive", "gd", "--vars", "x"],
    ["derive", "gd", "--order", "100"],
    ["derive", "gd", "--order", "-1"],
    ["derive", "gd", "--order", "1e3"],
    ["derive", "gd", "--order", "1", "--max-order", "-5"],
    ["derive", "adam", "--step", "100000000", "--param", "beta=0.9"],
    ["derive", "adam", "--step", "-1"],
    ["derive", "adam", "--param", "eps=inf"],
    ["derive", "adam", "--param", "eps=nan"],
    ["derive", "adam", "--param", "eps=-inf"],
    ["derive", "adam", "--param", "eps=1e400"],
    ["derive", "adam", "--param", "beta=2"],
    ["derive", "adam", "--param", "beta=0x10"],
    ["derive", "adam", "--param", f"beta={PAYLOAD}"],
    ["derive", "adam", "--param", "beta=0.9", "--param", "beta=0.5"],
    ["derive", "adam", "--param", "gamma=1"],
    ["derive", "adam", "--param", "=1"],
    ["derive", "adam", "--param", "beta"],
    ["derive", "adam", "--param", "bias_correction=maybe"],
    ["derive", "gd", "--h", "nan"],
    ["derive", "gd", "--h", "inf"],
    ["derive", "gd", "--h", "-1"],
    ["derive", "gd", "--h", "0"],
    ["derive", "gd", "--format", "yaml"],
    ["derive", "gd", "--reshuffled"],
    ["derive", "gd", "--finite", "--step", "1"],
    ["derive"],
    ["derive", "nope"],
    ["derive", PAYLOAD],
    ["derive", "gd", "--spec", "x.toml"],
    ["derive", "--spec", "missing.toml"],
    ["derive", "--spec", "."],
    ["derive", "--spec", "SECRET"],
    ["bogus"],
    [],
    ["verify", "gd", "--theta0", "a,b"],
    ["verify", "gd", "--theta0", "1"],
    ["verify", "gd", "--theta0", "nan,1"],
    ["verify", "gd", "--T", "nan"],
    ["verify", "gd", "--T", "inf"],
    ["verify", "gd", "--T", "-1"],
    ["verify", "gd", "--T", "1e-9"],
    ["verify", "gd", "--h-max", "inf"],
    ["verify", "gd", "--h-max", "0"],
    ["verify", "gd", "--levels", "40"],
    ["verify", "gd", "--levels", "1"],
    ["verify", "gd", "--T", "1e6"],
    ["verify", "gd", "--order", "9"],
    ["verify", "gd", "--loss", "two_layer", "--dim", "2"],
    ["verify", "gd", "--loss", "quadratic", "--dim", "0"],
    ["verify", "gd", "--loss", "quadratic", "--dim", "100000"],
    ["verify", "gd", "--loss", PAYLOAD],
    ["verify", "gd", "--loss-expr", "x**2", "--vars", "x"],
    ["verify", "gd", "--loss-expr", "x**2", "--vars", "x", "--theta0", "1,2"],
    ["verify", "gd", "--loss-expr", "Abs(x)", "--vars", "x", "--theta0", "0.01"],
    ["verify", "gd", "--loss-expr", "x**2", "--vars", "x", "--theta0", "1", "--dim", "3"],
    ["verify", "gd", "--vars", "x"],
    ["verify", "adam", "--param", "beta=0.9"],  # rho and eps have no numbers
    ["verify", "gd", "--param", "eps=inf"],
    ["verify", "gd", "--precision", "quad"],
    ["verify", "gd", "--out", "SECRET"],
    ["verify", "gd", "--out", "SECRET/below"],
    ["compare", "adam", "lion", "--param", "gamma=1"],
    ["compare", "adam", "--param", "beta=nan"],
    ["compare", "adam", "nope"],
    ["compare"],
    ["list", "--bogus"],
    ["experiment"],
    ["experiment", "separable", "--figure", "nope"],
    ["experiment", "separable", "--figure", "signum", "--out", "SECRET"],
    ["experiment", "cifar", "--out", "o", "--lr", "nan"],
    ["experiment", "cifar", "--out", "o", "--eps", "nan"],
    ["experiment", "cifar", "--out", "o", "--train-size", "0"],
    ["experiment", "cifar", "--out", "o", "--test-size", "-3"],
    ["experiment", "cifar", "--out", "o", "--device", "bogus"],
    ["experiment", "cifar", "--out", "SECRET"],
    ["experiment", "sweep", "--out", "o", "--over", "rho", "--values", "0.9,nan"],
    ["experiment", "sweep", "--out", "o", "--over", "gamma", "--values", "1"],
    ["experiment", "plot", "SECRET"],
]


@pytest.mark.parametrize("argv", CASES, ids=[f"c{i}" for i in range(len(CASES))])
def test_bad_command_lines_end_with_one_error_line(argv):
    assert_clean_error(argv)


SPECS = {
    "cmp": 'name = "c"\nstep = "g > 0"',
    "decay_n": 'name = "d"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "1/(n+1)"\ninput = "g"',
    "decay_g": 'name = "d"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "g"\ninput = "g"',
    "decay_2": 'name = "d"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "2"\ninput = "g"',
    "decay_-1": 'name = "d"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = -1\ninput = "g"',
    "scale_g": 'name = "d"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "0.5"\ninput = "g"\nscale = "g"',
    "two_states": 'name = "d"\nstep = "m"\n[[states]]\nsymbol = "m"\ndecay = "0.5"\ninput = "g"\n'
                  '[[states]]\nsymbol = "m"\ndecay = "0.5"\ninput = "g**2"',
    "grad_at": 'name = "d"\nstep = "grad_at(theta)"',
    "payload": f'name = "p"\nstep = "{PAYLOAD}"',
    "payload_decay": 'name = "p"\nstep = "m"\n[[states]]\nsymbol = "m"\ninput = "g"\n'
                     'decay = "().__class__.__bases__[0].__subclasses__()"',
    "secret": 'name = "p"\nstep = "Symbol(open(\'SECRET\').read())"',
    "inf": 'name = "p"\nstep = inf',
    "keyword": 'name = "p"\nstep = "g"\n[hyperparameters]\nlambda = "unit"',
    "not_a_table": 'name = "p"\nstep = "g"\nhyperparameters = 3',
    "states_not_tables": 'name = "p"\nstep = "g"\nstates = [1, 2]',
    "deep": 'name = "p"\nstep = "' + "(" * 300 + "g" + ")" * 300 + '"',
    "long": 'name = "p"\nstep = "' + "+".join(["g"] * 20000) + '"',
    "dotdot": 'name = "../../x"\nstep = "g"',
    "escape": 'name = "p"\ntitle = "\\u001b[2J"\nstep = "g"',
    "not_toml": "name = ",
}


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("command", ["derive", "verify"])
def test_bad_spec_files_end_with_one_error_line(name, command):
    assert_clean_error([command, "--spec", "spec.toml"], {"spec.toml": SPECS[name]})


def test_spec_files_that_are_not_text():
    assert_clean_error(["derive", "--spec", "latin1.toml"], {"latin1.toml": 'name = "é"\nstep = "g"'.encode("latin-1")})
    assert_clean_error(["derive", "--spec", "nul.toml"], {"nul.toml": b"\x00\xff" * 100})
    assert_clean_error(["derive", "--spec", "deep.toml"], {"deep.toml": "a = " + "[" * 5000 + "]" * 5000})


def test_verify_writes_only_where_it_is_asked_to():
    spec = 'name = "x..y"\nstep = "g"'
    code, _, err, created = run(["verify", "--spec", "s.toml", "--levels", "2", "--order", "0"], {"s.toml": spec})
    assert code == 0 and "work/runs/verify/x__y_nonconvex/study.json" in created, (err, created)
    assert all(c.startswith("work/runs") for c in created), created
    assert_clean_error(["verify", "--spec", "s.toml"], {"s.toml": 'name = "../../x"\nstep = "g"'})


def test_a_warning_is_a_line_of_its_own_and_the_run_succeeds():
    code, out, err, _ = run(["derive", "gd", "--loss", "Abs(x - 1) + y**2", "--vars", "x,y", "--order", "0"])
    assert code == 0 and err.startswith("bea: warning: the loss is not smooth where x - 1 = 0") and err.count("\n") == 1


# -- hypothesis: random command lines and spec files -------------------------------------------------
TOKENS = list("xyzgnm0123456789.+-*/()^_ ,=eE'\"[]{}:;<>!@#$%&|~`\\\t") + [
    "__", "**", "exp", "sqrt", "lambda", "import", "os", ".__class__", "nan", "inf", "oo", "I", "ｘ", "\u200b", "é",
    "\x00", "9" * 30]
TEXT = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
BAD_NUMBERS = st.sampled_from(["nan", "inf", "-inf", "1e999", "abc", "", "0x1", "--1", "1;2", "½", "NaN", "1e-400e"])
FLAGS = {
    "derive": ["--order", "--param", "--h", "--step", "--loss", "--vars", "--format", "--batch-loss", "--spec"],
    "verify": ["--order", "--param", "--loss", "--dim", "--loss-expr", "--vars", "--theta0", "--h-max", "--levels",
               "--T", "--precision", "--spec"],
    "compare": ["--param"],
}


@st.composite
def bad_argv(draw):
    """A command line with one value drawn from the refused kinds (a bad number or a hostile expression)."""
    command = draw(st.sampled_from(sorted(FLAGS)))
    optimizer = draw(st.sampled_from(["gd", "adam", "heavy_ball"]))
    argv = [command, optimizer] + (["nesterov"] if command == "compare" else [])
    for flag in draw(st.lists(st.sampled_from(FLAGS[command]), max_size=3)):
        argv += [flag, draw(st.one_of(TEXT, BAD_NUMBERS))]
    bad = draw(st.sampled_from([
        ("--param", draw(st.sampled_from(["beta=", "eps=", "rho="])) + draw(BAD_NUMBERS)),
        *[(flag, draw(BAD_NUMBERS)) for flag in {"derive": ["--h"], "verify": ["--T", "--h-max", "--theta0"],
                                                   "compare": []}[command]],
        ("--loss" if command == "derive" else "--param", draw(st.sampled_from(LOSSES))),
    ]))
    position = draw(st.integers(2, len(argv)))
    return argv[:position] + list(bad) + argv[position:]


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=60, **FUZZ)
@given(bad_argv())
def test_random_command_lines_with_a_bad_value(argv):
    assert_clean_error(argv)


@settings(max_examples=60, **FUZZ)
@given(TEXT)
def test_random_loss_text(text):
    code, out, err, created = run(["derive", "gd", "--order", "0", "--loss", text, "--vars", "x,y"])
    assert code in (0, 2) and "Traceback" not in err and not created, (text, code, err)
    assert code == 0 or (err.count("bea: error: ") == 1 and err.startswith("bea: error: "))


def _toml_value(value):
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


SPEC_VALUES = st.one_of(TEXT, st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                        st.lists(TEXT, max_size=2))


@st.composite
def spec_files(draw):
    lines = [f"name = {_toml_value(draw(st.one_of(st.just('mine'), TEXT)))}"]
    if draw(st.booleans()):
        lines.append(f"step = {_toml_value(draw(st.one_of(st.sampled_from(['g', 'm', 'g/sqrt(v + eps)']), SPEC_VALUES)))}")
    lines += ["[hyperparameters]"] + [f"{draw(st.sampled_from(['beta', 'eps', 'n', 'lambda', 'x y', 'exp']))} = "
                                      f"{_toml_value(draw(st.sampled_from(['unit', 'positive', 'wide'])))}"
                                      for _ in range(draw(st.integers(0, 2)))]
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[states]]")
        for field in draw(st.lists(st.sampled_from(["symbol", "decay", "input", "scale", "extra"]), unique=True)):
            lines.append(f"{field} = {_toml_value(draw(st.one_of(st.sampled_from(['m', 'v', '0.5', 'beta', 'g**2']), SPEC_VALUES)))}")
    return "\n".join(lines)


@settings(max_examples=60, **FUZZ)
@given(spec_files())
def test_random_spec_files(text):
    code, out, err, created = run(["derive", "--spec", "s.toml", "--order", "0"], {"s.toml": text})
    assert code in (0, 2) and "Traceback" not in err and not created, (text, code, err)
    assert code == 0 or (err.count("bea: error: ") == 1 and err.startswith("bea: error: ")), (text, err)


@pytest.mark.slow
@settings(max_examples=1500, **FUZZ)
@given(bad_argv(), TEXT, spec_files())
def test_fuzz_many(argv, text, spec):
    test_random_command_lines_with_a_bad_value.hypothesis.inner_test(argv)
    test_random_loss_text.hypothesis.inner_test(text)
    test_random_spec_files.hypothesis.inner_test(spec)


# -- the real exit path -------------------------------------------------------------------------------
def bea_process(*argv, cwd):
    return subprocess.Popen([sys.executable, "-m", "bea.cli", *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.mark.parametrize("argv", [
    ["derive", "gd", "--loss", PAYLOAD, "--vars", "x"],
    ["derive", "gd", "--loss", b"x\xff\xfe".decode(errors="surrogateescape"), "--vars", "x"],  # bytes that are not UTF-8
])
def test_the_console_entry_point_exits_2_with_one_line(tmp_path, argv):
    proc = subprocess.run([sys.executable, "-m", "bea.cli", *argv], cwd=tmp_path, capture_output=True, timeout=120)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2 and err.count("\n") == 1 and err.startswith("bea: error: "), err
    assert not list(tmp_path.iterdir())


def test_ctrl_c_exits_130_with_one_line_and_complete_files(tmp_path):
    """SIGINT during a long study: one line, exit code 130, and the cache written so far is complete JSON."""
    proc = bea_process("verify", "adam", "--param", "beta=0.5", "--param", "rho=0.6", "--param", "eps=0.1",
                       "--levels", "7", "--out", "study", cwd=tmp_path)
    cache = tmp_path / "study" / "cache.json"
    deadline = time.time() + 240
    while not cache.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert err.decode() == "bea: interrupted (files written so far are complete)\n"
    assert json.loads(cache.read_text())["points"]
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == ["cache.json"]  # no temporary file left


def test_an_error_during_a_study_starts_on_its_own_line(tmp_path, monkeypatch):
    """On a terminal the progress bar erases itself before the error is printed (it used to share its line)."""
    import bea.verify

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def fails(*args, **kwargs):
        raise bea.BeaError("the third point failed")

    honest, calls = bea.verify._point_double, []
    monkeypatch.setattr(bea.verify, "_point_double",
                        lambda *a, **k: calls.append(1) or (fails() if len(calls) == 3 else honest(*a, **k)))
    err = Terminal()
    with contextlib.redirect_stderr(err):
        assert main(["verify", "gd", "--levels", "3", "--out", str(tmp_path / "o")]) == 2
    drawn, _, last = err.getvalue().rpartition("\r")
    assert "gd on nonconvex" in drawn and last == "bea: error: the third point failed\n"
