"""Optimizer classes: float64 references, recorded Keras 3 / torch.optim trajectories, a
convergence table over 2-D objectives, schedules, weight decay, per-variable state, configs, errors.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import objectives, optimizers
from nastoolkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

HERE = Path(__file__).parent


def _load_references():
    """The float64 references of the published rules live beside the kernel tests; load that file
    by path so the two test directories need no package or conftest between them."""
    spec = importlib.util.spec_from_file_location(
        "_optimizer_references", HERE / "kernels" / "test_numpy_updates.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_references()


class ExponentialDecayStandIn:
    """lr0 * rate^(step / decay_steps), the Keras ExponentialDecay formula, as a stand-in schedule
    (any callable step -> float with get_config works as a learning rate)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase

    def __call__(self, step):
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


def exponential_decay_class():
    """nastoolkit.schedules.ExponentialDecay once it exists, else the stand-in."""
    try:
        from nastoolkit.schedules import ExponentialDecay
    except ImportError:
        return ExponentialDecayStandIn
    return ExponentialDecay


# --- (a) each optimizer class against the float64 reference for 100 steps ---------------------


class Reference:
    """A float64 replay of one optimizer's rule on one variable, from the kernel-test references."""

    def __init__(self, optimizer, shape):
        self.optimizer = optimizer
        self.a = np.zeros(shape)
        self.b = np.zeros(shape)
        if isinstance(optimizer, Adagrad):
            self.a += optimizer.initial_accumulator_value

    def step(self, w, g, lr, t):
        o = self.optimizer
        wd = o.weight_decay or 0.0
        if isinstance(o, SGD) and o.momentum == 0:
            return ref.sgd_reference(w, g, lr, wd)
        if isinstance(o, SGD):
            w, self.a = ref.momentum_reference(w, g, self.a, lr, o.momentum, o.nesterov, wd)
        elif isinstance(o, Adam):
            w, self.a, self.b = ref.adam_reference(
                w, g, self.a, self.b, t, lr, o.beta_1, o.beta_2, o.epsilon, wd
            )
        elif isinstance(o, RMSprop):
            w, self.a, self.b = ref.rmsprop_reference(
                w, g, self.a, self.b, lr, o.rho, o.epsilon, o.momentum, wd
            )
        else:
            w, self.a = ref.adagrad_reference(w, g, self.a, lr, o.epsilon, wd)
        return w


def make_optimizers(learning_rate=0.02):
    """Every optimizer with non-default settings (momentum, nesterov, weight decay, large eps)."""
    return [
        SGD(learning_rate),
        SGD(learning_rate, momentum=0.9, weight_decay=0.05),
        SGD(learning_rate, momentum=0.7, nesterov=True),
        Adam(learning_rate, beta_1=0.8, beta_2=0.95, epsilon=0.05),
        Adam(learning_rate, weight_decay=0.1),
        AdamW(learning_rate),
        RMSprop(learning_rate, rho=0.8, epsilon=0.05),
        RMSprop(learning_rate, momentum=0.5, weight_decay=0.02),
        Adagrad(learning_rate, initial_accumulator_value=0.3, epsilon=0.05, weight_decay=0.01),
    ]


