"""losses: values against float64 closed forms and torch, gradients against finite differences,
logit stability, and target validation."""

import json
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import losses

EPS = 1e-7


# --- float64 references, written per sample as the equations read ---------------------------


def ref_mse(y, p):
    return np.mean([np.mean((pi - yi) ** 2) for yi, pi in zip(y, p)])


def ref_mae(y, p):
    return np.mean([np.mean(np.abs(pi - yi)) for yi, pi in zip(y, p)])


def ref_bce(y, p):
    q = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)))


def ref_bce_logits(y, z):
    return ref_bce(y, 1 / (1 + np.exp(-z)))


def ref_cce(y, p):
    q = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return np.mean([-np.sum(yi * np.log(qi)) for yi, qi in zip(y, q)])


def ref_cce_logits(y, z):
    log_softmax = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return np.mean(-np.sum(y * log_softmax, axis=-1))


def make_data(rng, kind, n=6, d=4):
    """(y_true, y_pred) in float64 for each loss kind, predictions away from clip limits."""
    if kind in ("mse", "mae"):
        return rng.normal(size=(n, d)), rng.normal(size=(n, d))
    if kind == "bce":
        return (rng.random((n, d)) < 0.5).astype(float), rng.uniform(0.05, 0.95, (n, d))
    if kind == "bce_logits":
        return rng.random((n, d)), rng.normal(0, 3, (n, d))
    onehot = np.eye(d)[rng.integers(0, d, n)]
    if kind == "cce":  # unnormalised rows exercise the normalisation in the gradient
        return onehot, rng.uniform(0.2, 1.0, (n, d))
    return onehot, rng.normal(0, 3, (n, d))


