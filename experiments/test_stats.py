"""experiments/stats.py: the spread over seeds is the sample standard deviation."""
import pytest

from experiments.stats import mean_spread


def test_mean_spread_is_the_sample_spread() -> None:
    assert mean_spread([29.9, 29.7]) == '29.8 ± 0.1'  # population spread 0.1, sample 0.14
    assert mean_spread([10.0, 12.0, 14.0]) == '12.0 ± 2.0'  # sample: sqrt(8 / 2); population would be 1.6
    assert mean_spread([1.0, 2.0], digits=2) == '1.50 ± 0.71'
    assert mean_spread([30.94]) == '30.9'
    with pytest.raises(ValueError, match='at least one value'):
        mean_spread([])
