r"""An E(3)-equivariant network on point clouds: tensor-product message passing (e3nn).

A cloud is ``n`` points at positions ``r_a ∈ ℝ³`` carrying features ``x_a`` in
the irreps ``irreps_in`` (by default the constant scalar 1). Each layer maps

    x_a ← σ( S x_a + L_out Σ_{b ∈ N(a)} (L_in x_b) ⊗_{w_ab} Y(r̂_ab) / k ),
    w_ab = MLP(B(|r_ab|)),

with ``r_ab = r_b − r_a``, ``N(a)`` the other points closer than ``radius``
(the radius graph, from ``torch.cdist``), ``Y = (Y⁰, …, Y^{l_max})`` the real
spherical harmonics (component normalisation, ‖Y^l‖² = 2l + 1), ``⊗_w`` e3nn's
channel-wise tensor product ("uvu": one learned weight per channel and path,
every path |l₁ − l₂| ≤ l₃ ≤ l₁ + l₂ with p₃ = p₁p₂ that reaches the layer's
irreps), ``B`` a smooth finite radial basis of the edge length whose functions
vanish with all their derivatives at ``radius`` (a smooth cutoff: an edge
crossing the radius enters with weight zero), ``S``, ``L_in``, ``L_out``
equivariant linear maps, ``k = num_neighbors`` the typical number of
neighbours (dividing by it keeps the features of order one when the
messages add up coherently) and ``σ`` the gated
non-linearity: even scalars through SiLU, odd scalars through tanh, each l > 0
irrep multiplied by its own sigmoid gate scalar. The last layer has no gate and
outputs ``irreps_out``, summed or averaged over the points of each cloud
(``pool="sum"``, ``"mean"``) or kept per point (``"none"``).

Only differences of positions enter (translations), every operation maps each
irrep by its own D(g) (rotations, and inversion through the parities), and
points enter through sums (permutations): the network is E(3)-equivariant up
to rounding. Parameters are drawn in float64 from ``seed`` and then cast, so
the float32 network is the float64 one rounded, and casting a network with
``.to(dtype)`` recomputes the Wigner 3j constants in the new precision.

>>> import pytest; _ = pytest.importorskip("e3nn")  # the optional dependency
>>> import torch
>>> from symscape.equivariant import EquivariantNetwork
>>> from symscape.measure.equivariance import random_rotations, representation_matrix
>>> net = EquivariantNetwork(irreps_out="0e + 1o", layers=2, multiplicity=4, dtype=torch.float64)
>>> positions = torch.randn(5, 12, 3, dtype=torch.float64)    # 5 clouds of 12 points
>>> R = random_rotations(1)[0]
>>> D = representation_matrix(net.irreps_out, R)               # 4 x 4: a scalar and a vector
>>> bool((net(positions @ R.T) - net(positions) @ D.T).abs().max() < 1e-12)
True
"""

from __future__ import annotations

import contextlib
import numbers
import re
from collections.abc import Sequence

import torch

from symscape.equivariant import as_irreps, require_e3nn
from symscape.errors import InvalidOptionError

try:
    from e3nn import o3
    from e3nn.math import soft_one_hot_linspace
    from e3nn.nn import FullyConnectedNet, Gate
except ImportError:  # the constructors call require_e3nn(), which says how to install it
    o3 = None

__all__ = [
    "POOLS",
    "EquivariantEnsemble",
    "EquivariantNetwork",
    "channelwise_tensor_product",
    "exact_constants",
    "hidden_irreps",
    "radius_graph",
]

POOLS = ("sum", "mean", "none")
_W3J = re.compile(r"_w3j_(\d+)_(\d+)_(\d+)$")


# --------------------------------------------------------------------------- validation


