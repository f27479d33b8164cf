"""Widget apps for tutorial 4: a lambda slider on an overfitting polynomial, L1 vs L2 paths, and
the diamond vs the circle.

Each app is a *model* (plain Python state plus the update logic, testable without a browser) and
a *view* (ipywidgets controls and a ``FigureView``). The math lives in
``nastoolkit.regularization_path`` and the figures in ``nastoolkit.viz.regularization``.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import regularization_path as rp
from ..viz import regularization as plots
from ._view import FigureView, WidgetApp, figure_style

__all__ = [
    "ConstraintRegionApp",
    "ConstraintRegionModel",
    "PolynomialRegularizationApp",
    "PolynomialRegularizationModel",
    "RegularizationPathApp",
    "RegularizationPathModel",
]


def _check_log_lambda(log_lambda, low, high):
    if not low <= log_lambda <= high:
        raise ValueError(
            f"log_lambda must be in [{low}, {high}] (the precomputed grid). "
            f"Received: log_lambda={log_lambda}"
        )
    return float(log_lambda)


def _log_slider(model, description):
    """A base-10 log slider over the model's lambda grid (its value is lambda itself)."""
    low, high = model.log_lambda_range
    return ipywidgets.FloatLogSlider(
        value=model.lam,
        base=10,
        min=low,
        max=high,
        step=(high - low) / 40,
        description=description,
        readout_format=".1e",
        continuous_update=False,
        style={"description_width": "initial"},
        layout=ipywidgets.Layout(width="460px"),
    )


def _slider_log_lambda(value, model):
    """log10 of a log slider's value, clipped to the model's range (the slider rounds to float)."""
    return float(np.clip(np.log10(value), *model.log_lambda_range))


class _App(WidgetApp):
    """Shared view plumbing: one FigureView, a control row, redraw on change."""

    def redraw(self):
        with figure_style():
            figure = self.draw()
        self.view.show(figure)


# --- 1. polynomial fit under L2 -------------------------------------------------------------------


class PolynomialRegularizationModel:
    """A degree-``degree`` polynomial fitted by ridge regression to a few noisy points of sin(2 pi x).

    State: the data (``x_train``/``y_train``, ``x_val``/``y_val``), the current ``degree`` and
    ``log_lambda``, and the train/validation errors for every lambda on a log grid (recomputed
    when the degree changes). The intercept is not penalized.

    Parameters
    ----------
    num_train, num_val : int, default 10, 100
        Training and validation points.
    degree : int, default 9
        The polynomial's degree.
    noise : float, default 0.25
        Standard deviation of the noise on y.
    log_lambda_range : tuple of float, default (-8.0, 2.0)
        log10 of the smallest and largest lambda of the grid.
    num_lambdas : int, default 41
        Grid size.
    log_lambda : float, default -8.0
        log10 of the current lambda.
    seed : int, default 0
        Seed of the data.

    Examples
    --------
    >>> model = PolynomialRegularizationModel(num_lambdas=5)
    >>> model.val_errors.shape, model.theta.shape  # one error per lambda, degree + 1 weights
    ((5,), (10,))
    """

    def __init__(
        self,
        num_train: int = 10,
        num_val: int = 100,
        degree: int = 9,
        noise: float = 0.25,
        log_lambda_range=(-8.0, 2.0),
        num_lambdas: int = 41,
        log_lambda: float = -8.0,
        seed: int = 0,
    ):
        self.x_train, self.y_train = rp.sample_sine_data(num_train, noise, seed)
        self.x_val, self.y_val = rp.sample_sine_data(num_val, noise, seed + 1)
        self.log_lambda_range = (float(log_lambda_range[0]), float(log_lambda_range[1]))
        self.lambdas = np.logspace(*self.log_lambda_range, num_lambdas)
        self.x_curve = np.linspace(0.0, 1.0, 200)
        self.log_lambda = _check_log_lambda(log_lambda, *self.log_lambda_range)
        self.set_degree(degree)

    def __repr__(self):
        return (
            f"PolynomialRegularizationModel(degree={self.degree}, lambda={self.lam:.3g}, "
            f"train_error={self.train_error:.3g}, val_error={self.val_error:.3g})"
        )

    def set_degree(self, degree: int):
        self.degree = int(degree)
        self.train_errors, self.val_errors, _ = rp.polynomial_ridge_errors(
            self.x_train, self.y_train, self.x_val, self.y_val, self.degree, self.lambdas
        )
        self._fit()

    def set_log_lambda(self, log_lambda: float):
        self.log_lambda = _check_log_lambda(log_lambda, *self.log_lambda_range)
        self._fit()

    def _fit(self):
        mask = np.r_[0.0, np.ones(self.degree)]
        self.X_train = rp.polynomial_features(self.x_train, self.degree)
        self.theta = rp.ridge_fit(self.X_train, self.y_train, self.lam, mask)

    @property
    def lam(self) -> float:
        return float(10.0**self.log_lambda)

    @property
    def weight_norm(self) -> float:
        """||theta_{1:}||_2, the penalized weights (the intercept is left out)."""
        return float(np.linalg.norm(self.theta[1:]))

    @property
    def train_error(self) -> float:
        return rp.mean_squared_error(self.X_train, self.y_train, self.theta)

    @property
    def val_error(self) -> float:
        X_val = rp.polynomial_features(self.x_val, self.degree)
        return rp.mean_squared_error(X_val, self.y_val, self.theta)

    def curve(self):
        """(x, h_theta(x)) on a fine grid, for plotting the fitted function."""
        return self.x_curve, rp.polynomial_features(self.x_curve, self.degree) @ self.theta