OPTIMIZER_IDS = [
    "sgd",
    "momentum_wd",
    "nesterov",
    "adam_big_eps",
    "adam_wd",
    "adamw",
    "rmsprop_big_eps",
    "rmsprop_momentum_wd",
    "adagrad_wd",
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index", range(9), ids=OPTIMIZER_IDS)
def test_optimizer_matches_float64_reference_with_two_variables(index, dtype):
    """100 steps on two variables of different shapes, each with its own state and gradient."""
    optimizer = make_optimizers()[index]
    rng = np.random.default_rng(index)
    kernel = rng.normal(size=(4, 3)).astype(dtype)
    bias = rng.normal(size=(3,)).astype(dtype)
    variables = [kernel, bias]
    references = [Reference(optimizer, v.shape) for v in variables]
    expected = [v.astype(np.float64) for v in variables]
    for t in range(100):
        grads = [ref.noisy_gradient(e, t, rng_seed=i) for i, e in enumerate(expected)]
        lr = optimizer.current_learning_rate
        expected = [r.step(e, g, lr, t + 1) for r, e, g in zip(references, expected, grads)]
        optimizer.apply_gradients([(g.astype(dtype), v) for g, v in zip(grads, variables)])
    assert optimizer.iterations == 100
    assert variables[0] is kernel and kernel.dtype == dtype
    for variable, wanted in zip(variables, expected):
        np.testing.assert_allclose(variable, wanted, **ref.tolerance(dtype))


# --- (b) against the recorded Keras 3 and torch.optim trajectories -----------------------------

FIXTURE = json.loads((HERE / "fixtures" / "optimizer_trajectories.json").read_text())

# Relative to the largest displacement |w_t - w_0| of the recorded run.
# Keras 3 runs the same equations in float64: only rounding differs (observed <= 3e-16).
# torch.optim SGD (with momentum/Nesterov) equals Keras's form for a constant learning rate.
# torch.optim Adam/AdamW add eps to sqrt(v_hat) = sqrt(v) / sqrt(1 - b2^t), Keras to sqrt(v):
# an effective eps larger by 1/sqrt(1 - b2^t) (31x at t=1) - a relative step change ~eps/|g|,
# observed 9e-7 over 30 steps with eps=1e-7. torch RMSprop/Adagrad use sqrt(v) + eps, Keras
# sqrt(v + eps): observed 4e-8.
TOLERANCE = {
    ("keras", "SGD"): 1e-12,
    ("keras", "Adam"): 1e-12,
    ("keras", "AdamW"): 1e-12,
    ("keras", "RMSprop"): 1e-12,
    ("keras", "Adagrad"): 1e-12,
    ("torch", "SGD"): 1e-12,
    ("torch", "Adam"): 1e-5,
    ("torch", "AdamW"): 1e-5,
    ("torch", "RMSprop"): 1e-6,
    ("torch", "Adagrad"): 1e-6,
}


def build_recorded_optimizer(case):
    arguments = dict(case["arguments"])
    learning_rate = arguments.get("learning_rate")
    if isinstance(learning_rate, dict):
        assert learning_rate["class_name"] == "ExponentialDecay"
        arguments["learning_rate"] = exponential_decay_class()(**learning_rate["config"])
    return getattr(optimizers, case["optimizer"])(**arguments)


@pytest.mark.parametrize(
    "case",
    FIXTURE["cases"],
    ids=[f"{c['source']}-{c['optimizer']}-{i}" for i, c in enumerate(FIXTURE["cases"])],
)
def test_matches_recorded_reference_trajectory(case):
    optimizer = build_recorded_optimizer(case)
    curvature, center = np.array(FIXTURE["curvature"]), np.array(FIXTURE["center"])
    start = np.array(FIXTURE["start"])
    w = start.copy()
    trajectory = []
    for _ in range(FIXTURE["steps"]):
        optimizer.apply_gradients([(curvature * (w - center), w)])
        trajectory.append(w.copy())
    recorded = np.array(case["trajectory"])
    scale = np.abs(recorded - start).max()
    tolerance = TOLERANCE[(case["source"], case["optimizer"])]
    np.testing.assert_allclose(
        np.array(trajectory) - start, recorded - start, rtol=0, atol=tolerance * scale
    )


def test_fixture_covers_every_optimizer_and_stays_small():
    sources = {(c["source"], c["optimizer"]) for c in FIXTURE["cases"]}
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        assert ("keras", name) in sources and ("torch", name) in sources
    assert (HERE / "fixtures" / "optimizer_trajectories.json").stat().st_size < 100_000


# --- (c) the optimizer x objective convergence table (optax style) ----------------------------

QUADRATICS = [objectives.Quadratic(), objectives.IllConditionedQuadratic(condition_number=10)]
ROSENBROCK = objectives.Rosenbrock()

# (id, factory, learning rate on the quadratics, on Rosenbrock); tuned by hand: each converges
# in well under half its step budget (steps needed, measured: quadratics <= 530,
# Rosenbrock <= 6000).
TABLE = [
    ("sgd", lambda lr: SGD(lr), 0.1, 0.002),
    ("momentum", lambda lr: SGD(lr, momentum=0.9), 0.01, 0.001),
    ("nesterov", lambda lr: SGD(lr, momentum=0.9, nesterov=True), 0.03, 0.001),
    ("adam", lambda lr: Adam(lr), 0.1, 0.05),
    ("adamw", lambda lr: AdamW(lr, weight_decay=1e-4), 0.1, 0.05),
    ("rmsprop", lambda lr: RMSprop(lr), 0.1, 0.002),
    ("rmsprop_momentum", lambda lr: RMSprop(lr, momentum=0.9), 0.01, 0.003),
    ("adagrad", lambda lr: Adagrad(lr), 0.3, 0.5),
]


def steps_to_converge(optimizer, surface, budget, tolerance):
    theta = surface.start.copy()
    for step in range(1, budget + 1):
        optimizer.apply_gradients([(surface.gradient(theta), theta)])
        if np.linalg.norm(theta - surface.minimum) < tolerance:
            return step
    return None


@pytest.mark.parametrize("surface", QUADRATICS, ids=lambda s: s.name)
@pytest.mark.parametrize(
    "name, factory, quadratic_lr, rosenbrock_lr", TABLE, ids=[row[0] for row in TABLE]
)
def test_converges_on_quadratics(name, factory, quadratic_lr, rosenbrock_lr, surface):
    steps = steps_to_converge(factory(quadratic_lr), surface, budget=2000, tolerance=1e-3)
    assert steps is not None, f"{name} did not reach the minimum of {surface.name} in 2000 steps"


@pytest.mark.parametrize(
    "name, factory, quadratic_lr, rosenbrock_lr", TABLE, ids=[row[0] for row in TABLE]
)
def test_converges_on_rosenbrock(name, factory, quadratic_lr, rosenbrock_lr):
    steps = steps_to_converge(factory(rosenbrock_lr), ROSENBROCK, budget=12000, tolerance=1e-2)
    assert steps is not None, f"{name} did not reach (1, 1) on Rosenbrock in 12000 steps"


def test_plain_sgd_diverges_above_two_over_the_largest_curvature():
    # the stability limit lr < 2 / kappa of the ill-conditioned quadratic: a property of the rule
    surface = objectives.IllConditionedQuadratic(condition_number=10)
    theta = surface.start.copy()
    optimizer = SGD(0.21)
    for _ in range(50):
        optimizer.apply_gradients([(surface.gradient(theta), theta)])
    assert abs(theta[1]) > abs(surface.start[1])


# --- (d) schedules, weight decay, state, configs and errors ------------------------------------


def test_schedule_is_called_with_iterations_before_the_update():
    calls = []

    def schedule(step):
        calls.append(step)
        return 0.1 / (1 + step)

    optimizer = SGD(learning_rate=schedule)
    w = np.zeros(2)
    for _ in range(3):
        optimizer.apply_gradients([(np.ones(2), w)])
    assert calls == [0, 1, 2]
    np.testing.assert_allclose(w, -(0.1 + 0.05 + 0.1 / 3))
    assert optimizer.current_learning_rate == pytest.approx(0.1 / 4)
    assert optimizer.learning_rate is schedule


def test_exponential_decay_schedule_as_learning_rate():
    schedule = exponential_decay_class()(0.1, decay_steps=2, decay_rate=0.5)
    optimizer = Adam(learning_rate=schedule)
    w = np.ones(3)
    for _ in range(4):
        optimizer.apply_gradients([(np.ones(3), w)])
    assert optimizer.current_learning_rate == pytest.approx(0.1 * 0.5**2)
    # each Adam step moves ~lr when the gradient is constant: sum of lr over steps 0..3
    expected = 1 - sum(0.1 * 0.5 ** (t / 2) for t in range(4))
    np.testing.assert_allclose(w, expected, rtol=1e-5)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam, AdamW, RMSprop, Adagrad])
