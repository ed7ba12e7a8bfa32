"""Property-based: the within-account Spearman against scipy's, on random accounts with
ties and constant accounts. Skipped where hypothesis is not installed."""

import warnings

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from pipelines.evaluate.metrics import within_account_spearman  # noqa: E402

#: Small integer values, so ties and constant accounts are common.
VALUES = st.integers(0, 6).map(float)


@st.composite
def accounts(draw):
    """Rows of up to 8 accounts of 1 to 12 posts each, in a drawn order."""
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=8))
    n = sum(sizes)
    labels = np.repeat([f"acct{i}" for i in range(len(sizes))], sizes).astype(object)
    actual = np.array(draw(st.lists(VALUES, min_size=n, max_size=n)))
    predicted = np.array(draw(st.lists(VALUES | st.floats(-3, 3), min_size=n, max_size=n)))
    order = np.array(draw(st.permutations(range(n))))
    return actual[order], predicted[order], labels[order]


def scipy_reference(actual, predicted, labels, min_posts):
    values = []
    for account in np.unique(labels):
        rows = labels == account
        if rows.sum() < min_posts:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant input: scipy warns and gives nan
            rho = spearmanr(actual[rows], predicted[rows]).statistic
        if np.isfinite(rho):
            values.append(rho)
    return (float(np.mean(values)) if values else float("nan")), len(values)


@settings(max_examples=200, deadline=None)
@given(accounts(), st.integers(2, 6))
def test_equals_scipy_per_account_averaged(rows, min_posts):
    actual, predicted, labels = rows
    rho, used = within_account_spearman(actual, predicted, labels, min_posts=min_posts)
    expected, expected_used = scipy_reference(actual, predicted, labels, min_posts)
    assert used == expected_used
    if np.isnan(expected):
        assert np.isnan(rho)
    else:
        assert rho == pytest.approx(expected, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(accounts(), st.integers(2, 6), st.randoms(use_true_random=False))
def test_ignores_small_accounts_and_row_order(rows, min_posts, random):
    actual, predicted, labels = rows
    rho, used = within_account_spearman(actual, predicted, labels, min_posts=min_posts)
    # accounts below min_posts, whatever their values, change nothing
    small = min_posts - 1
    more_actual = np.concatenate([actual, np.arange(small, dtype=float)])
    more_predicted = np.concatenate([predicted, -np.arange(small, dtype=float)])
    more_labels = np.concatenate([labels, np.full(small, "tiny", dtype=object)])
    again = within_account_spearman(more_actual, more_predicted, more_labels,
                                    min_posts=min_posts)
    order = list(range(actual.size))
    random.shuffle(order)
    shuffled = within_account_spearman(actual[order], predicted[order], labels[order],
                                       min_posts=min_posts)
    for other in (again, shuffled):
        assert other[1] == used
        assert (np.isnan(other[0]) and np.isnan(rho)) or other[0] == pytest.approx(rho)
