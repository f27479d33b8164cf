"""Backend selection: explicit choices, the environment variable, clear errors without a GPU."""

import subprocess
import sys

import numpy as np
import pytest

from nastoolkit import backend


@pytest.fixture(autouse=True)
def restore_backend():
    yield
    backend.use("numpy")


def test_numpy_choice():
    info = backend.use("numpy")
    assert info.name == "numpy" and info.xp is np and backend.xp() is np
    assert backend.describe().startswith("numpy:")


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="one of"):
        backend.use("tpu")


def test_env_var_is_read(monkeypatch):
    monkeypatch.setenv("NASTOOLKIT_BACKEND", "bogus")
    with pytest.raises(ValueError, match="NASTOOLKIT_BACKEND"):
        backend.use()
    monkeypatch.setenv("NASTOOLKIT_BACKEND", "NumPy")
    assert backend.use().name == "numpy"


def test_auto_falls_back_to_numpy_and_says_why(monkeypatch):
    probe = backend.GpuProbe(False, "no CUDA driver or device found (test)", True)
    monkeypatch.setattr(backend, "probe_gpu", lambda refresh=False: probe)
    with pytest.warns(RuntimeWarning, match="no CUDA driver"):
        info = backend.use("auto")
    assert info.name == "numpy" and "no CUDA driver" in info.reason


def test_cupy_without_gpu_names_the_cause(monkeypatch):
    probe = backend.GpuProbe(False, "NVRTC (the CUDA runtime compiler) is missing", True)
    monkeypatch.setattr(backend, "probe_gpu", lambda refresh=False: probe)
    with pytest.raises(backend.BackendError, match="NVRTC"):
        backend.use("cupy")


def test_real_probe_without_gpu_is_not_usable_here():
    probe = backend.probe_gpu(refresh=True)
    if probe.usable:
        pytest.skip("a GPU is usable on this machine")
    assert probe.detail  # a reason is always given


def test_array_helpers():
    a = np.arange(3.0)
    assert backend.array_module(a) is np and not backend.is_cupy_array(a)
    assert backend.to_numpy([1, 2]).tolist() == [1, 2]
    assert backend.to_device(a, like=np) is a


def test_import_nastoolkit_stays_light():
    code = (
        "import sys, nastoolkit, nastoolkit.models, nastoolkit.optimizers;"
        "heavy = [m for m in ('ipywidgets', 'deap', 'dask', 'cupy', 'distributed') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def blas_threads() -> list:
    """The thread count of every BLAS library loaded (skips the test without threadpoolctl)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


def test_single_blas_thread_limits_and_restores():
    before = blas_threads()
    with backend.single_blas_thread():
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before
    with backend.single_blas_thread(enabled=False):
        assert blas_threads() == before


def test_nested_single_blas_thread_keeps_one_thread_until_the_outer_block_ends():
    before = blas_threads()
    with backend.single_blas_thread():
        with backend.single_blas_thread():
            assert all(n == 1 for n in blas_threads())
        assert all(n == 1 for n in blas_threads())
        with backend.single_blas_thread(enabled=False):
            assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_a_nested_block_limits_a_library_loaded_inside_the_outer_one():
    """SciPy's own OpenBLAS, imported inside a block, gets its limit from the next block."""
    code = (
        "import threadpoolctl; from nastoolkit import backend\n"
        "with backend.single_blas_thread():\n"
        "    import scipy.linalg\n"
        "    with backend.single_blas_thread():\n"
        "        print([p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['user_api'] == 'blas'])"
    )
    pytest.importorskip("scipy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(eval(out.stdout)) == {1}


def test_small_model_fits_on_one_blas_thread():
    pytest.importorskip("threadpoolctl")
    from nastoolkit.callbacks import Callback
    from nastoolkit.layers import Dense
    from nastoolkit.models import Sequential

    seen = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.extend(blas_threads())

    model = Sequential([Dense(8, input_shape=(3,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((16, 3)), np.zeros((16, 1)), epochs=1, callbacks=[Spy()], verbose=0)
    assert seen and all(n == 1 for n in seen)


def test_single_blas_thread_covers_libraries_loaded_later():
    """SciPy brings its own OpenBLAS; a limit taken after it loads must cover it too."""
    code = (
        "import threadpoolctl; from nastoolkit import backend\n"
        "with backend.single_blas_thread(): pass\n"
        "import scipy.linalg\n"
        "with backend.single_blas_thread():\n"
        "    print([p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['user_api'] == 'blas'])"
    )
    pytest.importorskip("scipy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(eval(out.stdout)) == {1}


def test_describe_says_which_path_fit_takes_and_why(monkeypatch):
    """Each sentence is checked against the path fit really takes."""
    from nastoolkit import engine
    from nastoolkit.kernels import _engine
    from nastoolkit.layers import Dense
    from nastoolkit.models import Sequential

    backend.use("numpy")
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1)], seed=0)
    model.compile(optimizer="adam", loss="mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 1), np.float32)
    epochs = []
    run = engine.fit_epoch
    monkeypatch.setattr(engine, "fit_epoch", lambda *args: epochs.append(1) or run(*args))

    def fit_path():
        epochs.clear()
        model.fit(x, y, epochs=1, verbose=0)
        return "engine" if epochs else "numpy"

    monkeypatch.setenv(engine.FIT_SWITCH, "0")
    assert "; fit: NumPy path (NASTOOLKIT_FIT_ENGINE=0 asks for the NumPy path)" in (
        backend.describe()
    )
    assert fit_path() == "numpy"
    monkeypatch.delenv(engine.FIT_SWITCH)
    if _engine.available():
        assert "; fit: compiled engine (" in backend.describe(model)
        assert fit_path() == "engine"
    model.compile(optimizer="adam", loss="kl_divergence")
    assert "fit: NumPy path (not compiled: loss KLDivergence" in backend.describe(model)
    assert fit_path() == "numpy"
    model.compile(optimizer="adam", loss="mse")
    try:
        monkeypatch.setattr(_engine, "_compiler", lambda: None)
        _engine._reset()
        text = backend.describe()
        assert "fit: NumPy path (the compiled engine is unavailable: " in text
        assert "no C++ compiler" in text
        assert fit_path() == "numpy"
    finally:
        monkeypatch.undo()
        _engine._reset()
    monkeypatch.setattr(backend, "current", lambda: backend.BackendInfo("cupy", np, "a GPU (test)"))
    assert backend.describe() == (
        "cupy: a GPU (test); fit: CuPy path (the compiled engine is a CPU path)"
    )
