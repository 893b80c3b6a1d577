"""The stability zoo as a sweep: one ``stability-network`` run per network.

A :class:`StabilityConfig` names architectures and seeds;
:func:`network_configs` splits it into one :class:`NetworkConfig` per
network (architecture, seed, checkpoint, and every shared field, declared
once in :class:`StabilityConfig` and copied), :func:`sweep_spec` makes them
one sweep, and :data:`NETWORK_EXPERIMENT` trains and measures one of them
(:func:`~symscape.experiments.stability.network._one_network`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from symscape.config import Interval, JsonConfig, Text, param
from symscape.experiments.stability.config import StabilityConfig
from symscape.experiments.stability.network import _load_data, _one_network, _reference, _scales
from symscape.runnable import Experiment
from symscape.runtime import torch_threads

__all__ = ["NETWORK_EXPERIMENT", "NetworkConfig", "network_configs", "sweep_spec"]

# a stability run's fields that one network shares with the others; the rest is per network
_PER_NETWORK = {"architectures": "architecture", "seeds": "seed", "checkpoints": "checkpoint"}
_SHARED = tuple(f.name for f in dataclasses.fields(StabilityConfig) if f.name not in _PER_NETWORK)


def _network_post_init(self) -> None:
    """Checked as the stability run of this one network; values as that run spells them."""
    config = self.stability_config()
    for name in _SHARED:
        object.__setattr__(self, name, getattr(config, name))
    object.__setattr__(self, "architecture", config.architectures[0])
    object.__setattr__(self, "seed", config.seeds[0])


def _stability_config(self) -> StabilityConfig:
    """The :class:`StabilityConfig` of this one network (one architecture, one seed)."""
    return StabilityConfig(
        **{name: getattr(self, name) for name in _SHARED},
        architectures=(self.architecture,),
        seeds=(self.seed,),
        checkpoints={self.architecture: self.checkpoint} if self.checkpoint else {},
    )


def _network_fields() -> list[tuple[str, Any, dataclasses.Field]]:
    """The fields of :class:`NetworkConfig`: the per-network three, then the shared ones."""
    out: list[tuple[str, Any, dataclasses.Field]] = [
        (
            "architecture",
            "str",
            param(
                StabilityConfig.architectures[0],
                "the network: fc, lenet, vgg or resnet18, optionally :WIDTH",
                Text("an architecture spec"),
            ),
        ),
        ("seed", "int", param(0, "its initialisation and training seed", Interval(int, 0, None))),
        (
            "checkpoint",
            "str",
            param("", "a state-dict file to measure instead of training ('': train)", Text()),
        ),
    ]
    for f in dataclasses.fields(StabilityConfig):
        if f.name in _SHARED:
            copy = dataclasses.field(
                default=f.default, default_factory=f.default_factory, metadata=f.metadata
            )
            out.append((f.name, f.type, copy))
    return out


# One network of a stability run, a sweep run of its own (``stability-network``): the
# architecture spec, the seed, the checkpoint to load instead of training ("": train), and
# every other field of StabilityConfig, declared there once and copied here.
NetworkConfig = dataclasses.make_dataclass(
    "NetworkConfig",
    _network_fields(),
    bases=(JsonConfig,),
    frozen=True,
    namespace={
        "__module__": __name__,
        "__doc__": "One network (architecture, seed, checkpoint) of a stability run.",
        "NAMES": StabilityConfig.NAMES,
        "UNLIMITED": StabilityConfig.UNLIMITED,
        "__post_init__": _network_post_init,
        "stability_config": _stability_config,
    },
)


def network_configs(config: StabilityConfig) -> list:
    """One :class:`NetworkConfig` per network of ``config``: architecture by architecture,
    seed by seed (the order of ``record["runs"]``)."""
    shared = {name: getattr(config, name) for name in _SHARED}
    return [
        NetworkConfig(
            architecture=spec, seed=seed, checkpoint=config.checkpoints.get(spec, ""), **shared
        )
        for spec in config.architectures
        for seed in config.seeds
    ]


def _network_run(network) -> dict[str, Any]:
    """The entry of one network (see :func:`run`) and its ``seconds``."""
    config = network.stability_config()
    with torch_threads(config.threads):
        data = _load_data(config)
        temps, deltas = _scales(config, tuple(data.x_test.shape[-2:]))
        entry, seconds = _one_network(
            network.architecture, network.seed, data, config, temps, _reference(deltas)
        )
    return {**entry, "seconds": seconds}


def _network_status(record: Mapping[str, Any]) -> str:
    return "diverged" if record["trained"].get("status") == "diverged" else "done"


NETWORK_EXPERIMENT = Experiment(
    name="stability-network",
    config=NetworkConfig,
    run=_network_run,
    status=_network_status,
)


def sweep_spec(config: StabilityConfig):
    """The sweep of ``config``: one run per network, in the order of :func:`network_configs`."""
    from symscape.sweep import SweepSpec

    networks = network_configs(config)
    fixed = {name: value for name, value in networks[0].to_dict().items() if name in _SHARED}
    per_network = {
        name: [network.to_dict()[name] for network in networks]
        for name in ("architecture", "seed", "checkpoint")
    }
    return SweepSpec(
        "stability-network", f"stability-{config.dataset}", fixed, {}, (per_network,), None
    )
