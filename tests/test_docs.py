"""The documentation: the Sphinx site builds with no warning, and every snippet runs as written.

Snippets are the ```python blocks of README.md and docs/*.md (the README's first one, the seed
program, is run by tests/test_packaging.py::test_readme_quick_example_runs), the shell command of
the README's search section, and the virtual-environment instructions.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
GENERATED = ("_build", "api", "tutorials", "jupyter_execute")


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def _snippets():
    cases = []
    for path in [README, *DOC_PAGES]:
        for index, code in enumerate(python_blocks(path)):
            if path == README and index == 0:
                continue  # the seed program: tests/test_packaging.py runs it
            cases.append(pytest.param(path, code, id=f"{path.relative_to(ROOT)}[{index}]"))
    return cases


def _environment() -> dict:
    """This interpreter's environment with the repository first on the path (as a checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.mark.slow
@pytest.mark.parametrize("path, code", _snippets())
def test_python_snippet_runs_as_written(path, code, tmp_path):
    """Each snippet runs unchanged in a fresh interpreter in an empty folder.

    The README's architecture search runs at its written sizes (12 x 5 genomes, 3 folds, 10
    epochs, 2 worker processes): about 40 s on a shared 2-core machine, and a smaller search would
    not be the one a reader runs. Running it as a script also checks that its worker processes
    do not re-run the script (spawned workers re-import ``__main__`` unless it is guarded or the
    pool avoids it).
    """
    script = tmp_path / "snippet.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{path.name} snippet failed:\n{result.stderr[-3000:]}"
    if "GeneticSearch" in code:  # it promises a checkpoint file and a trained best model
        assert (tmp_path / "search.json").stat().st_size > 0


def test_every_python_snippet_is_covered():
    """The README's first block is the seed program that test_packaging runs; all others here."""
    first = python_blocks(README)[0]
    assert "epochs=100" in first and "model.save(" in first
    assert len(_snippets()) == sum(len(python_blocks(p)) for p in [README, *DOC_PAGES]) - 1


def _readme_search_command() -> str:
    """The README's first ``nastoolkit search --dataset ...`` command, inline or in a bash block."""
    text = re.sub(r"\\\n\s*", " ", README.read_text())  # shell line continuations
    inline = re.search(r"`(nastoolkit search --dataset[^`]*)`", text)
    block = re.search(r"^(nastoolkit search --dataset[^\n#]*)", text, flags=re.MULTILINE)
    found = [m for m in (inline, block) if m]
    assert found, "the README no longer shows a `nastoolkit search --dataset ...` command"
    first = min(found, key=lambda m: m.start())
    return " ".join(first.group(1).split())


@pytest.mark.slow
def test_readme_search_command_runs_and_resumes(tmp_path):
    """The README's shell command, with only the sizes reduced, then resumed with ``--resume``.

    As written it trains 20 x 10 genomes with 5-fold validation (minutes); the sizes are cut to
    keep the suite short, every flag and the dataset stay as written.
    """
    command = _readme_search_command()
    assert "--resume" in README.read_text()
    small = {"--population": "4", "--generations": "2", "--folds": "2"}
    words = command.split()
    for flag, value in small.items():
        assert flag in words, f"the README command lost {flag}"
        words[words.index(flag) + 1] = value
    program = shutil.which("nastoolkit", path=str(Path(sys.executable).parent))
    script = "import sys; from nastoolkit.cli import main; sys.exit(main())"
    base = [program] if program else [sys.executable, "-c", script]
    for extra in ([], ["--resume"]):
        result = subprocess.run(
            base + words[1:] + extra,
            check=False,
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = words[words.index("--checkpoint") + 1]
    assert (tmp_path / checkpoint).stat().st_size > 0


def test_readme_says_how_to_use_the_virtual_environment():
    readme = README.read_text()
    assert "source .venv/bin/activate" in readme and ".venv/bin/python" in readme
    assert "make docs" in readme and "docs/_build/html" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^VENV \?= \.venv$", makefile, flags=re.MULTILINE), "make's venv moved"


def test_make_docs_target_builds_into_docs_build_html():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'pip install --quiet -e ".[docs]"' in dry
    assert "-m sphinx -b html" in dry and "docs docs/_build/html" in dry


def test_doc_pages_point_only_inside_the_repository():
    """Links and relative paths in docs/*.md and README.md resolve to files of this repository."""
    for path in [README, *DOC_PAGES]:
        text = path.read_text()
        assert "steering" not in text and "shared/" not in text, path.name
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor on the same page
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name} points outside: {target}"
            assert resolved.exists(), f"{path.name} points at a missing file: {target}"