def _integer(value, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidOptionError(
            f"{name}={value!r} must be an integer >= {minimum}", fix=f"pass {name} >= {minimum}"
        )
    return int(value)


def _positive(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise InvalidOptionError(
            f"{name}={value!r} must be a positive number", fix=f"pass {name} > 0"
        )
    return float(value)


def _floating_dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise InvalidOptionError(
            f"dtype={dtype!r} is not supported", fix="use torch.float32 or torch.float64"
        )
    return dtype


# --------------------------------------------------------------------------- building blocks


def hidden_irreps(multiplicity: int, l_max: int):
    """``multiplicity`` copies of every irrep ``l ≤ l_max`` of both parities, as e3nn ``Irreps``.

    >>> import pytest; _ = pytest.importorskip("e3nn")
    >>> str(hidden_irreps(4, 1))
    '4x0e+4x0o+4x1o+4x1e'
    """
    require_e3nn()
    multiplicity = _integer(multiplicity, "multiplicity", 1)
    l_max = _integer(l_max, "l_max", 0)
    natural = [(-1) ** degree for degree in range(l_max + 1)]  # the parity of Y^l first
    return o3.Irreps(
        [
            (multiplicity, (degree, p * natural[degree]))
            for degree in range(l_max + 1)
            for p in (1, -1)
        ]
    )


@torch.compiler.disable  # data-dependent shapes: run eagerly, the rest of the model compiles
def radius_graph(positions: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges ``(sender, receiver)`` between distinct points of a cloud closer than ``radius``.

    ``positions [B, n, 3]`` holds B clouds of n points; node ``b·n + i`` is
    point i of cloud b. Distances come from ``torch.cdist`` without the
    matrix-product shortcut, so that they do not lose precision when the
    cloud is far from the origin; coincident points are not linked. Under
    ``torch.compile`` it runs eagerly and marks the number of edges dynamic,
    so that the rest of the model compiles once for every graph.

    >>> positions = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [3, 0, 0]]])
    >>> [t.tolist() for t in radius_graph(positions, 1.5)]
    [[1, 0], [0, 1]]
    """
    radius = _positive(radius, "radius")
    n = positions.shape[-2]
    distances = torch.cdist(positions, positions, compute_mode="donot_use_mm_for_euclid_dist")
    linked = (distances < radius) & (distances > 0)
    cloud, receiver, sender = linked.nonzero(as_tuple=True)
    sender, receiver = cloud * n + sender, cloud * n + receiver
    for edges in (sender, receiver):  # torch.compile: one graph for any number of edges
        torch._dynamo.maybe_mark_dynamic(edges, 0)
    return sender, receiver


def _reachable(irreps_in, irreps_sh) -> set:
    """The irreps that a tensor product of ``irreps_in`` with ``irreps_sh`` can produce."""
    return {ir3 for _, ir1 in irreps_in for _, ir2 in irreps_sh for ir3 in ir1 * ir2}


def channelwise_tensor_product(irreps_in, irreps_sh, targets: set):
    """e3nn's channel-wise ("uvu") tensor product onto every irrep type in ``targets``.

    Channel u of each input irrep meets each irrep of ``irreps_sh`` along
    every allowed path, with one weight per channel and path, given per edge
    (``shared_weights=False``). One output block per path, in the order of
    the paths (irreps_in, then irreps_sh, then l₃), so the layout is e3nn's.
    """
    require_e3nn()
    blocks, instructions = [], []
    for i1, (mul, ir1) in enumerate(irreps_in):
        for i2, (_, ir2) in enumerate(irreps_sh):
            for ir3 in ir1 * ir2:
                if ir3 in targets:
                    instructions.append((i1, i2, len(blocks), "uvu", True))
                    blocks.append((mul, ir3))
    return o3.TensorProduct(
        irreps_in,
        irreps_sh,
        o3.Irreps(blocks),
        instructions,
        shared_weights=False,
        internal_weights=False,
    )


class Convolution(torch.nn.Module):
    """One message-passing step ``S x_a + L_out Σ_b (L_in x_b) ⊗_w Y(r̂_ab) / k`` (no gate)."""

    def __init__(self, irreps_in, irreps_sh, irreps_out, n_basis, radial_width, num_neighbors):
        super().__init__()
        self.irreps_in, self.irreps_out = irreps_in, irreps_out
        self.num_neighbors = num_neighbors
        self.linear_in = o3.Linear(irreps_in, irreps_in)
        self.tensor_product = channelwise_tensor_product(
            irreps_in, irreps_sh, {ir for _, ir in irreps_out}
        )
        self.radial = FullyConnectedNet(
            [n_basis, radial_width, self.tensor_product.weight_numel], torch.nn.functional.silu
        )
        self.linear_out = o3.Linear(self.tensor_product.irreps_out, irreps_out)
        self.self_connection = o3.Linear(irreps_in, irreps_out)

    def forward(self, x, sender, receiver, sh, basis):
        """``x [N, irreps_in.dim]`` → ``[N, irreps_out.dim]``, edges ``sender → receiver``."""
        messages = self.tensor_product(self.linear_in(x)[sender], sh, self.radial(basis))
        summed = messages.new_zeros(len(x), messages.shape[1]).index_add(0, receiver, messages)
        return self.self_connection(x) + self.linear_out(summed) / self.num_neighbors


def _gate(irreps_target, reachable):
    """The gate for the reachable part of ``irreps_target``, and the irreps it takes in."""
    kept = o3.Irreps([(mul, ir) for mul, ir in irreps_target if ir in reachable]).simplify()
    scalars = o3.Irreps([(mul, ir) for mul, ir in kept if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in kept if ir.l > 0])
    activations = [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
    gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
    gate = Gate(scalars, activations, gates, [torch.sigmoid] * len(gates), gated)
    return gate, gate.irreps_in


@contextlib.contextmanager
def _seeded_float64(seed: int):
    """Draw parameters in float64 from ``seed``; the global generator and dtype are restored."""
    previous = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_default_dtype(torch.float64)
        try:
            yield
        finally:
            torch.set_default_dtype(previous)


def exact_constants(module: torch.nn.Module) -> torch.nn.Module:
    """Recompute e3nn's Wigner 3j buffers of ``module`` in their current dtype (in place).

    A cast to float64 would otherwise keep 3j coefficients rounded to float32
    and limit the equivariance of the float64 model to ~1e-7.
    """
    require_e3nn()
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            match = _W3J.search(name)
            if match is not None and buffer.is_floating_point():
                l1, l2, l3 = (int(g) for g in match.groups())
                buffer.copy_(o3.wigner_3j(l1, l2, l3, dtype=torch.float64).to(buffer))
    return module


# --------------------------------------------------------------------------- the network


class EquivariantNetwork(torch.nn.Module):
    """E(3)-equivariant message passing on point clouds ``[B, n, 3] → [B, irreps_out.dim]``.

    Parameters
    ----------
    irreps_in:
        Irreps of the input features of each point, or ``None`` (each point
        carries the scalar 1 and ``forward`` takes positions only).
    irreps_out:
        Irreps of the output, e.g. ``"0e"`` (an invariant), ``"1o"`` (a vector).
    l_max:
        Highest degree of the spherical harmonics of the edges, and of the
        default hidden irreps.
    layers:
        Number of message-passing layers (the last one outputs ``irreps_out``).
    multiplicity, irreps_hidden:
        Hidden irreps: ``multiplicity`` copies of each irrep up to ``l_max`` of
        both parities (default), or ``irreps_hidden``, one irreps string for
        every hidden layer or a list of ``layers − 1`` of them. Irreps that no
        tensor product path can reach from the layer's input are dropped.
    radius, n_basis, radial_width, num_neighbors:
        Cutoff of the radius graph, number of radial basis functions, width
        of the radial MLP, and the typical number of neighbours, which
        divides the sum over messages.
    pool:
        ``"sum"``, ``"mean"`` over the points of a cloud, or ``"none"``
        (per-point outputs ``[B, n, irreps_out.dim]``).
    seed, dtype, device:
        The parameters follow from ``seed`` alone (drawn in float64, then cast).

    ``forward(positions, features=None)`` takes ``positions [B, n, 3]`` (or
    ``[n, 3]``: one cloud, no batch axis in the output) and, when ``irreps_in``
    is given, ``features [B, n, irreps_in.dim]``.
    """

    def __init__(
        self,
        irreps_in=None,
        irreps_out="0e",
        *,
        l_max: int = 2,
        layers: int = 3,
        multiplicity: int = 8,
        irreps_hidden=None,
        radius: float = 2.0,
        n_basis: int = 8,
        radial_width: int = 16,
        num_neighbors: float = 8.0,
        pool: str = "sum",
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        require_e3nn()
        self.l_max = _integer(l_max, "l_max", 0)
        self.layers = _integer(layers, "layers", 1)
        self.seed = _integer(seed, "seed", 0)
        self.radius = _positive(radius, "radius")
        self.n_basis = _integer(n_basis, "n_basis", 1)
        radial_width = _integer(radial_width, "radial_width", 1)
        num_neighbors = _positive(num_neighbors, "num_neighbors")
        if pool not in POOLS:
            raise InvalidOptionError(f"pool={pool!r} is not known", fix=f"use one of {POOLS}")
        self.pool = pool
        dtype = _floating_dtype(dtype)
        self.irreps_in = None if irreps_in is None else as_irreps(irreps_in, "irreps_in")
        self.irreps_out = as_irreps(irreps_out, "irreps_out")
        if self.irreps_out.dim == 0 or (self.irreps_in is not None and self.irreps_in.dim == 0):
            raise InvalidOptionError(
                f"irreps_in={irreps_in!r}, irreps_out={irreps_out!r}: empty irreps",
                fix="give at least one irrep, e.g. '0e'",
            )
        hidden = self._hidden(irreps_hidden, multiplicity)
        self.irreps_sh = o3.Irreps.spherical_harmonics(self.l_max)

        with _seeded_float64(self.seed):
            self.spherical_harmonics = o3.SphericalHarmonics(
                self.irreps_sh, normalize=True, normalization="component"
            )
            irreps = self.irreps_in if self.irreps_in is not None else o3.Irreps("0e")
            self.convolutions = torch.nn.ModuleList()
            self.gates = torch.nn.ModuleList()
            options = (self.n_basis, radial_width, num_neighbors)
            for target in hidden:
                gate, conv_out = _gate(target, _reachable(irreps, self.irreps_sh))
                if conv_out.dim == 0:
                    raise InvalidOptionError(
                        f"irreps_hidden={str(target)!r}: no irrep is reachable from {irreps}",
                        fix="include scalars '0e' in the hidden irreps",
                    )
                self.convolutions.append(Convolution(irreps, self.irreps_sh, conv_out, *options))
                self.gates.append(gate)
                irreps = gate.irreps_out
            missing = [
                str(ir) for _, ir in self.irreps_out if ir not in _reachable(irreps, self.irreps_sh)
            ]
            if missing:
                raise InvalidOptionError(
                    f"irreps_out={str(self.irreps_out)!r}: {', '.join(missing)} cannot be reached "
                    f"from the last hidden irreps {irreps} with l_max={self.l_max}",
                    fix="raise l_max or layers, or add the missing parities to the hidden irreps",
                )
            self.convolutions.append(Convolution(irreps, self.irreps_sh, self.irreps_out, *options))
        self.irreps_hidden = [gate.irreps_out for gate in self.gates]
        self.to(device=device, dtype=dtype)

    def _hidden(self, irreps_hidden, multiplicity) -> list:
        n_hidden = self.layers - 1
        if irreps_hidden is None:
            return [hidden_irreps(multiplicity, self.l_max)] * n_hidden
        if isinstance(irreps_hidden, str) or not isinstance(irreps_hidden, Sequence):
            return [as_irreps(irreps_hidden, "irreps_hidden")] * n_hidden
        if len(irreps_hidden) != n_hidden:
            raise InvalidOptionError(
                f"irreps_hidden has {len(irreps_hidden)} entries for layers={self.layers}",
                fix=f"give one irreps per hidden layer ({n_hidden}), or a single string for all",
            )
        return [as_irreps(ir, f"irreps_hidden[{i}]") for i, ir in enumerate(irreps_hidden)]

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        return exact_constants(self)

    # ----------------------------------------------------------------------- forward

    def _check_inputs(self, positions, features):
        """Validated ``(positions [B, n, 3], node features [B·n, d], single cloud?)``."""
        if not isinstance(positions, torch.Tensor) or positions.ndim not in (2, 3):
            got = tuple(positions.shape) if isinstance(positions, torch.Tensor) else type(positions)
            raise InvalidOptionError(
                f"positions must be a tensor [B, n, 3] or [n, 3], got {got}",
                fix="pass the coordinates of the points, one row per point",
            )
        single = positions.ndim == 2
        positions = positions[None] if single else positions
        if positions.shape[-1] != 3 or not positions.is_floating_point():
            raise InvalidOptionError(
                f"positions {tuple(positions.shape)} of {positions.dtype} are not 3D coordinates",
                fix="pass floating tensors whose last axis has size 3",
            )
        batch, n = positions.shape[:2]
        if self.irreps_in is None:
            if features is not None:
                raise InvalidOptionError(
                    "features were passed to a network built with irreps_in=None",
                    fix="build the network with irreps_in=... or call it on positions only",
                )
            return positions, positions.new_ones(batch * n, 1), single
        dim = self.irreps_in.dim
        expected = (n, dim) if single else (batch, n, dim)
        if not isinstance(features, torch.Tensor) or tuple(features.shape) != expected:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else features
            raise InvalidOptionError(
                f"features must be {expected} for irreps_in={str(self.irreps_in)!r}, got {got}",
                fix="pass one feature vector of irreps_in.dim per point",
            )
        return positions, features.reshape(batch * n, dim).to(positions.dtype), single

    def edge_features(self, positions, sender, receiver):
        """Spherical harmonics ``[E, (l_max+1)²]`` and radial basis ``[E, n_basis]`` of edges."""
        vectors = positions[sender] - positions[receiver]
        basis = soft_one_hot_linspace(
            vectors.norm(dim=1), 0.0, self.radius, self.n_basis, "smooth_finite", cutoff=True
        )
        return self.spherical_harmonics(vectors), basis * self.n_basis**0.5

    def propagate(self, positions, x, sender, receiver):
        """Per-point outputs ``[N, irreps_out.dim]`` from flat positions ``[N, 3]`` and features."""
        sh, basis = self.edge_features(positions, sender, receiver)
        for convolution, gate in zip(self.convolutions[:-1], self.gates, strict=True):
            x = gate(convolution(x, sender, receiver, sh, basis))
        return self.convolutions[-1](x, sender, receiver, sh, basis)

    def _pool(self, out, shape, single):
        out = out.reshape(*shape, -1)
        if self.pool == "sum":
            out = out.sum(1)
        elif self.pool == "mean":
            out = out.mean(1)
        return out[0] if single else out

    def forward(self, positions, features=None):
        """Outputs ``[B, irreps_out.dim]`` (``[B, n, irreps_out.dim]`` with ``pool="none"``)."""
        positions, x, single = self._check_inputs(positions, features)
        sender, receiver = radius_graph(positions, self.radius)
        out = self.propagate(positions.reshape(-1, 3), x, sender, receiver)
        return self._pool(out, positions.shape[:2], single)


class EquivariantEnsemble(torch.nn.Module):
    """E equivariant networks; member i is exactly ``EquivariantNetwork(seed=seeds[i], **options)``.

    ``forward`` builds the radius graph once and returns ``[E, B, irreps_out.dim]``.
    """

    def __init__(self, seeds: Sequence[int], **options):
        super().__init__()
        if isinstance(seeds, numbers.Integral) or not isinstance(seeds, Sequence) or not seeds:
            raise InvalidOptionError(
                f"seeds={seeds!r} is not a non-empty list of seeds", fix="pass e.g. seeds=[0, 1, 2]"
            )
        seeds = [_integer(s, "seed", 0) for s in seeds]
        if len(set(seeds)) != len(seeds):
            raise InvalidOptionError(
                f"seeds={seeds} repeat a seed, so members would be identical",
                fix="pass distinct seeds",
            )
        if "seed" in options:
            raise InvalidOptionError("seed= given to an ensemble", fix="pass seeds=[...] instead")
        self.seeds = seeds
        self.members = torch.nn.ModuleList(EquivariantNetwork(seed=s, **options) for s in seeds)

    def forward(self, positions, features=None):
        """``[E, B, irreps_out.dim]``: every member on the same clouds."""
        first = self.members[0]
        positions, x, single = first._check_inputs(positions, features)
        sender, receiver = radius_graph(positions, first.radius)
        flat = positions.reshape(-1, 3)
        return torch.stack(
            [
                member._pool(
                    member.propagate(flat, x, sender, receiver), positions.shape[:2], single
                )
                for member in self.members
            ]
        )
