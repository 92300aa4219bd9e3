"""The registry is the one source of truth: a spec registered with examples, and nothing else
edited, is checked by the order test and the abstract-vs-concrete test, studied by
verify/run_all.py and timed by the benchmark."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bea
from bea import BeaError
from bea import symbols as S
from bea.registry import REGISTRY, Example, cases, register, unregister

ROOT = Path(__file__).resolve().parents[1]

#: registers a new optimizer, then imports the case lists of every consumer of the registry
NEW_OPTIMIZER = textwrap.dedent("""
    import sys
    import sympy as sp
    import bea
    from bea import symbols as S
    from bea.spec import Hyper, OptimizerSpec, State

    damped = OptimizerSpec("damped_momentum", "momentum with a damped step", step=S.m / (1 + S.beta),
                           states=(State(S.m, S.beta, S.g, 1 - S.beta),),
                           hyperparameters=(Hyper("beta", S.beta, "unit"),))
    bea.register(damped, bea.Example(dict(beta=0.3), orders=(0, 1)), bea.Example(dict(beta=0.0), label="zero"))
    sys.path[:0] = ["tests", "verify", "benchmarks"]
    import run_all, test_abstract_vs_concrete, test_order, verify_times

    print("order", sorted({c.id for c, _ in test_order.RANDOM_LOSS_SLOPES + test_order.FIRST_STEP
                           if c.name == "damped_momentum"}))
    print("stationary", sorted({c.id for c, _ in test_order.STATIONARY if c.name == "damped_momentum"}))
    print("abstract", sorted({c.id for c, *_ in test_abstract_vs_concrete.FAST if c.name == "damped_momentum"}))
    print("run_all", [(s[0], s[3]) for s in run_all.studies() if s[1] == "damped_momentum"])
    print("benchmark", [s[0] for s in verify_times.studies() if s[1] == "damped_momentum"])
""")


def test_a_registered_spec_reaches_every_check_without_other_edits():
    proc = subprocess.run([sys.executable, "-c", NEW_OPTIMIZER], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    both = "['damped_momentum', 'damped_momentum_zero']"
    assert lines == {"order": both, "stationary": both, "abstract": both,
                     "run_all": "[('damped_momentum', [0, 1]), ('damped_momentum_zero', [0, 1, 2])]",
                     "benchmark": both}


@pytest.mark.slow
def test_a_registered_spec_passes_the_order_test():
    """The order test, run on the new optimizer alone, measures its slopes (not only lists it)."""
    script = NEW_OPTIMIZER.split("sys.path[:0]")[0] + textwrap.dedent("""
        import pytest
        sys.exit(pytest.main(["-q", "-p", "no:randomly", "tests/test_order.py", "-k", "damped_momentum"]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_every_builtin_has_examples_and_its_registered_name():
    for name, entry in REGISTRY.items():
        assert entry().name == name
        if not entry.examples:  # registered to be refused with the reason (amsgrad): check that it is
            with pytest.raises(bea.BeaError):
                bea.modified_ode(name, order=1)
            continue
        for example in entry.examples:  # every example's values are valid for the optimizer
            bea.registry.build(name, dict(example.params), require_all=True)


def test_case_ids_are_unique():
    ids = [case.id for case in cases()]
    assert len(ids) == len(set(ids))


def test_register_refuses_clashes_and_bad_examples():
    spec = bea.OptimizerSpec("gd", "another gd", step=S.g)
    with pytest.raises(BeaError, match="already registered"):
        register(spec, Example())
    other = bea.OptimizerSpec("other_gd", "another gd", step=S.g)
    with pytest.raises(BeaError, match="share a label"):
        register(other, Example(), Example(dict()))
    with pytest.raises(BeaError, match="Example instances"):
        register(other, dict(beta=0.5))
    with pytest.raises(BeaError, match="non-negative integers"):
        Example(orders=(-1,))
    assert "other_gd" not in REGISTRY


def test_a_registered_spec_is_derived_by_name():
    spec = bea.OptimizerSpec("third_gd", "gradient descent at a third of the speed", step=S.g / 3)
    register(spec, Example())
    try:
        assert bea.modified_ode("third_gd", order=0).terms[0] == -S.g / 3
    finally:
        unregister("third_gd")
    with pytest.raises(BeaError, match="unknown optimizer 'third_gd'"):
        bea.modified_ode("third_gd")
