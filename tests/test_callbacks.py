"""Callbacks: History bookkeeping, EarlyStopping's Keras semantics, atomic ModelCheckpoint."""

import json
from pathlib import Path

import numpy as np
import pytest

from nastoolkit.callbacks import Callback, CallbackList, EarlyStopping, History, ModelCheckpoint
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
    model.fit(
        np.ones((10, 2)), np.ones((10, 1)), batch_size=4, epochs=2, callbacks=[Count()], verbose=0
    )
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
        model = Sequential(
            [Dense(8, activation="relu", input_shape=(3,)), Dropout(0.3), Dense(1)], seed=0
        )
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
        model.fit(X, y, epochs=6, batch_size=16, verbose=0, seed=3, callbacks=[backup, Interrupt()])
    assert (tmp_path / "bk" / "backup.npz").exists()
    model = fresh()  # a new process would start from scratch like this
    hist = model.fit(
        X,
        y,
        epochs=6,
        batch_size=16,
        verbose=0,
        seed=3,
        callbacks=[BackupAndRestore(tmp_path / "bk")],
    )
    assert hist.epoch == [3, 4, 5]
    assert hist.history["loss"] == ref_hist.history["loss"][3:]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "bk" / "backup.npz").exists()  # deleted once training completed


# --- Keras's hook order and logs ---------------------------------------------------------------
TRACE = json.loads((Path(__file__).parent / "fixtures" / "keras_callback_trace.json").read_text())
HOOKS = sorted({event["hook"] for trace in TRACE["traces"].values() for event in trace})


class Recorder(Callback):
    """Records every hook as the fixture does: hook, epoch/batch index, logs."""

    def __init__(self):
        super().__init__()
        self.events = []


def _recording_hook(name):
    def hook(self, *args):
        index, logs = (args[0], args[1]) if len(args) == 2 else (None, args[0] if args else None)
        self.events.append({"hook": name, "arg": index, "logs": logs})

    return hook


for _name in HOOKS:
    setattr(Recorder, _name, _recording_hook(_name))


def _trace_model():
    from nastoolkit.optimizers import SGD

    case = TRACE["case"]
    model = Sequential([Dense(1, input_shape=(3,))])
    model.build((None, 3))
    model.set_weights([np.asarray(case["kernel"], "float32"), np.asarray(case["bias"], "float32")])
    model.compile(
        optimizer=SGD(learning_rate=case["learning_rate"]),
        loss=case["loss"],
        metrics=case["metrics"],
    )
    return model, {key: np.asarray(case[key], "float32") for key in ("x", "y", "x_val", "y_val")}


def _assert_same_trace(events, expected):
    assert [(e["hook"], e["arg"]) for e in events] == [(e["hook"], e["arg"]) for e in expected]
    for got, want in zip(events, expected):
        where = f"{want['hook']}({want['arg']})"
        assert isinstance(got["logs"], dict), f"{where}: logs must be a dict, got {got['logs']!r}"
        assert sorted(got["logs"]) == sorted(want["logs"]), where
        for key, value in want["logs"].items():
            np.testing.assert_allclose(
                np.asarray(got["logs"][key], float),
                value,
                rtol=2e-5,
                atol=1e-6,
                err_msg=f"{where}: logs[{key!r}]",
            )


def test_callback_list_offers_every_keras_hook_and_passes_dict_logs():
    rec = Recorder()
    calls = CallbackList([rec], model=None, params={"epochs": 1})
    assert rec.params == {"epochs": 1}
    assert calls.wants_batches and calls.wants_test_batches and calls.wants_predict_batches
    for name in HOOKS:
        if "batch" in name or "epoch" in name:
            getattr(calls, name)(0)
        else:
            getattr(calls, name)()
    assert [e["hook"] for e in rec.events] == HOOKS
    assert all(e["logs"] == {} for e in rec.events)  # Keras turns logs=None into {}
    calls.on_epoch_end(
        0,
        {
            "val_loss": np.float32(0.5),
            "loss": np.array(0.25),
            "extra": {"lr": np.float64(0.1)},
            "outputs": np.zeros((2, 1)),
        },
    )
    logs = rec.events[-1]["logs"]
    # sorted by the outer keys, a nested dict flattened in its place ("extra"), as Keras does
    assert list(logs) == ["lr", "loss", "outputs", "val_loss"]
    assert [type(logs[key]) for key in ("loss", "lr", "val_loss")] == [float] * 3
    assert logs["outputs"].shape == (2, 1)  # not a number: kept