class PolynomialRegularizationApp(_App):
    """Lambda (log slider) and degree sliders over three panels: fit, error vs lambda, weights.

    ``app.lambda_slider.value`` is lambda itself; ``app.degree_slider`` the polynomial degree.

    Parameters
    ----------
    model : PolynomialRegularizationModel, optional
        Built from ``model_arguments`` when None.
    **model_arguments
        Passed to ``PolynomialRegularizationModel``.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = PolynomialRegularizationApp(num_lambdas=5)
    ...     app.degree_slider.value = 3
    >>> app.model.degree
    3
    """

    def __init__(self, model: PolynomialRegularizationModel | None = None, **model_arguments):
        self.model = model or PolynomialRegularizationModel(**model_arguments)
        self.lambda_slider = _log_slider(self.model, "λ (L2 strength)")
        self.degree_slider = ipywidgets.IntSlider(
            value=self.model.degree, min=1, max=12, description="degree", continuous_update=False
        )
        self.view = FigureView()
        self.lambda_slider.observe(self._on_lambda, names="value")
        self.degree_slider.observe(self._on_degree, names="value")
        self.widget = ipywidgets.VBox(
            [ipywidgets.HBox([self.lambda_slider, self.degree_slider]), self.view.output]
        )
        self.redraw()

    def _on_lambda(self, change):
        self.model.set_log_lambda(_slider_log_lambda(change["new"], self.model))
        self.redraw()

    def _on_degree(self, change):
        self.model.set_degree(change["new"])
        self.redraw()

    def draw(self) -> Figure:
        model = self.model
        figure = Figure(figsize=(9.5, 4.6), layout="constrained")
        ax_fit, ax_error, ax_weights = figure.subplots(1, 3)
        x_curve, y_fit = model.curve()
        plots.plot_polynomial_fit(
            model.x_train,
            model.y_train,
            x_curve,
            y_fit,
            x_val=model.x_val,
            y_val=model.y_val,
            y_true=np.sin(2 * np.pi * x_curve),
            ax=ax_fit,
            title=f"degree {model.degree}, λ = {model.lam:.1e}",
        )
        plots.plot_error_vs_lambda(
            model.lambdas,
            model.train_errors,
            model.val_errors,
            current_lambda=model.lam,
            ax=ax_error,
        )
        plots.plot_weight_magnitudes(model.theta, ax=ax_weights)
        return figure


