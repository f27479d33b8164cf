"""Binder config: repo2docker accepts it, and it provides every import the notebooks make."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"

# Import name -> conda-forge package name, where they differ or the module ships inside another.
CONDA_NAME = {
    "sklearn": "scikit-learn",
    "IPython": "ipython",  # a dependency of jupyterlab/ipywidgets
    "mpl_toolkits": "matplotlib",
    "ipympl": "ipympl",
}
# Provided by any Python, or pulled in by the packages listed (ipywidgets needs ipython).
ALWAYS_THERE = set(sys.stdlib_module_names) | {"IPython", "nastoolkit"}
# Imported only where a GPU is usable (Binder has none), behind backend.probe_gpu().usable.
GPU_ONLY = {"cupy"}


def _environment_packages() -> set[str]:
    names = set()
    for line in (BINDER / "environment.yml").read_text().splitlines():
        line = line.strip()
        if line.startswith("- ") and not line.endswith(":"):
            spec = line[2:].strip()
            for separator in "<>=! ":
                spec = spec.split(separator)[0]
            names.add(spec.lower())
    return names


def _notebook_imports(path: Path) -> set[str]:
    notebook = json.loads(path.read_text())
    modules = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # IPython magics (%matplotlib widget, !pip) are not Python: drop those lines.
        code = "\n".join(
            line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_environment_has_the_notebook_stack():
    packages = _environment_packages()
    assert {
        "python",
        "numpy",
        "matplotlib",
        "ipywidgets",
        "jupyterlab_widgets",
        "jupyterlab",
        "ipympl",
        "deap",
        "scikit-learn",
        "dask",
        "distributed",
        "tqdm",
    } <= packages
    text = (BINDER / "environment.yml").read_text()
    assert "conda-forge" in text and "python=3.11" in text and "ipywidgets>=8" in text


def test_postbuild_installs_the_package_without_touching_dependencies():
    postbuild = BINDER / "postBuild"
    assert postbuild.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "pip install --no-deps -e ." in postbuild.read_text()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda path: path.name
)
def test_every_notebook_import_is_provided(path):
    packages = _environment_packages()
    missing = sorted(
        module
        for module in _notebook_imports(path) - ALWAYS_THERE - GPU_ONLY
        if CONDA_NAME.get(module, module).lower().replace("_", "-")
        not in {p.replace("_", "-") for p in packages}
    )
    assert not missing, (
        f"{path.name} imports {missing}, which binder/environment.yml does not "
        "provide: add the conda-forge package there (and to pyproject extras)"
    )


def test_repo2docker_builds_a_dockerfile_from_binder_config(tmp_path):
    repo2docker = shutil.which("repo2docker") or str(Path(sys.executable).parent / "repo2docker")
    if not Path(repo2docker).exists():
        pytest.skip("jupyter-repo2docker is not installed (pip install jupyter-repo2docker)")
    # A copy of just what repo2docker reads, so other files changing mid-test cannot matter.
    shutil.copytree(BINDER, tmp_path / "binder")
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, tmp_path / name)
    result = subprocess.run(
        [repo2docker, "--no-build", "--debug", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dockerfile = result.stdout + result.stderr
    assert "binder/environment.yml" in dockerfile
    assert "binder/postBuild" in dockerfile
