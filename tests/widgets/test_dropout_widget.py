"""The dropout app: masks follow the rate, steps draw new masks, inference mode drops nothing."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit import kernels
from nastoolkit.widgets.dropout import DropoutApp, DropoutModel


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropped_fraction_matches_rate(rate):
    model = DropoutModel(rate=rate, units=4000, num_masks=2)
    # 4000 Bernoulli draws: standard deviation <= 0.008, so 0.03 is a > 3.5 sigma band.
    assert model.dropped_fraction == pytest.approx(rate, abs=0.03)
    kept = model.mask[model.mask != 0]
    np.testing.assert_allclose(kept, 1.0 / (1.0 - rate), rtol=1e-12)


def test_mask_is_the_kernel_mask_of_seed_and_step():
    model = DropoutModel(rate=0.4, seed=7)
    model.next_step()
    model.next_step()
    _, expected = kernels.dropout(model.hidden[None, :], 0.4, 7, 2)
    np.testing.assert_array_equal(model.mask, expected[0])


def test_train_mode_mean_output_matches_inference_output():
    model = DropoutModel(rate=0.5, units=64, num_masks=3000)
    outputs = model.train_outputs()
    assert outputs.shape == (3000,)
    assert np.std(outputs) > 0.05  # masks really change the output
    standard_error = np.std(outputs) / np.sqrt(outputs.size)
    assert abs(np.mean(outputs) - model.inference_output) < 4 * standard_error


def test_step_button_draws_a_new_mask_and_redraws():
    app = DropoutApp(rate=0.5)
    first_mask, draws = app.model.mask.copy(), app.view.draw_count
    app.step_button.click()
    assert app.model.step == 1
    assert not np.array_equal(app.model.mask, first_mask)
    assert app.view.draw_count == draws + 1
    assert "step 1" in app.view.last_figure.axes[0].get_title()


def test_inference_mode_keeps_every_unit_and_step_returns_to_train():
    app = DropoutApp(rate=0.6)
    app.mode_buttons.value = "inference"
    assert app.model.num_dropped == 0
    assert app.model.output == pytest.approx(app.model.inference_output)
    assert "inference mode" in app.view.last_figure.axes[0].get_title()
    app.step_button.click()
    assert app.model.mode == "train" and app.model.num_dropped > 0


def test_rate_slider_updates_model_and_histogram():
    app = DropoutApp(rate=0.5, num_masks=50)
    before = app.model.train_outputs().copy()
    app.rate_slider.value = 0.2
    assert app.model.rate == 0.2
    assert not np.array_equal(app.model.train_outputs(), before)
    app.rate_slider.value = 0.0
    assert app.model.num_dropped == 0


def test_invalid_rate_names_the_argument():
    with pytest.raises(ValueError, match="rate must be in"):
        DropoutModel(rate=1.0)