def _copy_docs_sources(target: Path) -> None:
    shutil.copytree(
        ROOT / "docs",
        target,
        ignore=lambda folder, names: [
            n for n in names if n in GENERATED and Path(folder) == ROOT / "docs"
        ],
    )


@pytest.mark.slow
def test_sphinx_site_builds_with_warnings_as_errors(tmp_path):
    """``make docs``'s build, tutorials executed, from a copy of docs/ into a temporary folder.

    ``-W --keep-going`` turns every warning (a reST error in a docstring, a notebook cell that
    raises, a broken toctree) into a failure and lists them all; nitpicky ``-n`` is not used
    because docstrings name types outside the project (NumPy, matplotlib) with no offline
    inventory to resolve them against.
    """
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    pytest.importorskip("numpydoc")
    pytest.importorskip("pydata_sphinx_theme")
    source, html = tmp_path / "docs", tmp_path / "html"
    _copy_docs_sources(source)
    env = _environment()
    env["NASTOOLKIT_NOTEBOOKS"] = str(ROOT / "notebooks")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-W",
            "--keep-going",
            "-q",
            str(source),
            str(html),
        ],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # Sphinx's own lines ("file:line: WARNING: ..."), not the notebook kernels' log lines
    warnings = [
        line
        for line in result.stderr.splitlines()
        if re.search(r"(^|: )(WARNING|ERROR|CRITICAL): ", line)
    ]
    assert result.returncode == 0, "\n".join(warnings) or result.stderr[-3000:]
    api = html / "api"
    for module in (
        "nastoolkit.regularizers",
        "nastoolkit.models",
        "nastoolkit.nas",
        "nastoolkit.viz.surfaces",
        "nastoolkit.widgets.descent",
    ):
        assert (api / f"{module}.html").exists(), module
    page = (api / "nastoolkit.regularizers.html").read_text()
    assert "OrthogonalRegularizer" in page and "Examples" in page
    for notebook in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        rendered = (html / "tutorials" / f"{notebook.stem}.html").read_text()
        assert "cell_output" in rendered, f"{notebook.name} rendered without outputs"


def _sphinx_extension():
    spec = importlib.util.spec_from_file_location(
        "nastoolkit_sphinx", ROOT / "docs" / "_ext" / "nastoolkit_sphinx.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pipes_are_escaped_in_prose_only():
    """``|w|`` in prose becomes text; literal blocks, doctests and code spans keep their pipes."""
    lines = [
        "P(w) = l1 sum |w| and ||x||_2, see ``a | b`` and :math:`|x|`.",
        "",
        "Formula::",
        "",
        "    y = |x|",
        "",
        ">>> abs(-1) | 2",
        "3",
        "",
        "after |z|",
    ]
    _sphinx_extension().escape_pipes(lines)
    assert lines[0] == r"P(w) = l1 sum \|w\| and \|\|x\|\|_2, see ``a | b`` and :math:`|x|`."
    assert lines[4] == "    y = |x|"
    assert lines[6:8] == [">>> abs(-1) | 2", "3"]
    assert lines[9] == r"after \|z\|"


def test_private_base_classes_show_their_public_ancestor():
    class Public:
        pass

    class _Helper(Public):
        pass

    class Other:
        pass

    public_bases = _sphinx_extension().public_bases
    assert public_bases([_Helper, Other]) == [Public, Other]
    assert public_bases([type("_Lonely", (), {})]) == [object]
