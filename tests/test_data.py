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
