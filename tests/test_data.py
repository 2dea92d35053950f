import pytest
import torch

from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits


def test_digits_split_sizes_shapes_and_dtypes():
    digits = load_digits(device="cpu")
    assert digits.train.x.shape == (1347, DIGITS_N_FEATURES)
    assert digits.test.x.shape == (450, DIGITS_N_FEATURES)
    assert digits.train.x.dtype == torch.float32 and digits.train.y.dtype == torch.long
    assert set(digits.train.y.tolist()) == set(range(DIGITS_N_CLASSES))


def test_digits_standardized_with_training_statistics():
    digits = load_digits(device="cpu", dtype=torch.float64)
    mean, std = digits.train.x.mean(dim=0), digits.train.x.std(dim=0, unbiased=False)
    informative = std > 0
    torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-10, rtol=0)
    torch.testing.assert_close(std[informative], torch.ones_like(std[informative]), atol=1e-10, rtol=0)
    # blank pixels stay exactly 0 rather than becoming NaN
    assert torch.isfinite(digits.test.x).all()


def test_digits_split_is_stratified_and_fixed():
    first, second = load_digits(device="cpu"), load_digits(device="cpu")
    assert torch.equal(first.train.x, second.train.x) and torch.equal(first.test.y, second.test.y)
    train_share = torch.bincount(first.train.y) / len(first.train.y)
    test_share = torch.bincount(first.test.y) / len(first.test.y)
    assert (train_share - test_share).abs().max() < 0.01
    other = load_digits(device="cpu", split_seed=1)
    assert not torch.equal(first.test.y, other.test.y)


@pytest.mark.parametrize("test_fraction", [0.0, 1.0, -0.1])
def test_digits_rejects_bad_test_fraction(test_fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=test_fraction)


def test_the_split_is_read_back_from_the_cache_file_identical_and_a_broken_file_is_recomputed(tmp_path, monkeypatch):
    import numpy as np

    from optimlab import data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data._digits_arrays.cache_clear()
    fresh = data._split_digits(0.25, 0)
    first = data._digits_arrays(0.25, 0)  # computes and writes the file
    cached = data._cache_file(0.25, 0)
    assert cached.exists() and cached.is_relative_to(tmp_path)
    data._digits_arrays.cache_clear()
    again = data._digits_arrays(0.25, 0)  # read from the file
    for a, b, c in zip(fresh, first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    cached.write_bytes(b"not an npz file")
    data._digits_arrays.cache_clear()
    for a, b in zip(fresh, data._digits_arrays(0.25, 0)):
        np.testing.assert_array_equal(a, b)
    data._digits_arrays.cache_clear()
