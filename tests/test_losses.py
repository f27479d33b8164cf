"""losses: values against float64 closed forms and torch, gradients against finite differences,
logit stability, and target validation."""

import json

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


@pytest.mark.parametrize("loss", [losses.BinaryCrossentropy(from_logits=True),
                                  losses.CategoricalCrossentropy(from_logits=True),
                                  losses.SparseCategoricalCrossentropy(from_logits=True)],
                         ids=["binary", "categorical", "sparse"])
def test_logits_of_1e4_are_stable(loss):
    z = np.array([[1e4, -1e4], [-1e4, 1e4]])
    y = np.array([1, 0]) if isinstance(loss, losses.SparseCategoricalCrossentropy) \
        else np.array([[0.0, 1.0], [1.0, 0.0]])
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
            F.binary_cross_entropy(t(p), t(y)).item())
        y, z = make_data(rng, "bce_logits")
        assert losses.BinaryCrossentropy(from_logits=True)(y, z) == pytest.approx(
            F.binary_cross_entropy_with_logits(t(z), t(y)).item())
        y, z = make_data(rng, "cce_logits")
        labels = y.argmax(axis=-1)
        expected = F.cross_entropy(t(z), t(labels)).item()
        assert losses.CategoricalCrossentropy(from_logits=True)(y, z) == pytest.approx(expected)
        assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z) == \
            pytest.approx(expected)
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

@pytest.mark.parametrize("name, cls", [
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy)])
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
    assert loss.get_config() == {"name": "sparse_categorical_crossentropy", "from_logits": True}


# --- fused with the output activation ----------------------------------------------------------

@pytest.mark.parametrize("loss,act,make_y", [
    (losses.SparseCategoricalCrossentropy(), "softmax", lambda r: r.integers(0, 4, 6)),
    (losses.CategoricalCrossentropy(), "softmax", lambda r: np.eye(4)[r.integers(0, 4, 6)]),
    (losses.CategoricalCrossentropy(), "softmax", lambda r: r.dirichlet(np.ones(4), 6)),
    (losses.BinaryCrossentropy(), "sigmoid", lambda r: r.random((6, 4))),
])
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