CASES = [
    ("mse", losses.MeanSquaredError(), ref_mse),
    ("mae", losses.MeanAbsoluteError(), ref_mae),
    ("bce", losses.BinaryCrossentropy(), ref_bce),
    ("bce_logits", losses.BinaryCrossentropy(from_logits=True), ref_bce_logits),
    ("cce", losses.CategoricalCrossentropy(), ref_cce),
    ("cce_logits", losses.CategoricalCrossentropy(from_logits=True), ref_cce_logits),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("kind, loss, ref", CASES, ids=IDS)
def test_value_matches_closed_form(kind, loss, ref):
    y, p = make_data(np.random.default_rng(0), kind)
    assert loss(y, p) == pytest.approx(ref(y, p), rel=1e-12)
    value, _ = loss.value_and_grad(y, p)
    assert value == pytest.approx(ref(y, p), rel=1e-12)


def finite_difference(ref, y, p, h=1e-6):
    grad = np.zeros_like(p)
    for j in np.ndindex(p.shape):
        plus, minus = p.copy(), p.copy()
        plus[j] += h
        minus[j] -= h
        grad[j] = (ref(y, plus) - ref(y, minus)) / (2 * h)
    return grad


@pytest.mark.parametrize("kind, loss, ref", CASES, ids=IDS)
def test_gradient_matches_finite_differences(kind, loss, ref):
    y, p = make_data(np.random.default_rng(1), kind)
    _, grad = loss.value_and_grad(y, p)
    assert grad.shape == p.shape
    np.testing.assert_allclose(grad, finite_difference(ref, y, p), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("kind, loss, ref", CASES, ids=IDS)
def test_gradient_written_into_grad_out(kind, loss, ref):
    y, p = make_data(np.random.default_rng(2), kind)
    expected = loss.value_and_grad(y, p)[1]
    grad_out = np.full_like(p, np.nan)
    _, grad = loss.value_and_grad(y, p, grad_out=grad_out)
    assert grad is grad_out
    np.testing.assert_allclose(grad_out, expected, rtol=1e-14)


def test_float32_predictions_keep_float32_gradients():
    rng = np.random.default_rng(3)
    y, p = make_data(rng, "bce")
    value, grad = losses.BinaryCrossentropy().value_and_grad(y, p.astype(np.float32))
    assert grad.dtype == np.float32
    assert value == pytest.approx(ref_bce(y, p), rel=1e-5)


@pytest.mark.parametrize(
    "loss",
    [
        losses.BinaryCrossentropy(from_logits=True),
        losses.CategoricalCrossentropy(from_logits=True),
        losses.SparseCategoricalCrossentropy(from_logits=True),
    ],
    ids=["binary", "categorical", "sparse"],
)
def test_logits_of_1e4_are_stable(loss):
    z = np.array([[1e4, -1e4], [-1e4, 1e4]])
    y = (
        np.array([1, 0])
        if isinstance(loss, losses.SparseCategoricalCrossentropy)
        else np.array([[0.0, 1.0], [1.0, 0.0]])
    )
    value, grad = loss.value_and_grad(y, z)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    if isinstance(loss, losses.BinaryCrossentropy):
        # every element is wrong by 1e4 nats; gradient (sigmoid(z) - y) / N = +-1/4
        assert value == pytest.approx(1e4)
        np.testing.assert_allclose(grad, [[0.25, -0.25], [-0.25, 0.25]])
    else:  # each row is wrong by a margin of 2e4; gradient (softmax - onehot) / n
        assert value == pytest.approx(2e4)
        np.testing.assert_allclose(grad, [[0.5, -0.5], [-0.5, 0.5]])


def test_binary_crossentropy_clips_probabilities_like_keras():
    y = np.array([[1.0], [0.0], [1.0]])
    p = np.array([[0.0], [1.0], [0.5]])
    value, grad = losses.BinaryCrossentropy().value_and_grad(y, p)
    assert value == pytest.approx((-2 * np.log(EPS) - np.log(0.5)) / 3, rel=1e-6)
    # the clipped entries have zero derivative; the free one is (q - y) / (q (1 - q)) / N
    np.testing.assert_allclose(grad, [[0.0], [0.0], [-2.0 / 3]], rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_equals_categorical_on_one_hot_labels(from_logits):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 5, 8)
    p = rng.normal(size=(8, 5)) if from_logits else rng.uniform(0.1, 1.0, (8, 5))
    dense = losses.CategoricalCrossentropy(from_logits=from_logits)
    sparse = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    v1, g1 = dense.value_and_grad(np.eye(5)[labels], p)
    v2, g2 = sparse.value_and_grad(labels, p)
    v3, g3 = sparse.value_and_grad(labels.reshape(-1, 1).astype(np.float64), p)
    assert v1 == pytest.approx(v2, rel=1e-12) and v2 == pytest.approx(v3, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g2, g3, rtol=1e-12, atol=1e-15)


def test_sparse_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 6)
    p = rng.uniform(0.2, 1.0, (6, 4))
    _, grad = losses.SparseCategoricalCrossentropy().value_and_grad(labels, p)
    expected = finite_difference(lambda y, q: ref_cce(np.eye(4)[y], q), labels, p)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-9)


def test_values_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    t = torch.from_numpy
    for _ in range(3):
        y, p = make_data(rng, "mse")
        assert losses.MeanSquaredError()(y, p) == pytest.approx(F.mse_loss(t(p), t(y)).item())
        assert losses.MeanAbsoluteError()(y, p) == pytest.approx(F.l1_loss(t(p), t(y)).item())
        y, p = make_data(rng, "bce")
        assert losses.BinaryCrossentropy()(y, p) == pytest.approx(
            F.binary_cross_entropy(t(p), t(y)).item()
        )
        y, z = make_data(rng, "bce_logits")
        assert losses.BinaryCrossentropy(from_logits=True)(y, z) == pytest.approx(
            F.binary_cross_entropy_with_logits(t(z), t(y)).item()
        )
        y, z = make_data(rng, "cce_logits")
        labels = y.argmax(axis=-1)
        expected = F.cross_entropy(t(z), t(labels)).item()
        assert losses.CategoricalCrossentropy(from_logits=True)(y, z) == pytest.approx(expected)
        assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z) == pytest.approx(
            expected
        )
        p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
        assert losses.SparseCategoricalCrossentropy()(labels, p) == pytest.approx(expected)