def test_a_key_added_by_one_callback_reaches_the_next():
    from nastoolkit.callbacks import LearningRateScheduler
    from nastoolkit.optimizers import SGD

    history = History()
    model = StandIn(SGD(learning_rate=0.1))
    calls = CallbackList([LearningRateScheduler(lambda epoch, lr: lr / 2), history], model, {})
    calls.on_train_begin()
    for epoch in range(2):
        calls.on_epoch_begin(epoch)
        calls.on_epoch_end(epoch, {"loss": 1.0})
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025])


def test_callback_list_skips_batch_hooks_nobody_overrides():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None): ...

    class OldBatchName(Callback):
        def on_batch_end(self, batch, logs=None):
            self.seen = batch

    calls = CallbackList([EpochOnly()], model=None, params={})
    assert not (calls.wants_batches or calls.wants_test_batches or calls.wants_predict_batches)
    old = OldBatchName()
    calls = CallbackList([old], model=None, params={})
    assert calls.wants_batches and not calls.wants_test_batches
    calls.on_train_batch_end(3, {"loss": 1.0})
    assert old.seen == 3  # Keras's on_train_batch_end calls on_batch_end


def test_fit_makes_the_keras_callback_trace():
    model, data = _trace_model()
    case, rec = TRACE["case"], Recorder()
    model.fit(
        data["x"],
        data["y"],
        batch_size=case["batch_size"],
        epochs=case["epochs"],
        validation_data=(data["x_val"], data["y_val"]),
        shuffle=False,
        verbose=0,
        callbacks=[rec],
    )
    for key, value in TRACE["params"]["fit"].items():
        assert rec.params.get(key) == value, key
    _assert_same_trace(rec.events, TRACE["traces"]["fit"])


def test_evaluate_and_predict_make_the_keras_callback_trace():
    case = TRACE["case"]
    model, data = _trace_model()
    # the recorded evaluate/predict ran after the recorded fit, on the trained weights
    model.fit(
        data["x"],
        data["y"],
        batch_size=case["batch_size"],
        epochs=case["epochs"],
        validation_data=(data["x_val"], data["y_val"]),
        shuffle=False,
        verbose=0,
    )
    rec = Recorder()
    model.evaluate(data["x"], data["y"], batch_size=case["batch_size"], verbose=0, callbacks=[rec])
    _assert_same_trace(rec.events, TRACE["traces"]["evaluate"])
    rec = Recorder()
    model.predict(data["x"], batch_size=case["batch_size"], verbose=0, callbacks=[rec])
    _assert_same_trace(rec.events, TRACE["traces"]["predict"])


# --- EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger against Keras -----------
KERAS = json.loads(
    (Path(__file__).parent / "fixtures" / "keras_metrics_schedules.json").read_text()
)["callbacks"]


class StandIn(FakeModel):
    """The recording script's stand-in model: weights = [epoch index], and an optimizer."""

    def __init__(self, optimizer=None):
        super().__init__()
        self.optimizer = optimizer


def drive_logs(callback, model, values, monitor):
    """The recording script's epoch loop; returns each epoch's logs after the callback ran."""
    callback.set_model(model)
    callback.on_train_begin({})
    seen = []
    for epoch, value in enumerate(values):
        model.weights = [np.array([float(epoch)])]
        callback.on_epoch_begin(epoch, {})
        logs = {monitor: value}
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
        if model.stop_training:
            break
    callback.on_train_end({})
    return seen


@pytest.mark.parametrize("case", KERAS["early_stopping"], ids=lambda c: json.dumps(c["kwargs"]))
def test_early_stopping_decides_as_keras(case):
    stop = EarlyStopping(**case["kwargs"])
    model = StandIn()
    seen = drive_logs(stop, model, case["values"], case["kwargs"].get("monitor", "val_loss"))
    assert len(seen) == case["epochs_run"]
    assert (stop.stopped_epoch, stop.best_epoch, stop.wait) == (
        case["stopped_epoch"],
        case["best_epoch"],
        case["wait"],
    )
    assert stop.best == pytest.approx(case["best"])
    assert model.weights[0][0] == case["final_weight"]  # restored best epoch, or the last