def test_weight_decay_on_every_optimizer(optimizer_class):
    """With a zero gradient only the decoupled decay acts: w <- w (1 - wd lr) per step."""
    optimizer = optimizer_class(learning_rate=0.1, weight_decay=0.5)
    w = np.full(4, 2.0)
    for _ in range(3):
        optimizer.apply_gradients([(np.zeros(4), w)])
    np.testing.assert_allclose(w, 2.0 * (1 - 0.05) ** 3, rtol=1e-12)
    assert optimizer.get_config()["weight_decay"] == 0.5


def test_adamw_defaults_and_requires_weight_decay():
    assert AdamW().weight_decay == 0.004
    assert Adam().weight_decay is None
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)


def test_keras_defaults():
    assert SGD().get_config() == {
        "name": "SGD",
        "learning_rate": 0.01,
        "weight_decay": None,
        "momentum": 0.0,
        "nesterov": False,
    }
    assert Adam().get_config() == {
        "name": "Adam",
        "learning_rate": 0.001,
        "weight_decay": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
    assert RMSprop().get_config()["rho"] == 0.9 and RMSprop().learning_rate == 0.001
    assert Adagrad().get_config()["initial_accumulator_value"] == 0.1


def test_state_is_kept_per_variable_and_created_on_first_sight():
    optimizer = Adam(0.1)
    a, b = np.ones((3, 2)), np.ones(5)
    optimizer.apply_gradients([(np.ones((3, 2)), a)])
    # b is first seen at step 2: its bias correction uses the global step (Keras), its m starts 0
    optimizer.apply_gradients([(np.ones((3, 2)), a), (np.ones(5), b)])
    assert [id(v) for v in optimizer.variables] == [id(a), id(b)]
    state = optimizer.get_state()
    assert state["iterations"] == 2
    assert state["0/m"].shape == (3, 2) and state["1/m"].shape == (5,)
    np.testing.assert_allclose(state["1/m"], 0.1)  # one update of b: (1 - b1) g
    np.testing.assert_allclose(state["0/m"], 0.19)  # two updates of a
    assert not any(key.endswith("/work") for key in state)


def test_get_state_set_state_round_trip_continues_identically():
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=(6,)) for _ in range(10)]
    first = RMSprop(0.05, momentum=0.5)
    w1 = np.ones(6)
    for g in grads[:5]:
        first.apply_gradients([(g, w1)])
    saved, w_saved = first.get_state(), w1.copy()
    for g in grads[5:]:
        first.apply_gradients([(g, w1)])

    second = RMSprop(0.05, momentum=0.5)
    w2 = w_saved.copy()
    second.set_state(saved, variables=[w2])
    assert second.iterations == 5
    for g in grads[5:]:
        second.apply_gradients([(g, w2)])
    np.testing.assert_array_equal(w1, w2)
    with pytest.raises(ValueError, match="shape"):
        RMSprop(momentum=0.5).set_state(saved, variables=[np.ones(4)])


