r"""Fast paths for e3nn tensor products: ``torch.compile`` and NVIDIA cuEquivariance.

e3nn evaluates a tensor product ``x ⊗_w y → z`` as one small einsum per
path ``(i₁, i₂, i_out)``,

    z_{i_out} += c_path · w_path ⋅ C^{l₁ l₂ l₃} x_{i₁} y_{i₂},

with ``C`` the Wigner 3j symbol and ``c_path`` e3nn's normalisation. A fast
path computes the same numbers another way, without rewriting the algebra:

- ``"compile"``: the e3nn module through ``torch.compile`` (inductor), which
  fuses the per-path einsums and element-wise work. It pays once the
  compilation (tens of seconds, cached on disk by inductor across runs) is
  amortised; if compilation fails the module runs eager e3nn, with a warning.
- ``"cuequivariance"``: NVIDIA's ``cuequivariance-torch``. The segmented
  tensor product is built from the e3nn module's own instructions, 3j symbols
  and path normalisations, in e3nn's ``mul_ir`` layout, so weights and
  outputs are e3nn's, element by element. Its CUDA kernels need a GPU; on a
  CPU it runs the library's plain PyTorch method (useful to check layouts).
- ``"eager"``: e3nn itself, the reference.

:func:`check_tensor_product` compares every path with eager e3nn (forward and
gradients, float32, to 1e-5); :func:`fast_tensor_product` picks the fastest
path that passes; :func:`accelerate` does it for a whole model.

>>> import pytest; _ = pytest.importorskip("e3nn")
>>> from e3nn import o3
>>> from symscape.equivariant.fast import check_tensor_product
>>> tp = o3.FullyConnectedTensorProduct("2x0e + 2x1o", "0e + 1o", "2x0e + 1x1o + 1x1e")
>>> [(c.backend, c.ok) for c in check_tensor_product(tp, backends=["eager"])]
[('eager', True)]
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import math
import numbers
import os
import shutil
import warnings
from collections.abc import Sequence

import torch

from symscape.equivariant import require_e3nn
from symscape.equivariant.network import exact_constants
from symscape.errors import InvalidOptionError, UnknownNameError

try:
    from e3nn import o3
except ImportError:  # require_e3nn() says how to install it
    o3 = None

__all__ = [
    "BACKENDS",
    "FastTensorProduct",
    "PathCheck",
    "accelerate",
    "check_tensor_product",
    "compile_available",
    "cuequivariance_available",
    "fast_tensor_product",
]

BACKENDS = ("eager", "compile", "cuequivariance")
TOLERANCE = 1e-5
# segmented tensor product subscripts in e3nn's mul_ir layout: weights, x, y, z + 3j
_SUBSCRIPTS = {"uvw": "uvw,ui,vj,wk+ijk", "uvu": "uv,ui,vj,uk+ijk", "uuu": "u,ui,uj,uk+ijk"}


# --------------------------------------------------------------------------- availability


def compile_available() -> tuple[bool, str]:
    """``(True, "")`` if ``torch.compile`` can run here, else ``(False, why)``."""
    try:
        import torch._dynamo as dynamo
    except ImportError as err:  # pragma: no cover - torch builds without dynamo
        return False, f"torch._dynamo does not import ({err})"
    if not dynamo.is_dynamo_supported():
        return False, "torch.compile does not support this Python version"
    if not os.environ.get("CXX") and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        return False, "no C++ compiler (c++, g++, clang++ or $CXX) for inductor's CPU kernels"
    return True, ""


@functools.cache
def _cuequivariance():
    """``(cuequivariance, cuequivariance_torch)``, or the reason they do not import."""
    try:
        return (
            importlib.import_module("cuequivariance"),
            importlib.import_module("cuequivariance_torch"),
        )
    except ImportError as err:
        return f"cuequivariance-torch does not import ({err}); pip install cuequivariance-torch"


def cuequivariance_available(tensor_product=None, *, require_cuda: bool = True) -> tuple[bool, str]:
    """``(True, "")`` if cuEquivariance can run ``tensor_product``, else ``(False, why)``.

    With ``require_cuda`` (the default) it counts as available only with a
    CUDA GPU, where its kernels are; on a CPU it runs, but is no fast path.
    """
    modules = _cuequivariance()
    if isinstance(modules, str):
        return False, modules
    if require_cuda and not torch.cuda.is_available():
        return False, "cuEquivariance's kernels need a CUDA GPU and none is available"
    if tensor_product is not None:
        reason = _unsupported(tensor_product)
        if reason:
            return False, reason
    return True, ""


def _unsupported(tp) -> str:
    modes = {ins.connection_mode for ins in tp.instructions}
    if len(modes) > 1 or not modes <= set(_SUBSCRIPTS):
        known = ", ".join(sorted(_SUBSCRIPTS))
        return f"connection modes {sorted(modes)}; the cuEquivariance path takes one of {known}"
    if not all(ins.has_weight for ins in tp.instructions):
        return "instructions without weights"
    return ""


# --------------------------------------------------------------------------- the wrapper


def _first_line(err: Exception) -> str:
    """``Type: first line of the message`` (compiler errors run over many lines)."""
    lines = str(err).splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


def _cue_module(tp, method: str):
    """cuEquivariance's segmented polynomial with the weights, layout and outputs of ``tp``."""
    cue, cuet = _cuequivariance()
    (mode,) = {ins.connection_mode for ins in tp.instructions}
    d = cue.SegmentedTensorProduct.from_subscripts(_SUBSCRIPTS[mode])
    for operand, irreps in ((1, tp.irreps_in1), (2, tp.irreps_in2), (3, tp.irreps_out)):
        for mul, ir in irreps:
            d.add_segment(operand, (mul, ir.dim))
    for ins in tp.instructions:
        l1, l2, l3 = (
            irreps[i].ir.l
            for irreps, i in (
                (tp.irreps_in1, ins.i_in1),
                (tp.irreps_in2, ins.i_in2),
                (tp.irreps_out, ins.i_out),
            )
        )
        w3j = o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
        d.add_path(None, ins.i_in1, ins.i_in2, ins.i_out, c=ins.path_weight * w3j)
    return cuet.SegmentedPolynomial(cue.SegmentedPolynomial.eval_last_operand(d), method=method)