# --- 2. L1 vs L2 regularization paths -----------------------------------------------------------


class RegularizationPathModel:
    """Lasso and ridge weights of a sparse linear problem for every lambda on a log grid.

    ``X``/``y``/``theta_true`` come from ``sample_sparse_regression`` unless given.

    Parameters
    ----------
    X, y : array_like, optional
        Features ``(n, d)`` and targets ``(n,)``; ``sample_sparse_regression`` data when None.
    log_lambda_range : tuple of float, default (-1.0, 2.5)
        log10 of the smallest and largest lambda.
    num_lambdas : int, default 36
        Grid size.
    log_lambda : float, default 1.0
        log10 of the current lambda.
    seed : int, default 0
        Seed of the default data.

    Examples
    --------
    >>> model = RegularizationPathModel(num_lambdas=5)
    >>> model.l1_path.shape == model.l2_path.shape == (5, model.X.shape[1])
    True
    """

    def __init__(
        self,
        X=None,
        y=None,
        log_lambda_range=(-1.0, 2.5),
        num_lambdas: int = 36,
        log_lambda: float = 1.0,
        seed: int = 0,
    ):
        if X is None:
            X, y, self.theta_true = rp.sample_sparse_regression(seed=seed)
        else:
            self.theta_true = None
        self.X, self.y = np.asarray(X, float), np.asarray(y, float)
        self.log_lambda_range = (float(log_lambda_range[0]), float(log_lambda_range[1]))
        self.lambdas = np.logspace(*self.log_lambda_range, num_lambdas)
        self.l1_path = rp.lasso_path(self.X, self.y, self.lambdas)
        self.l2_path = rp.ridge_path(self.X, self.y, self.lambdas)
        self.set_log_lambda(log_lambda)

    def __repr__(self):
        return (
            f"RegularizationPathModel(lambda={self.lam:.3g}, zeros_l1={self.zeros_l1}, "
            f"zeros_l2={self.zeros_l2})"
        )

    def set_log_lambda(self, log_lambda: float):
        self.log_lambda = _check_log_lambda(log_lambda, *self.log_lambda_range)
        self.index = int(np.argmin(np.abs(np.log10(self.lambdas) - self.log_lambda)))

    @property
    def lam(self) -> float:
        """The grid lambda nearest to the slider (paths are precomputed on the grid)."""
        return float(self.lambdas[self.index])

    @property
    def zeros_l1(self) -> int:
        return int(np.count_nonzero(self.l1_path[self.index] == 0.0))

    @property
    def zeros_l2(self) -> int:
        return int(np.count_nonzero(self.l2_path[self.index] == 0.0))


class _LambdaApp(_App):
    """One log-scale lambda slider over one figure of the model."""

    def __init__(self, model):
        self.model = model
        self.lambda_slider = _log_slider(self.model, "λ")
        self.view = FigureView()
        self.lambda_slider.observe(self._on_lambda, names="value")
        self.widget = ipywidgets.VBox([self.lambda_slider, self.view.output])
        self.redraw()

    def _on_lambda(self, change):
        self.model.set_log_lambda(_slider_log_lambda(change["new"], self.model))
        self.redraw()


class RegularizationPathApp(_LambdaApp):
    """A lambda slider over the L1 and L2 paths side by side; titles count the exact zeros.

    Parameters
    ----------
    model : RegularizationPathModel, optional
        Built from ``model_arguments`` when None.
    **model_arguments
        Passed to ``RegularizationPathModel``.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = RegularizationPathApp(num_lambdas=5)
    >>> app.model.l1_path.shape[0]
    5
    """

    def __init__(self, model: RegularizationPathModel | None = None, **model_arguments):
        super().__init__(model or RegularizationPathModel(**model_arguments))

    def draw(self) -> Figure:
        model = self.model
        return plots.plot_regularization_paths(
            model.lambdas, model.l1_path, model.l2_path, current_lambda=model.lam
        )