def test_value_and_grad_accepts_flat_targets_and_rejects_mismatch():
    y = np.array([1.0, 2.0, 3.0])
    p = np.array([[1.5], [2.0], [2.0]])
    value, grad = losses.MeanSquaredError().value_and_grad(y, p)
    assert value == pytest.approx((0.25 + 1.0) / 3)
    np.testing.assert_allclose(grad, [[1 / 3], [0.0], [-2 / 3]])
    with pytest.raises(ValueError, match="y_true.shape"):
        losses.MeanSquaredError()(np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="label"):
        losses.SparseCategoricalCrossentropy()(np.zeros(4, int), np.full((3, 2), 0.5))


# --- check_targets ---------------------------------------------------------------------------


def test_check_targets_reshapes_single_output_targets():
    y = losses.MeanSquaredError().check_targets(np.arange(4), 1)
    assert y.shape == (4, 1) and y.dtype.kind == "f"
    y = losses.BinaryCrossentropy().check_targets([0, 1, 1], 1)
    np.testing.assert_array_equal(y, [[0.0], [1.0], [1.0]])


def test_check_targets_rejects_wrong_width():
    with pytest.raises(ValueError, match=r"y must have shape \(n, 3\).*y.shape=\(4, 2\)"):
        losses.MeanSquaredError().check_targets(np.zeros((4, 2)), 3)
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy"):
        losses.CategoricalCrossentropy().check_targets(np.array([0, 2, 1]), 3)


