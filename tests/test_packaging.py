"""Packaging: the conda environments agree with pyproject, and csrc/ is found from this install."""

import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return {
        re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def _conda_names(path):
    yaml = pytest.importorskip("yaml")
    deps = yaml.safe_load(path.read_text())["dependencies"]
    return {
        re.split(r"[<>= ]", d, maxsplit=1)[0].lower().replace("_", "-")
        for d in deps
        if isinstance(d, str)
    }


@pytest.mark.parametrize("env", ["environment.yml", "binder/environment.yml"])
def test_conda_environments_cover_the_core_dependencies(env):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    missing = _names(project["dependencies"]) - _conda_names(ROOT / env)
    assert not missing, f"{env} lacks {sorted(missing)} that pyproject requires"


def test_local_environment_has_the_gpu_and_notebook_extras():
    names = _conda_names(ROOT / "environment.yml")
    assert {"cupy", "jupyterlab", "ipywidgets", "deap", "distributed"} <= names


def test_csrc_sources_are_found_from_this_install():
    from nastoolkit.kernels import _sources

    found = {p.name for p in Path(_sources.csrc_dir()).iterdir()}
    assert {"optim.cu", "dense.cu", "dropout.cu"} <= found


def test_readme_commands_exist_and_ci_calls_the_test_command():
    import shutil
    import subprocess

    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "lab"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "jupyter lab notebooks/" in dry
    dry = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    # the README's test command lints before it tests, so CI fails on unformatted code too
    assert "ruff check ." in dry and "ruff format --check ." in dry and "pytest" in dry


def test_readme_quick_example_runs(tmp_path, monkeypatch):
    """The README's first example, with a 2-epoch budget, runs as written."""
    readme = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)[0]
    assert "epochs=100" in code
    monkeypatch.chdir(tmp_path)
    namespace = {}
    # the README's own code, run as written (with a 2-epoch budget)
    exec(compile(code.replace("epochs=100", "epochs=2"), "README.md", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "model.npz").exists()
    assert namespace["loss"] < float(namespace["y_val"].var())