class FastTensorProduct(torch.nn.Module):
    """An e3nn tensor product through one backend: the same call ``(x, y, weight=None)``.

    It holds the e3nn module (and so its parameters): training it trains the
    e3nn module. ``backend`` is ``"eager"``, ``"compile"`` or
    ``"cuequivariance"`` (``method`` picks cuEquivariance's implementation:
    ``"fused_tp"`` on CUDA, ``"naive"`` otherwise, by default).
    """

    def __init__(self, tensor_product, backend: str = "compile", *, method: str | None = None):
        super().__init__()
        require_e3nn()
        if not isinstance(tensor_product, o3.TensorProduct):
            raise InvalidOptionError(
                f"{type(tensor_product).__name__} is not an e3nn o3.TensorProduct",
                fix="pass an e3nn tensor product (o3.TensorProduct or a subclass)",
            )
        if backend not in BACKENDS:
            raise UnknownNameError(f"unknown backend {backend!r}", fix=f"use one of {BACKENDS}")
        self.tensor_product = tensor_product
        self.backend = self.requested = backend
        self.irreps_in1 = tensor_product.irreps_in1
        self.irreps_in2 = tensor_product.irreps_in2
        self.irreps_out = tensor_product.irreps_out
        self._compiled = None
        if backend == "compile":
            ok, reason = compile_available()
            if not ok:
                self._fall_back(f"torch.compile is unavailable ({reason})")
            else:  # not registered as a submodule: its parameters are the e3nn module's
                object.__setattr__(self, "_compiled", torch.compile(tensor_product))
        elif backend == "cuequivariance":
            ok, reason = cuequivariance_available(tensor_product, require_cuda=False)
            if not ok:
                raise InvalidOptionError(
                    f"cuEquivariance cannot run this tensor product: {reason}",
                    fix="use backend='compile' or 'eager'",
                )
            if method is None:
                method = "fused_tp" if tensor_product.output_mask.is_cuda else "naive"
            self.method = method
            self.polynomial = _cue_module(tensor_product, method)

    def _fall_back(self, why: str) -> None:
        warnings.warn(f"{why}; the tensor product runs eager e3nn", RuntimeWarning, stacklevel=3)
        self.backend = "eager"
        object.__setattr__(self, "_compiled", None)

    def forward(self, x, y, weight=None):
        """``x ⊗ y`` with e3nn's weights: ``[..., irreps_out.dim]``."""
        tp = self.tensor_product
        if self.backend == "eager":
            return tp(x, y, weight)
        if self.backend == "compile":
            try:
                return self._compiled(x, y, weight)
            except Exception as err:
                out = tp(x, y, weight)  # raises the real error if the inputs are wrong
                self._fall_back(f"torch.compile failed ({_first_line(err)})")
                return out
        if weight is None:
            weight = tp.weight
        if weight.ndim == 1:
            weight = weight[None]
        batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        x = x.expand(*batch, -1).reshape(-1, x.shape[-1])
        y = y.expand(*batch, -1).reshape(-1, y.shape[-1])
        [out] = self.polynomial([weight.reshape(-1, weight.shape[-1]), x, y])
        return out.reshape(*batch, -1)