@pytest.mark.parametrize("case", KERAS["reduce_lr"], ids=lambda c: json.dumps(c["kwargs"]))
def test_reduce_lr_on_plateau_reduces_as_keras(case):
    from nastoolkit.callbacks import ReduceLROnPlateau
    from nastoolkit.optimizers import SGD

    reduce = ReduceLROnPlateau(**case["kwargs"])
    model = StandIn(SGD(learning_rate=case["learning_rate"]))
    seen = drive_logs(reduce, model, case["values"], case["kwargs"].get("monitor", "val_loss"))
    # Keras keeps the rate in float32: compare to its precision
    np.testing.assert_allclose([logs["learning_rate"] for logs in seen], case["logged"], rtol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(case["final"], rel=1e-6)


SCHEDULES = {
    "halve_after_2": lambda epoch, lr: lr if epoch < 2 else lr * 0.5,
    "one_argument": lambda epoch: 0.1 / (1 + epoch),
}


@pytest.mark.parametrize("case", KERAS["scheduler"], ids=lambda c: c["schedule"])
def test_learning_rate_scheduler_sets_rates_as_keras(case):
    from nastoolkit.callbacks import LearningRateScheduler
    from nastoolkit.optimizers import SGD

    scheduler = LearningRateScheduler(SCHEDULES[case["schedule"]])
    model = StandIn(SGD(learning_rate=case["learning_rate"]))
    seen = drive_logs(scheduler, model, [1.0] * len(case["logged"]), "loss")
    np.testing.assert_allclose([logs["learning_rate"] for logs in seen], case["logged"], rtol=1e-6)


@pytest.mark.parametrize("case", KERAS["csv"], ids=lambda c: json.dumps(c["kwargs"]))
def test_csv_logger_writes_the_file_keras_writes(case, tmp_path):
    from nastoolkit.callbacks import CSVLogger

    path = tmp_path / "log.csv"
    if case["existing"] is not None:
        path.write_text(case["existing"])
    logger = CSVLogger(path, **case["kwargs"])
    logger.on_train_begin({})
    for epoch, logs in enumerate(case["rows"]):
        logger.on_epoch_end(epoch, dict(logs))
    logger.on_train_end({})
    assert path.read_text() == case["text"]


def _small_fit(callbacks, epochs=4, learning_rate=0.05):
    from nastoolkit.optimizers import SGD

    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 2))
    y = X @ np.array([[1.0], [-1.0]])
    model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    model.compile(optimizer=SGD(learning_rate=learning_rate), loss="mse")
    history = model.fit(X, y, epochs=epochs, batch_size=8, callbacks=callbacks, verbose=0, seed=0)
    return model, history


def test_learning_rate_scheduler_changes_the_rate_fit_uses():
    from nastoolkit.callbacks import LambdaCallback, LearningRateScheduler

    used = []
    watch = LambdaCallback(
        on_epoch_end=lambda epoch, logs: used.append(
            (logs["learning_rate"], watch.model.optimizer.learning_rate)
        )
    )
    _small_fit([LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch), watch])
    assert used == [(0.1 * 0.5**e, pytest.approx(0.1 * 0.5**e)) for e in range(4)]
    frozen, _ = _small_fit([LearningRateScheduler(lambda epoch, lr: 1e-9)])
    moving, _ = _small_fit([])
    assert frozen.get_weights()[0].tolist() != moving.get_weights()[0].tolist()