def test_reset_drops_state_and_iterations():
    optimizer = SGD(0.1, momentum=0.9)
    w = np.zeros(2)
    optimizer.apply_gradients([(np.ones(2), w)])
    optimizer.reset()
    assert optimizer.iterations == 0 and optimizer.variables == []
    w[:] = 0
    optimizer.apply_gradients([(np.ones(2), w)])
    np.testing.assert_allclose(w, -0.1)  # fresh velocity: no carried momentum


@pytest.mark.parametrize("optimizer", make_optimizers(0.03), ids=OPTIMIZER_IDS)
def test_config_round_trip_and_repr(optimizer):
    config = optimizer.get_config()
    json.dumps(config)  # configs are JSON
    clone = type(optimizer).from_config(config)
    assert clone.get_config() == config
    again = optimizers.get(optimizers.serialize(optimizer))
    assert type(again) is type(optimizer) and again.get_config() == config
    text = repr(optimizer)
    assert text.startswith(type(optimizer).__name__ + "(") and "learning_rate=0.03" in text


def test_schedule_config_round_trip_by_class_name():
    schedule_class = exponential_decay_class()
    optimizer = SGD(learning_rate=schedule_class(0.1, 10, 0.9), momentum=0.5)
    config = optimizer.get_config()
    assert config["learning_rate"]["class_name"] == schedule_class.__name__
    json.dumps(config)
    custom = (
        {}
        if schedule_class is not ExponentialDecayStandIn
        else {"ExponentialDecayStandIn": ExponentialDecayStandIn}
    )
    clone = SGD.from_config(config, custom_objects=custom)
    assert isinstance(clone.learning_rate, schedule_class)
    assert clone.get_config() == config
    for step in (0, 7, 25):
        assert clone.learning_rate(step) == pytest.approx(0.1 * 0.9 ** (step / 10))
    with pytest.raises(ValueError, match="Unknown learning-rate schedule"):
        SGD.from_config({"learning_rate": {"class_name": "NoSuchDecay", "config": {}}})