# --- 3. the diamond and the circle -------------------------------------------------------------


class ConstraintRegionModel:
    """A 2-weight least-squares problem and its L1 and L2 solutions at the current lambda.

    The default data has one strong and one weak, correlated feature, so the lasso solution sits
    on a corner of the diamond (theta_2 = 0 exactly) over a wide range of lambda.

    Parameters
    ----------
    X, y : array_like, optional
        Features ``(n, 2)`` and targets ``(n,)``; the default correlated data when None.
    log_lambda_range : tuple of float, default (-1.0, 2.2)
        log10 of the smallest and largest lambda.
    log_lambda : float, default 1.6
        log10 of the current lambda.
    grid_size : int, default 121
        Points per axis of the loss contour grid.
    seed : int, default 0
        Seed of the default data.

    Examples
    --------
    >>> model = ConstraintRegionModel(grid_size=11)
    >>> float(model.theta_l1[1])  # the lasso solution sits on a corner of the diamond
    0.0
    """

    def __init__(
        self,
        X=None,
        y=None,
        log_lambda_range=(-1.0, 2.2),
        log_lambda: float = 1.6,
        grid_size: int = 121,
        seed: int = 0,
    ):
        if X is None:
            rng = np.random.default_rng(seed)
            X = rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 1.0]], size=40)
            X = (X - X.mean(axis=0)) / X.std(axis=0)
            y = X @ np.array([2.0, 0.5]) + 0.8 * rng.standard_normal(40)
            y = y - y.mean()
        self.X, self.y = np.asarray(X, float), np.asarray(y, float)
        self.log_lambda_range = (float(log_lambda_range[0]), float(log_lambda_range[1]))
        self.theta_unregularized = rp.ridge_fit(self.X, self.y, 0.0)
        extent = 1.4 * float(np.max(np.abs(self.theta_unregularized))) + 0.2
        self.theta_1 = np.linspace(-extent, extent, grid_size)
        self.theta_2 = np.linspace(-extent, extent, grid_size)
        self.losses = rp.loss_grid(self.X, self.y, self.theta_1, self.theta_2)
        self.set_log_lambda(log_lambda)

    def __repr__(self):
        return (
            f"ConstraintRegionModel(lambda={self.lam:.3g}, theta_l1={self.theta_l1.round(3)}, "
            f"theta_l2={self.theta_l2.round(3)})"
        )

    def set_log_lambda(self, log_lambda: float):
        self.log_lambda = _check_log_lambda(log_lambda, *self.log_lambda_range)
        self.theta_l1 = rp.lasso_fit(self.X, self.y, self.lam)
        self.theta_l2 = rp.ridge_fit(self.X, self.y, self.lam)

    @property
    def lam(self) -> float:
        return float(10.0**self.log_lambda)


class ConstraintRegionApp(_LambdaApp):
    """A lambda slider moving the L1 (diamond) and L2 (circle) solutions on the loss contours.

    Parameters
    ----------
    model : ConstraintRegionModel, optional
        Built from ``model_arguments`` when None.
    **model_arguments
        Passed to ``ConstraintRegionModel``.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = ConstraintRegionApp(grid_size=11)
    >>> app.model.theta_l2.shape
    (2,)
    """

    def __init__(self, model: ConstraintRegionModel | None = None, **model_arguments):
        super().__init__(model or ConstraintRegionModel(**model_arguments))

    def draw(self) -> Figure:
        model = self.model
        return plots.plot_constraint_regions(
            model.theta_1,
            model.theta_2,
            model.losses,
            model.theta_unregularized,
            model.theta_l1,
            model.theta_l2,
            loss_at_l1=0.5 * rp.mean_squared_error(model.X, model.y, model.theta_l1),
            loss_at_l2=0.5 * rp.mean_squared_error(model.X, model.y, model.theta_l2),
        )
