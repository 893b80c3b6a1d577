"""What the dynamics train: the α-centred network, or its frozen-kernel (lazy) limit.

Both expose the same functional interface over parameters with a leading
ensemble axis, so every dynamics in :mod:`symscape.train.dynamics` runs on
either:

* ``initial()``: the parameters at t = 0;
* ``evaluate(params) -> Evaluation``: loss per member ``[E]``, its gradient
  (the direction the flow follows) and the training outputs ``[E, P, k]``;
* ``test_outputs(params)``: outputs on the test set;
* ``sq_norm(grad)``: the squared norm of a gradient in weight space ``[E]``;
* ``weight_change(params)`` and, when ``kernel_points > 0``,
  ``kernel_change(params)``: ``‖Θ − Θ₀‖_F / ‖Θ₀‖_F`` of the NTK of ``f`` on
  the first ``kernel_points`` training points (:mod:`symscape.measure.ntk`;
  the same for ``F``, whose kernel is α² times it), per member ``[E]``.

:class:`CenteredNetwork` is ``F(w, x) = α (f(w, x) − f(w₀, x))`` trained on
``(1/(α² P)) Σ_μ ℓ_μ`` (SCIENCE.md §3). :class:`FrozenKernel` is its α → ∞
limit: ``F = Θ₀ a`` with Θ₀ the tangent kernel of ``f`` at ``w₀``, and
``da/dt = −(1/P) ∂ℓ/∂F``, so that ``dF/dt = −(1/P) Θ₀ ∂ℓ/∂F`` exactly as
the linearised network's gradient flow; weight-space norms use Θ₀ as the metric.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import torch

from symscape.data import Dataset
from symscape.errors import InvalidOptionError
from symscape.measure.ntk import kernel_change, ntk
from symscape.nets import Architecture, Params
from symscape.train.losses import loss_per_point

CACHE_BYTES = 2**20  # about one core's L2 cache

__all__ = ["CenteredNetwork", "Evaluation", "FrozenKernel", "LossSpec"]


@dataclasses.dataclass
class Evaluation:
    loss: torch.Tensor  # [E]
    grad: Params  # same shapes as the parameters
    output: torch.Tensor  # [E, P, k] training outputs F


@dataclasses.dataclass(frozen=True)
class LossSpec:
    name: str = "quadratic_hinge"
    kappa: float = 1.0
    beta: float = 20.0


class CenteredNetwork:
    """The α-centred ensemble ``F = α (f(w) − f(w₀))`` on a fixed training set."""

    def __init__(
        self,
        arch: Architecture,
        params0: Params,
        data: Dataset,
        alpha: float = 1.0,
        loss: LossSpec = LossSpec(),
        kernel_points: int = 0,
    ):
        if not alpha > 0:
            raise InvalidOptionError(f"alpha={alpha} must be > 0", fix="use e.g. alpha=1")
        self.arch, self.alpha, self.loss = arch, float(alpha), loss
        self.x_train, self.y_train = data.x_train, data.y_train
        self.x_test, self.y_test = data.x_test, data.y_test
        x_train, x_test = data.x_train, data.x_test
        self.params0 = {name: p.detach().clone() for name, p in params0.items()}
        with torch.no_grad():
            self.f0_train = arch.apply(self.params0, x_train)
            self.f0_test = arch.apply(self.params0, x_test)
        self.norm0 = self.sq_norm(self.params0).sqrt()
        self.kernel_points = _check_kernel_points(kernel_points, len(x_train))
        self.kernel0 = ntk(arch, self.params0, x_train[:kernel_points]) if kernel_points else None

    def initial(self) -> Params:
        return {name: p.clone() for name, p in self.params0.items()}

    def outputs(self, params: Mapping[str, torch.Tensor], x, f0) -> torch.Tensor:
        return self.alpha * (self.arch.apply(params, x) - f0)

    def chunk_size(self, points: int) -> int:
        """Members evaluated together: on CPU, as many as keep one layer's activations
        within ``CACHE_BYTES`` (streaming larger arrays through memory for every
        element-wise operation costs more than the batching gains), at least one;
        on GPU, all."""
        E = next(iter(self.params0.values())).shape[0]
        if self.x_train.device.type != "cpu":
            return E
        # one member's widest activation: channels × pixels for images, units otherwise
        pixels = math.prod(self.x_train.shape[2:]) if self.x_train.ndim > 2 else 1
        widest = max(layer.shape[0] for layer in self.arch.layers()) * pixels
        per_member = points * widest * self.x_train.element_size()
        return max(1, min(E, CACHE_BYTES // per_member))

    def _evaluate(self, params: Params, x, y, f0) -> Evaluation:
        E = next(iter(params.values())).shape[0]
        step = self.chunk_size(len(x))
        parts = [
            self._evaluate_members(params, x, y, f0, slice(i, i + step)) for i in range(0, E, step)
        ]
        if len(parts) == 1:
            return parts[0]
        return Evaluation(
            torch.cat([p.loss for p in parts]),
            {n: torch.cat([p.grad[n] for p in parts]) for n in parts[0].grad},
            torch.cat([p.output for p in parts]),
        )

    def _evaluate_members(self, params: Params, x, y, f0, members: slice) -> Evaluation:
        leaves = {name: p[members].detach().requires_grad_(True) for name, p in params.items()}
        with torch.enable_grad():
            out = self.outputs(leaves, x, f0[members])
            per_point = loss_per_point(self.loss.name, out, y, self.loss.kappa, self.loss.beta)
            loss = per_point.mean(-1) / self.alpha**2
            grads = torch.autograd.grad(loss.sum(), list(leaves.values()))
        return Evaluation(loss.detach(), dict(zip(leaves, grads, strict=True)), out.detach())

    def evaluate(self, params: Params) -> Evaluation:
        """Loss, gradient and outputs on the whole training set."""
        return self._evaluate(params, self.x_train, self.y_train, self.f0_train)

    def hessian_vector(self, params: Params, vectors: Params) -> Params:
        """Exact Hessian-vector products of each member's loss (double backward)."""
        leaves = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        with torch.enable_grad():
            out = self.outputs(leaves, self.x_train, self.f0_train)
            per_point = loss_per_point(
                self.loss.name, out, self.y_train, self.loss.kappa, self.loss.beta
            )
            loss = per_point.mean(-1) / self.alpha**2
            grads = torch.autograd.grad(loss.sum(), list(leaves.values()), create_graph=True)
            dot = sum((g * vectors[name]).sum() for name, g in zip(leaves, grads, strict=True))
            products = torch.autograd.grad(dot, list(leaves.values()))
        return dict(zip(leaves, (p.detach() for p in products), strict=True))

    def batch_gradient(self, params: Params, batch: torch.Tensor) -> Params:
        """The gradient of the loss on the training points ``batch`` (indices)."""
        f0 = self.f0_train[:, batch]
        return self._evaluate(params, self.x_train[batch], self.y_train[batch], f0).grad

    def train_outputs(self, params: Params) -> torch.Tensor:
        with torch.no_grad():
            return self.outputs(params, self.x_train, self.f0_train)

    def test_outputs(self, params: Params) -> torch.Tensor:
        with torch.no_grad():
            return self.outputs(params, self.x_test, self.f0_test)

    @staticmethod
    def sq_norm(tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(t.reshape(t.shape[0], -1).pow(2).sum(-1) for t in tensors.values())

    def weight_change(self, params: Params) -> torch.Tensor:
        """‖w − w₀‖ / ‖w₀‖ per member."""
        diff = {n: params[n] - self.params0[n] for n in params}
        return self.sq_norm(diff).sqrt() / self.norm0

    def kernel_change(self, params: Params) -> torch.Tensor:
        """‖Θ − Θ₀‖_F / ‖Θ₀‖_F per member, on the first ``kernel_points`` training points."""
        if self.kernel0 is None:
            raise InvalidOptionError("the kernel is not measured", fix="set kernel_points > 0")
        theta = ntk(self.arch, params, self.x_train[: self.kernel_points])
        return kernel_change(theta, self.kernel0)


def _check_kernel_points(value: int, P: int) -> int:
    if not 0 <= value <= P:
        raise InvalidOptionError(
            f"kernel_points={value} must be between 0 and P={P}",
            fix="measure the NTK on at most the training set (0: not at all)",
        )
    return value


class FrozenKernel:
    """The lazy limit: ``F_train = Θ₀ a``, ``F_test = Θ₀(test, train) a``, flow in ``a``."""

    def __init__(
        self,
        arch: Architecture,
        params0: Params,
        data: Dataset,
        loss: LossSpec = LossSpec(),
        kernel_train: torch.Tensor | None = None,
        kernel_test: torch.Tensor | None = None,
        kernel_points: int = 0,
    ):
        self.arch, self.loss = arch, loss
        self.y_train, self.y_test = data.y_train, data.y_test
        x_train, x_test = data.x_train, data.x_test
        P, k = len(x_train), arch.k
        theta = kernel_train if kernel_train is not None else ntk(arch, params0, x_train)
        theta_test = kernel_test if kernel_test is not None else ntk(arch, params0, x_test, x_train)
        E = theta.shape[0]
        self.theta = theta.reshape(E, P * k, P * k)
        self.theta_test = theta_test.reshape(E, len(x_test) * k, P * k)
        self.shape = (E, P, k)
        self.dtype, self.device = theta.dtype, theta.device
        self.kernel_points = _check_kernel_points(kernel_points, P)

    def initial(self) -> Params:
        return {"a": torch.zeros(self.shape, dtype=self.dtype, device=self.device)}

    def _apply(self, kernel: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        E = a.shape[0]
        return torch.bmm(kernel, a.reshape(E, -1, 1)).reshape(E, -1, self.shape[2])

    def evaluate(self, params: Params) -> Evaluation:
        a = params["a"].detach().requires_grad_(True)
        with torch.enable_grad():
            out = self._apply(self.theta, a)
            per_point = loss_per_point(
                self.loss.name, out, self.y_train, self.loss.kappa, self.loss.beta
            )
            loss = per_point.mean(-1)
            (dl_dout,) = torch.autograd.grad(loss.sum(), [out])
        return Evaluation(loss.detach(), {"a": dl_dout.detach()}, out.detach())

    def train_outputs(self, params: Params) -> torch.Tensor:
        return self._apply(self.theta, params["a"])

    def test_outputs(self, params: Params) -> torch.Tensor:
        return self._apply(self.theta_test, params["a"])

    def sq_norm(self, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Norm in weight space: ‖Jᵀ g‖² = gᵀ Θ₀ g."""
        g = tensors["a"].reshape(self.shape[0], -1, 1)
        return (g.transpose(1, 2) @ torch.bmm(self.theta, g)).reshape(-1)

    def weight_change(self, params: Params) -> torch.Tensor:
        """Not defined for the kernel limit (weights do not move as α → ∞): NaN."""
        return torch.full((self.shape[0],), float("nan"), dtype=self.dtype, device=self.device)

    def kernel_change(self, params: Params) -> torch.Tensor:
        """Zero: the kernel is frozen at Θ₀ by construction."""
        return torch.zeros(self.shape[0], dtype=self.dtype, device=self.device)
