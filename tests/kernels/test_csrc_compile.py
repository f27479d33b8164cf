"""Every csrc/*.cu compiles with nvcc for the architectures we claim, warning- and spill-free.

The text compiled is what NVRTC receives at run time (``_sources.expand_includes``: headers
inlined), with the same language options as ``_cuda.NVRTC_OPTIONS``. ptxas reports registers and
spills per kernel; the table is printed in the test output. Skipped, with the reason, where nvcc
is absent (CuPy compiles at run time, so users never need it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from nastoolkit.kernels import _sources

NVCC = shutil.which("nvcc")
pytestmark = pytest.mark.skipif(
    NVCC is None,
    reason="nvcc not found on PATH: cannot check that "
    "csrc/*.cu compile (install the CUDA toolkit to run this check)",
)
ARCHS = ("sm_80", "sm_90")
OPTIONS = [
    "-std=c++17",
    "-fmad=false",
    "-Werror",
    "all-warnings",
    "-Xptxas",
    "-warn-spills,-warn-lmem-usage",
    "--resource-usage",
]
FUNCTION = re.compile(
    r"Function properties for (\w+)\s*\n\s*(\d+) bytes stack frame, "
    r"(\d+) bytes spill stores, (\d+) bytes spill loads"
)
REGISTERS = re.compile(r"Function properties for (\w+).*?Used (\d+) registers", re.DOTALL)


def compile_cubin(cu_file: str, arch: str, tmp_dir) -> subprocess.CompletedProcess:
    source = tmp_dir / f"{arch}-{cu_file}"
    source.write_text(_sources.expand_includes(cu_file))
    command = [
        NVCC,
        "-cubin",
        f"-arch={arch}",
        *OPTIONS,
        "-x",
        "cu",
        str(source),
        "-o",
        str(source.with_suffix(".cubin")),
    ]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def resource_usage(output: str) -> dict[str, tuple[int, int, int, int]]:
    """{kernel: (registers, stack bytes, spill store bytes, spill load bytes)} from ptxas."""
    usage = {}
    for block in output.split("ptxas info    : Function properties for ")[1:]:
        text = "Function properties for " + block
        frame = FUNCTION.search(text)
        registers = re.search(r"Used (\d+) registers", text)
        if frame and registers:
            usage[frame.group(1)] = (
                int(registers.group(1)),
                int(frame.group(2)),
                int(frame.group(3)),
                int(frame.group(4)),
            )
    return usage


def test_every_kernel_compiles_without_warnings_or_spills(tmp_path, capsys):
    jobs = [(f, arch) for f in _sources.KERNELS for arch in ARCHS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: compile_cubin(*job, tmp_path), jobs))
    rows, failures = [], []
    for (cu_file, arch), result in zip(jobs, results):
        output = result.stdout + result.stderr
        if result.returncode != 0:
            failures.append(f"{cu_file} for {arch} failed:\n{output}")
            continue
        usage = resource_usage(output)
        expected = {f"{name}_{s}" for name in _sources.KERNELS[cu_file] for s in ("f32", "f64")}
        if set(usage) != expected:
            failures.append(
                f"{cu_file} ({arch}) defines {sorted(usage)}; _sources.KERNELS "
                f"lists {sorted(expected)}"
            )
        for kernel, (registers, stack, stores, loads) in sorted(usage.items()):
            rows.append(
                f"{arch}  {kernel:24s} {registers:4d} regs  {stack:4d} B stack  "
                f"{stores:4d} B spill st  {loads:4d} B spill ld"
            )
            if stores or loads:
                failures.append(f"{kernel} ({arch}) spills {stores} B / {loads} B")
    with capsys.disabled():
        print("\nptxas resource usage (nvcc " + ", ".join(OPTIONS[:2]) + "):")
        print("\n".join(rows))
    assert not failures, "\n".join(failures)
