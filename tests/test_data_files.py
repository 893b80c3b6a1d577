"""MNIST/Fashion-MNIST (IDX) and CIFAR-10 (python batches), from small files in those formats."""

import gzip
import pickle

import numpy as np
import pytest
import torch
from conftest import IDX_NAMES, idx_bytes, write_cifar, write_mnist

from symscape.data import load
from symscape.data.formats import read_idx
from symscape.errors import DataFormatError, DataNotFoundError, InvalidOptionError


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("name", "sub"),
    [("mnist", "mnist"), ("mnist", "MNIST/raw"), ("fashion-mnist", "FashionMNIST/raw")],
)
def test_idx_data_sets_read_every_point(tmp_path, gz, name, sub):
    arrays = write_mnist(tmp_path / sub, gz=gz)
    ds = load(name, root=str(tmp_path), labels="multiclass", dtype="float64")
    assert ds.P == 30 and ds.n_test == 20 and ds.input_shape == (1, 28, 28)
    for split in ("train", "test"):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        index = np.rint(x[:, 0, 0, 1].numpy() * 255).astype(int)  # pixel (0, 1) holds the index
        expected = arrays[f"{split}_images"][index] / 255.0
        assert np.allclose(x[:, 0].numpy(), expected)
        assert np.array_equal(y.numpy(), arrays[f"{split}_labels"][index])


def test_environment_variable_gives_the_folder(mnist_root, monkeypatch):
    root, _ = mnist_root
    monkeypatch.setenv("SYMSCAPE_DATA", str(root))
    assert load("mnist", P=10, n_test=5, labels="parity").P == 10


def test_cifar10_reads_every_point(cifar_root):
    root, arrays = cifar_root
    ds = load("cifar10", root=str(root), labels="multiclass", dtype="float64", seed=1)
    assert ds.P == 40 and ds.n_test == 8 and ds.input_shape == (3, 32, 32)
    flat = np.rint(ds.x_train.numpy() * 255).astype(np.uint8).reshape(ds.P, 3072)
    lookup = {
        row.tobytes(): int(c)
        for row, c in zip(arrays["train_images"], arrays["train_labels"], strict=True)
    }
    assert [lookup[row.tobytes()] for row in flat] == ds.y_train.tolist()
    halves = load("cifar10", root=str(root), labels="halves", seed=1)
    assert torch.equal(halves.y_train, torch.where(ds.y_train >= 5, 1.0, -1.0).float())


def test_cifar10_channel_layout_is_channel_major(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder, per_batch=1)
    image = np.zeros((1, 3072), dtype=np.uint8)
    image[0, :1024] = 255  # red plane
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": image, b"labels": [3]}, fh, protocol=2)
    ds = load("cifar10", root=str(tmp_path), dtype="float64")
    assert torch.all(ds.x_test[0, 0] == 1.0) and torch.all(ds.x_test[0, 1:] == 0.0)


def test_P_larger_than_the_data_names_the_maximum(mnist_root):
    root, _ = mnist_root
    with pytest.raises(
        InvalidOptionError, match=r"P=31 .* 30 points .* mnist's train set; use P <= 30"
    ):
        load("mnist", root=str(root), P=31)


# ---------------------------------------------------------------- what goes wrong


def test_no_folder_given(tmp_path):
    with pytest.raises(DataNotFoundError, match="SYMSCAPE_DATA"):
        load("mnist")


def test_folder_does_not_exist(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"does not exist"):
        load("cifar10", root=str(tmp_path / "nowhere"))


def test_missing_files_say_where_symscape_looked_and_what_it_expects(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load("mnist", root=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message


def test_one_missing_file_is_named(mnist_root):
    root, _ = mnist_root
    (root / "mnist" / IDX_NAMES["test_labels"]).unlink()
    with pytest.raises(DataNotFoundError, match=r"lacks t10k-labels-idx1-ubyte"):
        load("mnist", root=str(root))


def _corrupt(root, key, data):
    (root / "mnist" / IDX_NAMES[key]).write_bytes(data)
    return root / "mnist" / IDX_NAMES[key]


def test_bad_magic_number_names_the_file(mnist_root):
    root, arrays = mnist_root
    path = _corrupt(
        root, "train_images", b"\x12\x34\x08\x03" + idx_bytes(arrays["train_images"])[4:]
    )
    with pytest.raises(DataFormatError, match=rf"{path}.*bad magic number 0x12340803"):
        load("mnist", root=str(root))


def test_truncated_file_names_the_file_and_the_sizes(mnist_root):
    root, arrays = mnist_root
    path = _corrupt(root, "train_images", idx_bytes(arrays["train_images"])[:-100])
    with pytest.raises(DataFormatError, match=rf"{path} is truncated: .*\(30, 28, 28\)"):
        load("mnist", root=str(root))


def test_truncated_gzip_is_reported(tmp_path):
    write_mnist(tmp_path / "mnist", gz=True)
    path = tmp_path / "mnist" / f"{IDX_NAMES['train_labels']}.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataFormatError, match=rf"{path} is a damaged or truncated gzip"):
        load("mnist", root=str(tmp_path))


def test_gz_name_without_gzip_content(tmp_path):
    write_mnist(tmp_path / "mnist", gz=True)
    path = tmp_path / "mnist" / f"{IDX_NAMES['test_images']}.gz"
    path.write_bytes(gzip.decompress(path.read_bytes()))
    with pytest.raises(DataFormatError, match="not gzip-compressed"):
        load("mnist", root=str(tmp_path))


def test_swapped_images_and_labels(mnist_root):
    root, arrays = mnist_root
    _corrupt(root, "train_images", idx_bytes(arrays["train_labels"]))
    with pytest.raises(DataFormatError, match="swapped"):
        load("mnist", root=str(root))


def test_label_count_mismatch(mnist_root):
    root, arrays = mnist_root
    _corrupt(root, "test_labels", idx_bytes(arrays["test_labels"][:5]))
    with pytest.raises(DataFormatError, match="5 labels for 20 images"):
        load("mnist", root=str(root))


def test_idx_reader_handles_every_type_code(tmp_path):
    import struct

    values = np.arange(12).reshape(3, 4) / 7
    for code, dtype in ((0x0E, ">f8"), (0x0D, ">f4"), (0x0C, ">i4"), (0x0B, ">i2"), (0x09, ">i1")):
        data = (values * 10).astype(dtype)
        path = tmp_path / f"x{code}.idx"
        path.write_bytes(
            struct.pack(">BBBB", 0, 0, code, 2) + struct.pack(">2I", 3, 4) + data.tobytes()
        )
        read = read_idx(path)
        assert read.dtype.isnative and np.array_equal(read, data)


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_foreign_pickle_is_refused_not_executed(cifar_root, capsys):
    root, _ = cifar_root
    path = root / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(
        DataFormatError,
        match=rf"{path} is not a CIFAR-10 python batch.*refusing to load (__builtin__|builtins)\.print",  # noqa: E501
    ):
        load("cifar10", root=str(root))
    assert "must never run" not in capsys.readouterr().out


def test_cifar_batch_with_wrong_content(cifar_root):
    root, _ = cifar_root
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}))
    with pytest.raises(DataFormatError, match=r"expected uint8 \[n, 3072\]"):
        load("cifar10", root=str(root))
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(DataFormatError, match="not a CIFAR-10 python batch"):
        load("cifar10", root=str(root))
