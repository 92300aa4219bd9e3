"""The `$ bea …` transcripts on the documentation pages are what bea prints now (regenerate them with
`python verify/docs_transcripts.py --write`); `bea verify` transcripts in the slow suite."""
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "verify" / "docs_transcripts.py"
_spec = importlib.util.spec_from_file_location("docs_transcripts", SCRIPT)
transcripts = sys.modules["docs_transcripts"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(transcripts)

ALL = [t for page in transcripts.pages() for t in transcripts.transcripts(page)]


def _needs(module):
    try:
        __import__(module)
        return False
    except ImportError:
        return True


def _param(t):
    marks = [pytest.mark.slow] if t.slow else []
    if t.needs and _needs(t.needs):
        marks.append(pytest.mark.skip(reason=f"needs {t.needs} (pip install 'bea[torch]')"))
    return pytest.param(t, marks=marks, id=f"{t.page.name}:{t.command[:60]}")


def test_the_pages_have_transcripts():
    assert len(ALL) >= 5 and any(t.slow for t in ALL)


@pytest.mark.parametrize("transcript", [_param(t) for t in ALL])
def test_a_transcript_is_what_bea_prints(transcript):
    problem = transcripts.stale(transcript)
    assert problem is None, problem + "\n(run: python verify/docs_transcripts.py --write)"


def test_a_stale_transcript_is_reported_with_a_diff(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```console\n$ bea derive gd --order 0\nθ̇ = something else\n```\n")
    [t] = transcripts.transcripts(page)
    t = transcripts.Transcript(transcripts.ROOT / "docs" / "page.md", t.command, t.output)
    diff = transcripts.stale(t)
    assert "-θ̇ = something else" in diff and "+θ̇ = F₀ + O(h^1)" in diff
