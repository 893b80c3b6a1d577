"""Readers of the standard on-disk formats, strict about what they accept.

* IDX (MNIST, Fashion-MNIST): a big-endian header — two zero bytes, a type
  code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32,
  0x0D float32, 0x0E float64), the number of dimensions, then one uint32 per
  dimension — followed by the array. Gzipped files are recognised by their
  content, not their name.
* CIFAR-10 "python version" batches: a pickle of a dict with ``b"data"``
  (uint8 ``[n, 3072]``, channel-major) and ``b"labels"``. The unpickler only
  accepts the few numpy globals such a batch needs, so a foreign or
  malicious pickle is refused rather than executed.

Each failure names the file and what is wrong with it.
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np

from symscape.errors import DataFormatError

__all__ = ["read_cifar_batch", "read_idx", "read_maybe_gzip"]

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_maybe_gzip(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when the file is gzip (by content)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataFormatError(
                f"{path} is a damaged or truncated gzip file ({err})", fix="download it again"
            ) from None
    if path.suffix == ".gz":
        raise DataFormatError(
            f"{path} is named .gz but is not gzip-compressed",
            fix="rename it without .gz or replace it with the real file",
        )
    return raw


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a native-endian numpy array."""
    path = Path(path)
    raw = read_maybe_gzip(path)
    if len(raw) < 4:
        raise DataFormatError(
            f"{path} is too short to be an IDX file ({len(raw)} bytes)",
            fix="replace it with the original file",
        )
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in IDX_TYPES or ndim == 0:
        raise DataFormatError(
            f"{path} has a bad magic number 0x{magic:08x}: not an IDX file "
            "(expected 0x00000801 for labels or 0x00000803 for images)",
            fix="check that this is the MNIST-format file it is named after",
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{path} is truncated inside its header", fix="download it again")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        state = "truncated" if found < expected else "longer than its header says"
        raise DataFormatError(
            f"{path} is {state}: its header promises shape {shape} ({expected} bytes of data), "
            f"the file holds {found}",
            fix="download it again",
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


class _BatchUnpickler(pickle.Unpickler):
    """Only what a CIFAR batch pickled by numpy needs; everything else is refused."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return {
            "_reconstruct": _reconstruct,
            "ndarray": np.ndarray,
            "dtype": np.dtype,
            "encode": codecs.encode,
        }[name]


try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch: images uint8 ``[n, 3, 32, 32]``, labels int64 ``[n]``."""
    path = Path(path)
    raw = read_maybe_gzip(path)
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        struct.error,
    ) as err:
        raise DataFormatError(
            f"{path} is not a CIFAR-10 python batch (unpickling failed: {err})",
            fix="use the files of cifar-10-python.tar.gz, extracted",
        ) from None
    if not isinstance(batch, dict):
        raise DataFormatError(
            f"{path} holds a {type(batch).__name__}, not a CIFAR-10 batch dict",
            fix="use the files of cifar-10-python.tar.gz, extracted",
        )
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataFormatError(
            f"{path} lacks the 'data' or 'labels' entry of a CIFAR-10 batch",
            fix="use the files of cifar-10-python.tar.gz, extracted",
        )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataFormatError(
            f"{path}: 'data' is {data.dtype} of shape {data.shape}, expected uint8 [n, 3072]",
            fix="use the files of cifar-10-python.tar.gz, extracted",
        )
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(
            f"{path}: {labels.shape[0] if labels.ndim else 0} labels for {len(data)} images",
            fix="the file is damaged: download it again",
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)
