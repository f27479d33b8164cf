"""Callbacks: History bookkeeping, EarlyStopping's Keras semantics, atomic ModelCheckpoint."""

import numpy as np
import pytest

from nastoolkit.callbacks import Callback, EarlyStopping, History, ModelCheckpoint
from nastoolkit.layers import Dense
from nastoolkit.models import Sequential, load_model


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(1)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, w):
        self.weights = w


def drive(callback, values, key="val_loss"):
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        model.weights = [np.array([float(epoch)])]
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epochs


def test_history_records_every_key():
    h = History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 2.0, "val_loss": 3.0})
    h.on_epoch_end(1, {"loss": 1.0, "val_loss": 2.5})
    assert h.history == {"loss": [2.0, 1.0], "val_loss": [3.0, 2.5]} and h.epoch == [0, 1]


def test_early_stopping_patience_and_restore():
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    model, epochs = drive(stop, [5.0, 4.0, 4.5, 4.2, 1.0])
    assert epochs == 4  # best at epoch 1, two epochs without improvement
    assert model.weights[0][0] == 1.0  # weights of the best epoch restored
    assert stop.best == 4.0


def test_early_stopping_max_mode_for_accuracy():
    stop = EarlyStopping(monitor="val_accuracy", patience=1)
    assert stop.mode == "max"
    _, epochs = drive(stop, [0.5, 0.6, 0.55, 0.7], key="val_accuracy")
    assert epochs == 3


def test_early_stopping_min_delta():
    _, epochs = drive(EarlyStopping(patience=1, min_delta=0.5), [5.0, 4.8, 4.7, 1.0])
    assert epochs == 2


def test_early_stopping_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_callback_list_rejects_non_callbacks():
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="Callback"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[object()], verbose=0)


def test_batch_hooks_are_called_per_step():
    steps = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append((batch, logs["loss"]))

    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((10, 2)), np.ones((10, 1)), batch_size=4, epochs=2, callbacks=[Count()],
              verbose=0)
    assert [b for b, _ in steps] == [0, 1, 2, 0, 1, 2]


def test_model_checkpoint_saves_best_only(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 2))
    y = X @ np.array([[1.0], [-1.0]])
    model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "best.npz"
    ckpt = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    h = model.fit(X, y, epochs=5, callbacks=[ckpt], verbose=0, seed=0)
    assert path.exists() and ckpt.best == min(h.history["loss"])
    assert not list(tmp_path.glob(".tmp-*"))  # atomic write leaves no temporaries
    np.testing.assert_array_equal(load_model(path).predict(X), model.predict(X))


def test_verbose_modes_print(capsys):
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_backup_and_restore_resumes_exactly_after_interruption(tmp_path):
    from nastoolkit.callbacks import BackupAndRestore
    from nastoolkit.layers import Dropout
    from nastoolkit.optimizers import Adam

    rng = np.random.default_rng(1)
    X = rng.standard_normal((96, 3))
    y = np.sin(X[:, :1]) + X[:, 1:2]

    def fresh():
        model = Sequential([Dense(8, activation="relu", input_shape=(3,)), Dropout(0.3),
                            Dense(1)], seed=0)
        model.compile(optimizer=Adam(learning_rate=0.01), loss="mse")
        return model

    reference = fresh()
    ref_hist = reference.fit(X, y, epochs=6, batch_size=16, verbose=0, seed=3)

    class Interrupt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    backup = BackupAndRestore(tmp_path / "bk")
    model = fresh()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=6, batch_size=16, verbose=0, seed=3,
                  callbacks=[backup, Interrupt()])
    assert (tmp_path / "bk" / "backup.npz").exists()
    model = fresh()  # a new process would start from scratch like this
    hist = model.fit(X, y, epochs=6, batch_size=16, verbose=0, seed=3,
                     callbacks=[BackupAndRestore(tmp_path / "bk")])
    assert hist.epoch == [3, 4, 5]
    assert hist.history["loss"] == ref_hist.history["loss"][3:]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "bk" / "backup.npz").exists()  # deleted once training completed