# --------------------------------------------------------------------------- checks


@dataclasses.dataclass(frozen=True)
class PathCheck:
    """How far one backend is from eager e3nn (forward, and gradients of x, y and weights)."""

    backend: str
    available: bool
    forward_error: float
    gradient_error: float
    ok: bool
    message: str = ""

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return dataclasses.asdict(self)


def _difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max |a − b| / max(1, max |b|)``: absolute for values of order one, relative beyond."""
    if b.numel() == 0:
        return 0.0
    return ((a - b).abs().max() / b.abs().max().clamp_min(1)).item()


def _compare(fast: FastTensorProduct, n: int, seed: int, dtype, tolerance: float) -> PathCheck:
    """Check ``fast`` against its own e3nn module, on ``n`` random inputs of ``dtype``."""
    tp = fast.tensor_product
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape):
        values = torch.randn(*shape, generator=generator, dtype=torch.float64)
        return values.to(tp.output_mask.device, dtype)

    x, y = draw(n, tp.irreps_in1.dim), draw(n, tp.irreps_in2.dim)
    cotangent = draw(n, tp.irreps_out.dim)
    weight = None
    if not tp.internal_weights:
        weight = draw(tp.weight_numel) if tp.shared_weights else draw(n, tp.weight_numel)

    def evaluate(module):
        leaves = [t.detach().clone().requires_grad_() for t in (x, y, weight) if t is not None]
        out = module(leaves[0], leaves[1], leaves[2] if weight is not None else None)
        if weight is None and tp.weight.numel():
            leaves.append(tp.weight)
        grads = torch.autograd.grad((out * cotangent).sum(), leaves, allow_unused=True)
        grads = [
            torch.zeros_like(t) if g is None else g for g, t in zip(grads, leaves, strict=True)
        ]
        return out.detach(), grads

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out, grads = evaluate(fast)
        except Exception as err:  # a backend that builds but cannot run these inputs
            return PathCheck(fast.requested, False, math.nan, math.nan, False, _first_line(err))
    reference, reference_grads = evaluate(tp)
    forward = _difference(out, reference)
    gradient = max(_difference(g, r) for g, r in zip(grads, reference_grads, strict=True))
    ran = fast.backend == fast.requested
    message = "" if ran else "; ".join(str(w.message) for w in caught)
    ok = ran and forward <= tolerance and gradient <= tolerance
    return PathCheck(fast.requested, ran, forward, gradient, ok, message)


def check_tensor_product(
    tensor_product,
    backends: Sequence[str] = BACKENDS,
    *,
    n: int = 64,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    tolerance: float = TOLERANCE,
) -> list[PathCheck]:
    """Compare each backend with eager e3nn on ``n`` random inputs, forward and gradients.

    The error is ``max |fast − eager| / max(1, max |eager|)`` over the outputs
    (``forward_error``) and over the gradients of x, y and the weights
    (``gradient_error``); ``ok`` when both are at most ``tolerance``. A
    backend that cannot run here is reported with ``available=False`` and
    the reason. Runs on the module's device, in ``dtype`` (on a cast copy if
    the module has another dtype).
    """
    require_e3nn()
    backends = [backends] if isinstance(backends, str) else list(backends)
    for backend in backends:
        if backend not in BACKENDS:
            raise UnknownNameError(f"unknown backend {backend!r}", fix=f"use one of {BACKENDS}")
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise InvalidOptionError(f"n={n!r} must be a positive integer", fix="pass e.g. n=64")
    tp = tensor_product
    if tp.output_mask.dtype != dtype:
        tp = exact_constants(copy.deepcopy(tp).to(dtype))
    checks = []
    for backend in backends:
        available, reason = {
            "eager": (True, ""),
            "compile": compile_available(),
            "cuequivariance": cuequivariance_available(tp, require_cuda=False),
        }[backend]
        if not available:
            checks.append(PathCheck(backend, False, math.nan, math.nan, False, reason))
        else:
            checks.append(_compare(FastTensorProduct(tp, backend), int(n), seed, dtype, tolerance))
    return checks


# --------------------------------------------------------------------------- choosing a path


def _candidates(backend: str, on_cuda: bool) -> list[str]:
    if backend == "auto":
        return (["cuequivariance"] if on_cuda else []) + ["compile", "eager"]
    if backend not in BACKENDS:
        raise UnknownNameError(
            f"unknown backend {backend!r}", fix=f"use 'auto' or one of {BACKENDS}"
        )
    return [backend]


def fast_tensor_product(tensor_product, backend: str = "auto", *, check: bool = True):
    """``tensor_product`` through the fastest path that matches eager e3nn.

    ``backend="auto"`` tries cuEquivariance (on a CUDA GPU, when installed),
    then ``torch.compile``, then eager e3nn; a named backend is used alone.
    With ``check=True`` each candidate first matches eager e3nn as in
    :func:`check_tensor_product` (in the module's dtype, to 1e-5; this
    compiles it); one that fails or cannot run is skipped with a warning that
    says why, ending at eager e3nn.
    """
    require_e3nn()
    if not isinstance(tensor_product, o3.TensorProduct):
        raise InvalidOptionError(
            f"{type(tensor_product).__name__} is not an e3nn o3.TensorProduct",
            fix="pass an e3nn tensor product (o3.TensorProduct or a subclass)",
        )
    mask = tensor_product.output_mask
    for candidate in _candidates(backend, mask.is_cuda):
        auto_cue = candidate == "cuequivariance" and backend == "auto"
        if auto_cue and not cuequivariance_available(tensor_product)[0]:
            continue
        fast = FastTensorProduct(tensor_product, candidate)
        if candidate == "eager" or not check:
            return fast
        result = _compare(fast, 64, 0, mask.dtype, TOLERANCE)
        if result.ok:
            return fast
        why = result.message or (
            f"it differs from eager e3nn by {result.forward_error:.2g} (forward) and "
            f"{result.gradient_error:.2g} (gradients)"
        )
        warnings.warn(f"{candidate} path not used: {why}", RuntimeWarning, stacklevel=2)
    return FastTensorProduct(tensor_product, "eager")


class _CompiledModel(torch.nn.Module):
    """``torch.compile(model)``, falling back to ``model`` (with a warning) if compiling fails."""

    def __init__(self, model: torch.nn.Module, **options):
        super().__init__()
        self.model = model
        object.__setattr__(self, "_compiled", torch.compile(model, **options))  # not a submodule
        self.compiled = True

    def forward(self, *args, **kwargs):
        """``model(*args, **kwargs)``, compiled when possible."""
        if not self.compiled:
            return self.model(*args, **kwargs)
        try:
            return self._compiled(*args, **kwargs)
        except Exception as err:
            out = self.model(*args, **kwargs)  # re-raises the model's own errors
            warnings.warn(
                f"torch.compile failed ({_first_line(err)}); running the model eagerly",
                RuntimeWarning,
                stacklevel=2,
            )
            self.compiled = False
            return out


def accelerate(model: torch.nn.Module, backend: str = "auto", **compile_options):
    """``model`` with its e3nn tensor products on a fast path; returns the model to call.

    ``"compile"``: the whole model through ``torch.compile`` (parameters
    shared; eager with a warning if compiling fails or is unavailable).
    ``"cuequivariance"``: every e3nn ``TensorProduct`` inside ``model`` is
    replaced, in place, by its checked cuEquivariance version. ``"auto"``:
    cuEquivariance on a CUDA model when it is installed, else compile.
    ``"eager"``: the model itself.
    """
    require_e3nn()
    if not isinstance(model, torch.nn.Module):
        raise InvalidOptionError(f"model={model!r} is not a torch.nn.Module", fix="pass a module")
    parameter = next(iter(model.parameters()), None)
    on_cuda = parameter is not None and parameter.is_cuda
    if backend == "auto":
        backend = "cuequivariance" if on_cuda and cuequivariance_available()[0] else "compile"
    _candidates(backend, on_cuda)  # validates the name
    if backend == "eager":
        return model
    if backend == "compile":
        ok, reason = compile_available()
        if not ok:
            warnings.warn(
                f"torch.compile is unavailable ({reason}); running the model eagerly",
                RuntimeWarning,
                stacklevel=2,
            )
            return model
        return _CompiledModel(model, **compile_options)
    replaced = 0
    for module in list(model.modules()):
        if isinstance(module, FastTensorProduct):  # already on a fast path
            continue
        for name, child in list(module.named_children()):
            if isinstance(child, o3.TensorProduct) and not _unsupported(child):
                setattr(module, name, fast_tensor_product(child, "cuequivariance"))
                replaced += 1
    if not replaced:
        warnings.warn(
            "accelerate: no e3nn tensor product that cuEquivariance supports in this model",
            RuntimeWarning,
            stacklevel=2,
        )
    return model