def test_check_targets_rejects_bad_values():
    with pytest.raises(ValueError, match="finite"):
        losses.MeanSquaredError().check_targets(np.array([[1.0], [np.nan]]), 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.BinaryCrossentropy().check_targets(np.array([0, 1, 2]), 1)


def test_check_targets_sparse_labels():
    loss = losses.SparseCategoricalCrossentropy()
    y = loss.check_targets(np.array([[0], [2], [1]]), 3)
    assert y.shape == (3,) and y.dtype == np.int64
    np.testing.assert_array_equal(loss.check_targets(np.array([0.0, 2.0]), 3), [0, 2])
    with pytest.raises(ValueError, match=r"\[0, 3\).*\[0, 3\]"):
        loss.check_targets(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="integer"):
        loss.check_targets(np.array([0.5, 1.0]), 3)
    with pytest.raises(ValueError, match="y.shape"):
        loss.check_targets(np.eye(3), 3)
    with pytest.raises(ValueError, match="output_dim"):
        loss.check_targets(np.array([0, 1]), 0)


# --- lookup and configs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mse", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ],
)
def test_get_by_name(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert losses.get(loss) is loss


def test_get_errors_and_round_trip():
    with pytest.raises(ValueError, match="mse"):
        losses.get("hinge")
    with pytest.raises(TypeError, match="loss"):
        losses.get(1.0)
    with pytest.raises(TypeError, match="from_logits"):
        losses.BinaryCrossentropy(from_logits="yes")
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    config = json.loads(json.dumps(losses.serialize(loss)))
    again = losses.deserialize(config)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    # Keras 3's keys: the reduction is part of every loss's config
    assert loss.get_config() == {
        "name": "sparse_categorical_crossentropy",
        "reduction": "sum_over_batch_size",
        "from_logits": True,
        "ignore_class": None,
    }


# --- fused with the output activation ----------------------------------------------------------


@pytest.mark.parametrize(
    "loss,act,make_y",
    [
        (losses.SparseCategoricalCrossentropy(), "softmax", lambda r: r.integers(0, 4, 6)),
        (losses.CategoricalCrossentropy(), "softmax", lambda r: np.eye(4)[r.integers(0, 4, 6)]),
        (losses.CategoricalCrossentropy(), "softmax", lambda r: r.dirichlet(np.ones(4), 6)),
        (losses.BinaryCrossentropy(), "sigmoid", lambda r: r.random((6, 4))),
    ],
)
def test_fused_gradient_is_the_gradient_through_the_activation(loss, act, make_y):
    """dL/dz from value_and_fused_grad equals finite differences of L(act(z)) in float64."""
    from nastoolkit import kernels

    rng = np.random.default_rng(4)
    z = rng.standard_normal((6, 4))
    y = make_y(rng)
    assert loss.fused_activation == act
    value, grad = loss.value_and_fused_grad(y, kernels.activation_forward(act, z))
    assert value == pytest.approx(loss(y, kernels.activation_forward(act, z)), rel=1e-12)
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        for sign in (1, -1):
            zz = z.copy()
            zz[i] += sign * 1e-6
            numeric[i] += sign * loss(y, kernels.activation_forward(act, zz)) / 2e-6
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_from_logits_losses_do_not_fuse():
    assert losses.CategoricalCrossentropy(from_logits=True).fused_activation is None
    assert losses.MeanSquaredError().fused_activation is None


# --- Keras 3 reductions, sample weights and label smoothing (float64 references) --------------


def per_sample_refs():
    """Per-sample losses l_i written from Keras's equations (float64, no shared code)."""

    def clip(q, high=1 - EPS):
        return np.clip(q, EPS, high)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def log_softmax(z):
        return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))

    def bce(y, q):
        return np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)), axis=-1)

    def huber(y, p, delta=1.0):
        e = p - y
        return np.mean(
            np.where(np.abs(e) <= delta, 0.5 * e**2, delta * np.abs(e) - 0.5 * delta**2), axis=-1
        )

    return {
        "mse": lambda y, p: np.mean((p - y) ** 2, axis=-1),
        "mae": lambda y, p: np.mean(np.abs(p - y), axis=-1),
        "huber": huber,
        "huber_2": lambda y, p: huber(y, p, 2.0),
        "log_cosh": lambda y, p: np.mean(np.log(np.cosh(p - y)), axis=-1),
        "kld": lambda y, p: np.sum(clip(y, 1) * np.log(clip(y, 1) / clip(p, 1)), axis=-1),
        "bce": lambda y, p: bce(y, clip(p)),
        "bce_logits": lambda y, z: bce(y, sigmoid(z)),
        "cce": lambda y, p: -np.sum(y * np.log(clip(p / p.sum(-1, keepdims=True))), axis=-1),
        "cce_logits": lambda y, z: -np.sum(y * log_softmax(z), axis=-1),
        "scce": lambda y, p: -np.log(clip(p[np.arange(len(y)), y] / p.sum(-1))),
        "scce_logits": lambda y, z: -log_softmax(z)[np.arange(len(y)), y],
    }


REFS = per_sample_refs()
SMOOTH = 0.2


def smooth(kind, y, s):
    if not s:
        return y
    return y * (1 - s) + (0.5 * s if kind.startswith("bce") else s / y.shape[-1])


def make_case(kind, rng, n=5, d=3):
    """(y_true, y_pred) for a loss kind, predictions off the kinks and clip limits."""
    if kind in ("mse", "mae", "huber", "huber_2", "log_cosh"):
        return rng.normal(size=(n, d)), rng.normal(0, 2, (n, d))
    if kind == "kld":
        return rng.dirichlet(np.ones(d), n), rng.dirichlet(np.ones(d), n)
    if kind.startswith("scce"):
        y = rng.integers(0, d, n)
    else:
        y = make_data(rng, kind.replace("huber", "mse"), n, d)[0]
    p = rng.normal(0, 2, (n, d)) if kind.endswith("logits") else rng.uniform(0.1, 0.9, (n, d))
    return y, p