def test_learning_rate_scheduler_rejects_non_float_and_schedules():
    from nastoolkit.callbacks import LearningRateScheduler
    from nastoolkit.optimizers import SGD
    from nastoolkit.schedules import ExponentialDecay

    with pytest.raises(ValueError, match="should be a float"):
        drive_logs(LearningRateScheduler(lambda epoch, lr: "0.1"), StandIn(SGD()), [1.0], "loss")
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)
    scheduled = StandIn(SGD(learning_rate=ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(TypeError, match="ExponentialDecay"):
        drive_logs(LearningRateScheduler(lambda epoch, lr: lr), scheduled, [1.0], "loss")


def test_reduce_lr_on_plateau_bad_arguments_name_themselves():
    from nastoolkit.callbacks import ReduceLROnPlateau

    for kwargs, name in [
        ({"factor": 1.0}, "factor"),
        ({"factor": 0.0}, "factor"),
        ({"patience": -1}, "patience"),
        ({"cooldown": 1.5}, "cooldown"),
        ({"min_lr": -1.0}, "min_lr"),
        ({"mode": "down"}, "mode"),
    ]:
        with pytest.raises(ValueError, match=f"{name}.*Received: {name}="):
            ReduceLROnPlateau(**kwargs)


def test_reduce_lr_on_plateau_in_fit_lowers_the_rate():
    from nastoolkit.callbacks import ReduceLROnPlateau

    # the training loss of SGD on this problem only falls: min_delta=10 makes every epoch a plateau
    model, _ = _small_fit(
        [ReduceLROnPlateau(monitor="loss", patience=1, min_delta=10.0, factor=0.5)],
        epochs=4,
        learning_rate=0.08,
    )
    assert model.optimizer.learning_rate == pytest.approx(0.08 * 0.5**3)


def test_lambda_callback_hooks_and_errors():
    from nastoolkit.callbacks import LambdaCallback

    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_train_batch_end=lambda batch, logs: calls.append(batch),
        on_test_end=lambda logs: calls.append("test"),
    )
    listed = CallbackList([callback], model=None, params={})
    assert listed.wants_batches and not listed.wants_test_batches
    listed.on_train_begin()
    listed.on_train_batch_end(2, {"loss": 1.0})
    listed.on_test_end()
    listed.on_epoch_end(0, {})  # not given: the base class's no-op
    assert calls == ["begin", 2, "test"]
    with pytest.raises(TypeError, match="on_epoch_ending"):
        LambdaCallback(on_epoch_ending=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end=3)


def test_csv_logger_in_fit(tmp_path):
    import csv as csv_module

    from nastoolkit.callbacks import CSVLogger

    path = tmp_path / "fit.csv"
    _, history = _small_fit([CSVLogger(path)], epochs=3)
    rows = list(csv_module.DictReader(path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["loss"]) for r in rows] == history.history["loss"]
    assert [r["val_loss"] for r in rows] == ["NA"] * 3
    with pytest.raises(ValueError, match="separator"):
        CSVLogger(path, separator="::")


def test_monitor_mode_auto_follows_keras_directions():
    assert EarlyStopping(monitor="val_loss").mode == "min"
    assert EarlyStopping(monitor="val_mae").mode == "min"
    assert EarlyStopping(monitor="val_acc").mode == "max"
    stop = EarlyStopping(monitor="val_my_score")  # unknown: Keras asks for mode=
    stop.set_model(FakeModel())
    stop.on_train_begin()
    with pytest.raises(ValueError, match="mode='max'"):
        stop.on_epoch_end(0, {"val_my_score": 1.0})


def test_model_checkpoint_keras_argument_order_and_threshold(tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "m.npz", "loss", 0, True, initial_value_threshold=0.5)
    assert (ckpt.monitor, ckpt.verbose, ckpt.save_best_only) == ("loss", 0, True)
    saved = []
    ckpt.set_model(type("Saver", (), {"save": lambda self, path: saved.append(path)})())
    ckpt.on_train_begin()
    for epoch, loss in enumerate([0.9, 0.4, 0.45, 0.3]):
        ckpt.on_epoch_end(epoch, {"loss": loss})
    assert len(saved) == 2 and ckpt.best == 0.3  # 0.9 does not beat the threshold 0.5


def test_terminate_on_nan_stops_at_the_batch():
    from nastoolkit.callbacks import TerminateOnNaN

    model = FakeModel()
    calls = CallbackList([TerminateOnNaN()], model, {})
    assert calls.wants_batches
    calls.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    calls.on_train_batch_end(1, {"loss": float("inf")})
    assert model.stop_training


def test_history_records_the_learning_rate_the_lr_callbacks_log():
    from nastoolkit.callbacks import LearningRateScheduler, ReduceLROnPlateau

    _, history = _small_fit([LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert history.history["learning_rate"] == pytest.approx([0.1 / (e + 1) for e in range(4)])
    plateau = ReduceLROnPlateau(monitor="loss", patience=1, min_delta=10.0, factor=0.5)
    _, history = _small_fit([plateau], learning_rate=0.08)
    # logged at each epoch's end before that epoch's reduction; epoch 0 is an improvement (the
    # first value always is, as in Keras), so the first reduction comes after epoch 1
    assert history.history["learning_rate"] == pytest.approx([0.08, 0.08, 0.04, 0.02])