def test_get_by_name_instance_and_config():
    assert isinstance(optimizers.get("ADAM"), Adam)
    assert isinstance(optimizers.get("adamw"), AdamW)
    assert isinstance(optimizers.get("rmsprop"), RMSprop)
    assert isinstance(optimizers.get("Adagrad"), Adagrad)
    assert isinstance(optimizers.get("sgd"), SGD)
    instance = SGD(0.3)
    assert optimizers.get(instance) is instance
    from_dict = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.3}})
    assert from_dict.learning_rate == 0.3
    assert isinstance(optimizers.get(RMSprop), RMSprop)
    with pytest.raises(ValueError, match=r"\['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'\]"):
        optimizers.get("lion")
    with pytest.raises(TypeError, match="Received: optimizer=3"):
        optimizers.get(3)


def test_learning_rate_can_be_set_later():
    optimizer = SGD(0.1)
    optimizer.learning_rate = 0.01
    assert optimizer.current_learning_rate == 0.01
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate = -1


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: SGD(learning_rate=0),
            r"learning_rate must be a finite number > 0.*Or pass a schedule",
        ),
        (lambda: SGD(learning_rate=-1), r"Received: learning_rate=-1"),
        (lambda: Adam(learning_rate=float("nan")), "learning_rate"),
        (lambda: Adam(learning_rate="fast"), "learning_rate"),
        (lambda: Adam(beta_1=1.0), r"beta_1 must be a number in \[0, 1\)"),
        (lambda: Adam(beta_2=-0.1), "beta_2"),
        (lambda: Adam(epsilon=-1e-7), "epsilon must be a finite number >= 0"),
        (lambda: SGD(momentum=1.5), r"momentum must be a number in \[0, 1\]"),
        (lambda: RMSprop(rho=1.0), "rho"),
        (lambda: RMSprop(momentum=-0.5), "momentum"),
        (lambda: Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
        (lambda: Adam(weight_decay=-0.1), "weight_decay must be a finite number >= 0"),
        (lambda: SGD(learning_rate=True), "learning_rate"),
    ],
)
def test_bad_hyper_parameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_nesterov_must_be_a_bool():
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        SGD(momentum=0.9, nesterov="yes")


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([(None, np.zeros(2))], r"grads_and_vars\[0\] has gradient None"),
        ([(np.zeros(3), np.zeros(2))], r"gradient.shape=\(3,\), variable.shape=\(2,\)"),
        ([(np.zeros(2, int), np.zeros(2))], "floating dtype"),
        ([(np.zeros(2), np.zeros(2, int))], "floating dtype"),
        ([(np.zeros(2), [0.0, 0.0])], "NumPy or CuPy arrays"),
        ([], "at least one"),
    ],
)
def test_bad_gradients_are_named(pairs, message):
    with pytest.raises(ValueError, match=message):
        Adam().apply_gradients(pairs)


def test_bad_gradients_are_caught_after_the_first_step_too():
    optimizer = SGD(0.1)
    w = np.zeros(2)
    optimizer.apply_gradients([(np.ones(2), w)])
    with pytest.raises(ValueError, match="gradient None"):
        optimizer.apply_gradients([(None, w)])
    with pytest.raises(ValueError, match="gradient.shape"):
        optimizer.apply_gradients([(np.ones(3), w)])
    with pytest.raises(ValueError, match="NumPy or CuPy"):
        optimizer.apply_gradients([([1.0, 1.0], w)])
    assert optimizer.iterations == 1


def test_read_only_variable_is_rejected():
    w = np.zeros(2)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD().apply_gradients([(np.ones(2), w)])