def make_loss(kind, reduction, label_smoothing=0.0):
    smoothing = {"label_smoothing": label_smoothing} if label_smoothing else {}
    return {
        "mse": lambda: losses.MeanSquaredError(reduction=reduction),
        "mae": lambda: losses.MeanAbsoluteError(reduction=reduction),
        "huber": lambda: losses.Huber(reduction=reduction),
        "huber_2": lambda: losses.Huber(delta=2.0, reduction=reduction),
        "log_cosh": lambda: losses.LogCosh(reduction=reduction),
        "kld": lambda: losses.KLDivergence(reduction=reduction),
        "bce": lambda: losses.BinaryCrossentropy(reduction=reduction, **smoothing),
        "bce_logits": lambda: losses.BinaryCrossentropy(
            from_logits=True, reduction=reduction, **smoothing
        ),
        "cce": lambda: losses.CategoricalCrossentropy(reduction=reduction, **smoothing),
        "cce_logits": lambda: losses.CategoricalCrossentropy(
            from_logits=True, reduction=reduction, **smoothing
        ),
        "scce": lambda: losses.SparseCategoricalCrossentropy(reduction=reduction),
        "scce_logits": lambda: losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction
        ),
    }[kind.split("+")[0]]()


def keras_reduce(values, weights, reduction):
    """Keras 3's reduce_weighted_values, written out for the tests."""
    weighted = values if weights is None else values * weights
    if reduction in (None, "none"):
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean_with_sample_weight" and weights is not None:
        return weighted.sum() / weights.sum()
    return weighted.sum() / values.size


KINDS = list(REFS) + ["bce+smooth", "bce_logits+smooth", "cce+smooth", "cce_logits+smooth"]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight"]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_reduced_value_and_gradient_in_float64(kind, reduction, weighted):
    """Value against the float64 reference with Keras's reduction; gradient against central
    finite differences of that reference (sample weights and label smoothing included)."""
    rng = np.random.default_rng(len(kind) * 7 + len(reduction))
    base = kind.split("+")[0]
    s = SMOOTH if kind.endswith("+smooth") else 0.0
    y, p = make_case(base, rng)
    w = rng.uniform(0.1, 2.0, len(p)) if weighted else None
    loss = make_loss(kind, reduction, s)

    def reference(q):
        return keras_reduce(REFS[base](smooth(base, y, s), q), w, reduction)

    value, grad = loss.value_and_grad(y, p, sample_weight=w)
    assert isinstance(value, float)
    assert value == pytest.approx(reference(p), rel=1e-12)
    assert loss(y, p, sample_weight=w) == pytest.approx(value, rel=1e-15)
    numeric = np.zeros_like(p)
    for j in np.ndindex(p.shape):
        plus, minus = p.copy(), p.copy()
        plus[j] += 1e-6
        minus[j] -= 1e-6
        numeric[j] = (reference(plus) - reference(minus)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduction", ["none", None])
@pytest.mark.parametrize("kind", KINDS)
def test_reduction_none_gives_weighted_per_sample_values(kind, reduction):
    rng = np.random.default_rng(11)
    base = kind.split("+")[0]
    s = SMOOTH if kind.endswith("+smooth") else 0.0
    y, p = make_case(base, rng)
    w = rng.uniform(0.1, 2.0, (len(p), 1))  # (n, 1) weights are squeezed, as in Keras
    loss = make_loss(kind, reduction, s)
    values, grad = loss.value_and_grad(y, p, sample_weight=w)
    expected = REFS[base](smooth(base, y, s), p) * w[:, 0]
    assert values.shape == (len(p),)
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    # row i of the gradient is d(w_i l_i)/dp_i: the gradient of the vector's sum
    summed = make_loss(kind, "sum", s).value_and_grad(y, p, sample_weight=w)[1]
    np.testing.assert_allclose(grad, summed, rtol=1e-12)


@pytest.mark.parametrize("weight", [0.5, np.float64(3.0)])
def test_scalar_sample_weight_scales_the_loss(weight):
    rng = np.random.default_rng(12)
    y, p = make_case("mse", rng)
    loss = losses.MeanSquaredError()
    assert loss(y, p, sample_weight=weight) == pytest.approx(weight * loss(y, p), rel=1e-12)


def test_zero_weights_give_zero_not_nan():
    """Keras divides with divide_no_nan: all-zero weights under mean_with_sample_weight give 0."""
    y, p = make_case("mse", np.random.default_rng(13))
    loss = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    value, grad = loss.value_and_grad(y, p, sample_weight=np.zeros(len(p)))
    assert value == 0.0 and not np.any(grad)


@pytest.mark.parametrize(
    "kind, loss, act",
    [
        ("scce", losses.SparseCategoricalCrossentropy(reduction="sum"), "softmax"),
        ("cce+smooth", losses.CategoricalCrossentropy(label_smoothing=SMOOTH), "softmax"),
        (
            "bce+smooth",
            losses.BinaryCrossentropy(label_smoothing=SMOOTH, reduction="mean_with_sample_weight"),
            "sigmoid",
        ),
    ],
)
def test_fused_gradient_with_weights_and_smoothing(kind, loss, act):
    """dL/dz of the fused path equals finite differences of L(act(z)) with sample weights."""
    from nastoolkit import kernels

    rng = np.random.default_rng(14)
    y, _ = make_case(kind.split("+")[0], rng)
    z = rng.standard_normal((len(y), 3))
    w = rng.uniform(0.1, 2.0, len(y))

    def value(zz):
        return loss(y, kernels.activation_forward(act, zz), sample_weight=w)

    fused_value, grad = loss.value_and_fused_grad(
        y, kernels.activation_forward(act, z), sample_weight=w
    )
    assert fused_value == pytest.approx(value(z), rel=1e-12)
    numeric = np.zeros_like(z)
    for j in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[j] += 1e-6
        minus[j] -= 1e-6
        numeric[j] = (value(plus) - value(minus)) / 2e-6
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_log_cosh_and_huber_stay_finite_for_huge_errors():
    y, p = np.zeros((1, 2)), np.array([[1e4, -1e4]])
    assert losses.LogCosh()(y, p) == pytest.approx(1e4 - np.log(2))
    value, grad = losses.Huber(delta=1.0).value_and_grad(y, p)
    assert value == pytest.approx(1e4 - 0.5)
    np.testing.assert_allclose(grad, [[0.5, -0.5]])


# --- function forms, get(None), configs and argument errors -----------------------------------


@pytest.mark.parametrize(
    "function, loss",
    [
        (losses.mean_squared_error, losses.MeanSquaredError()),
        (losses.mean_absolute_error, losses.MeanAbsoluteError()),
        (losses.huber, losses.Huber()),
        (losses.log_cosh, losses.LogCosh()),
        (losses.kl_divergence, losses.KLDivergence()),
        (losses.binary_crossentropy, losses.BinaryCrossentropy()),
        (losses.categorical_crossentropy, losses.CategoricalCrossentropy()),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_function_forms_return_per_sample_values(function, loss):
    rng = np.random.default_rng(15)
    y, p = rng.dirichlet(np.ones(3), 4), rng.dirichlet(np.ones(3), 4)
    values = function(y, p)
    assert values.shape == (4,)
    assert float(np.mean(values)) == pytest.approx(loss(y, p), rel=1e-12)
    assert type(losses.get(function)) is type(loss)


def test_sparse_function_form_and_options():
    z = np.array([[2.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy([0, 1], z, from_logits=True),
        REFS["scce_logits"](np.array([0, 1]), z),
        rtol=1e-12,
    )
    smooth_values = losses.binary_crossentropy([[1.0]], [[0.5]], label_smoothing=0.5)
    np.testing.assert_allclose(smooth_values, [np.log(2)], rtol=1e-12)


def test_get_none_and_plain_functions():
    assert losses.get(None) is None
    assert losses.serialize(None) is None
    with pytest.raises(TypeError, match="plain function"):
        losses.get(lambda y_true, y_pred: 0.0)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("huber", losses.Huber),
        ("Huber", losses.Huber),
        ("log_cosh", losses.LogCosh),
        ("logcosh", losses.LogCosh),
        ("kl_divergence", losses.KLDivergence),
        ("kld", losses.KLDivergence),
        ("KLDivergence", losses.KLDivergence),
        ("MeanAbsoluteError", losses.MeanAbsoluteError),
    ],
)
def test_new_names(name, cls):
    assert type(losses.get(name)) is cls


@pytest.mark.parametrize(
    "loss",
    [
        losses.MeanSquaredError(reduction="sum", name="m"),
        losses.Huber(delta=0.5),
        losses.LogCosh(reduction=None),
        losses.KLDivergence(reduction="mean"),
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        losses.CategoricalCrossentropy(label_smoothing=0.3, reduction="none"),
    ],
)
def test_config_round_trip(loss):
    again = losses.deserialize(json.loads(json.dumps(losses.serialize(loss))))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


def test_unsupported_keras_options_are_clear_errors():
    keras_config = {
        "name": "binary_crossentropy",
        "reduction": "sum_over_batch_size",
        "from_logits": False,
        "label_smoothing": 0.0,
        "axis": -1,
    }
    with pytest.raises(ValueError, match=r"axis must be -1.*axis=0"):
        losses.BinaryCrossentropy.from_config({**keras_config, "axis": 0})
    with pytest.raises(ValueError, match=r"ignore_class.*sample_weight=0"):
        losses.SparseCategoricalCrossentropy(ignore_class=2)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: losses.MeanSquaredError(reduction="average"),
            r"reduction must be one of.*average",
        ),
        (lambda: losses.BinaryCrossentropy(label_smoothing=1.5), r"label_smoothing.*\[0, 1\]"),
        (lambda: losses.CategoricalCrossentropy(label_smoothing="a"), "label_smoothing"),
        (lambda: losses.Huber(delta=0.0), r"delta must be a finite number > 0"),
        (lambda: losses.MeanSquaredError(name=3), "name must be a string"),
    ],
)
def test_bad_arguments_name_themselves(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_sample_weight_shape_is_a_clear_error():
    y, p = make_case("mse", np.random.default_rng(16))
    with pytest.raises(ValueError, match=r"sample_weight.*Received: sample_weight.shape=\(4,\)"):
        losses.MeanSquaredError()(y, p, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="no fused output activation"):
        losses.MeanSquaredError().value_and_fused_grad(y, p)


# --- Keras 3.15 itself (recorded by tests/fixtures/record_keras_activations_losses.py) --------

KERAS = json.loads(
    (Path(__file__).parent / "fixtures" / "keras_activations_losses.json").read_text()
)


def keras_data(kind):
    data = KERAS["data"][kind]
    y_true = np.array(data["y_true"], np.int64 if kind.startswith("sparse") else np.float32)
    return y_true, np.array(data["y_pred"], np.float32)


def case_id(case):
    config = "".join(f"-{k}={v}" for k, v in case["config"].items())
    extra = f"-{case['reduction']}" + ("-weighted" if case["weighted"] else "")
    return case["class_name"] + config + extra


@pytest.mark.parametrize("case", KERAS["losses"], ids=case_id)
def test_loss_matches_keras(case):
    """Value and dL/dy_pred of keras.losses.<Class>(**config, reduction=...)(y, p, w), recorded
    with torch autograd, against value_and_grad in float32."""
    y_true, y_pred = keras_data(case["data"])
    weights = np.array(KERAS["sample_weight"], np.float32) if case["weighted"] else None
    loss = getattr(losses, case["class_name"])(**case["config"], reduction=case["reduction"])
    value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=weights)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(value, case["value"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, case["grad_y_pred"], rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(loss(y_true, y_pred, sample_weight=weights)) == value)


@pytest.mark.parametrize(
    "case",
    KERAS["fused"],
    ids=lambda c: c["class_name"] + str(c["config"].get("label_smoothing", "")),
)
def test_fused_gradient_matches_keras_autograd_through_the_activation(case):
    from nastoolkit import kernels

    y_true, _ = keras_data(case["data"])
    z = np.array(case["z"], np.float32)
    weights = np.array(KERAS["sample_weight"], np.float32)
    loss = getattr(losses, case["class_name"])(**case["config"])
    assert loss.fused_activation == case["activation"]
    value, grad = loss.value_and_fused_grad(
        y_true, kernels.activation_forward(case["activation"], z), sample_weight=weights
    )
    np.testing.assert_allclose(value, case["value"], rtol=1e-5)
    np.testing.assert_allclose(grad, case["grad_z"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", KERAS["functions"], ids=lambda c: c["name"])
def test_function_forms_match_keras(case):
    y_true, y_pred = keras_data(case["data"])
    np.testing.assert_allclose(
        getattr(losses, case["name"])(y_true, y_pred), case["values"], rtol=1e-5, atol=1e-6
    )


def test_keras_fixture_covers_every_loss_and_reduction():
    covered = {(c["class_name"], c["reduction"], c["weighted"]) for c in KERAS["losses"]}
    for name in (
        "MeanSquaredError",
        "MeanAbsoluteError",
        "Huber",
        "LogCosh",
        "KLDivergence",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
    ):
        for reduction in ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none"):
            assert {(name, reduction, False), (name, reduction, True)} <= covered


@pytest.mark.parametrize(
    "case", KERAS["configs"], ids=lambda c: c["class_name"] + str(c["arguments"] or "")
)
def test_configs_are_keras_configs(case):
    """get_config has Keras's keys and values, and Keras's config rebuilds the same loss (Huber
    adds delta, which Keras 3.15 leaves out of its config and so loses on a round trip)."""
    cls = getattr(losses, case["class_name"])
    ours = cls(**case["arguments"]).get_config()
    extra = {"delta": case["arguments"].get("delta", 1.0)} if cls is losses.Huber else {}
    assert ours == {**case["config"], **extra}
    again = cls.from_config(case["config"]).get_config()
    assert again == {**case["config"], **({"delta": 1.0} if cls is losses.Huber else {})}


# --- fit's batch step --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_batch_step_equals_value_and_grad(kind, reduction, weighted):
    """fit's per-epoch loss step gives value_and_grad's numbers bit for bit, fused or not, on
    targets in check_targets' form (its short path skips only conversions)."""
    rng = np.random.default_rng(len(kind) + 3 * len(reduction))
    base = kind.split("+")[0]
    y, p = make_case(base, rng)
    loss = make_loss(kind, reduction, SMOOTH if kind.endswith("+smooth") else 0.0)
    y = loss.check_targets(y, p.shape[1])
    w = rng.uniform(0.1, 2.0, len(p)) if weighted else None
    for fused in [False] + ([True] if loss.fused_activation else []):
        general = loss.value_and_fused_grad if fused else loss.value_and_grad
        expected, expected_grad = general(y, p, sample_weight=w)
        out = np.full_like(p, np.nan)
        value, grad = loss.batch_step(fused)(y, p, out, w)
        assert isinstance(value, float) and value == float(expected)
        assert grad is out
        np.testing.assert_array_equal(grad, expected_grad)


def test_batch_step_of_an_empty_batch_is_zero():
    value, grad = losses.MeanSquaredError().batch_step()(
        np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)), None
    )
    assert value == 0.0 and grad.shape == (0, 2)
