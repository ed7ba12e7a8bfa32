"""LightGBM trees as lookup tables predict what ``Booster.predict`` predicts, bit for bit:
every missing-value rule (None, Zero, NaN), values near 0, single-leaf trees, the best
iteration; what they do not reproduce is refused."""

import lightgbm as lgb
import numpy as np
import pytest

from pipelines.serve.tree_tables import ZERO_THRESHOLD, compile_booster


def _data(seed: int, rows: int = 600, columns: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, columns))
    x[rng.random(x.shape) < 0.15] = 0.0
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0]) * 2 - np.nan_to_num(x[:, 1]) + rng.normal(0, 0.1, rows)
    y += np.isnan(x[:, 2]) * 1.5 + (x[:, 3] == 0) * 0.7
    return x, y


def _probe(seed: int, columns: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed + 100)
    x = rng.normal(size=(2100, columns))
    x[rng.random(x.shape) < 0.15] = 0.0
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.05] = ZERO_THRESHOLD / 2          # read as 0 by LightGBM
    x[rng.random(x.shape) < 0.05] = -ZERO_THRESHOLD * 3
    return x


@pytest.mark.parametrize("params", [
    {},                                           # NaN seen in training: missing type NaN
    {"use_missing": False},                       # missing type None: NaN read as 0
    {"zero_as_missing": True},                    # missing type Zero
    {"num_leaves": 31, "min_data_in_leaf": 5},    # deeper trees (up to 30 splits: refused)
])
def test_tables_equal_lightgbm_bit_for_bit(params):
    x, y = _data(1)
    booster = lgb.train({"objective": "regression", "num_leaves": 7, "verbose": -1,
                         "min_data_in_leaf": 20, "seed": 1, "num_threads": 1, **params},
                        lgb.Dataset(x, y), num_boost_round=60)
    tables = compile_booster(booster, num_iteration=None, threads=2)
    probe = _probe(1)
    if params.get("num_leaves", 7) > 13:
        assert tables is None
        return
    assert tables is not None
    expected = booster.predict(probe, num_threads=1)
    np.testing.assert_array_equal(tables.predict(probe), expected)
    big = np.repeat(probe, 5, axis=0)                # several blocks, two threads
    np.testing.assert_array_equal(tables.predict(big), np.repeat(expected, 5))


def test_the_best_iteration_and_constant_trees_are_respected():
    x, y = _data(2)
    booster = lgb.train({"objective": "regression", "num_leaves": 5, "verbose": -1,
                         "min_data_in_leaf": 400, "num_threads": 1}, lgb.Dataset(x, y),
                        num_boost_round=30)
    assert all(t["num_leaves"] == 1 for t in booster.dump_model()["tree_info"])
    more = lgb.train({"objective": "regression", "num_leaves": 5, "verbose": -1,
                      "num_threads": 1}, lgb.Dataset(x, y), num_boost_round=30)
    probe = _probe(2)
    for model in (booster, more):
        for iteration in (None, 7):
            tables = compile_booster(model, num_iteration=iteration, threads=1)
            np.testing.assert_array_equal(tables.predict(probe),
                                          model.predict(probe, num_iteration=iteration))


def test_what_the_tables_do_not_reproduce_is_refused():
    x, y = _data(3)
    poisson = lgb.train({"objective": "poisson", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, np.abs(y)), num_boost_round=5)
    assert compile_booster(poisson, num_iteration=None, threads=1) is None
    cats = np.column_stack([np.random.default_rng(0).integers(0, 6, len(x)), x[:, 1:]])
    categorical = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1,
                             "min_data_per_group": 5, "cat_smooth": 1},
                            lgb.Dataset(cats, y + cats[:, 0], categorical_feature=[0]),
                            num_boost_round=5)
    assert compile_booster(categorical, num_iteration=None, threads=1) is None


def test_a_matrix_of_the_wrong_width_is_refused():
    x, y = _data(4)
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 4,
                         "num_threads": 1},
                        lgb.Dataset(x, y), num_boost_round=3)
    tables = compile_booster(booster, num_iteration=None, threads=1)
    with pytest.raises(ValueError, match="expected 5 columns"):
        tables.predict(x[:, :4])


def test_without_a_writable_cache_the_kernel_compiles_uncached(monkeypatch):
    import numba

    from pipelines.serve import tree_tables

    real, asked = numba.njit, []

    def njit(**options):
        asked.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real(**options)

    monkeypatch.setattr(tree_tables.numba, "njit", njit)

    def add(a, b):
        return a + b

    compiled = tree_tables._compiled(add)
    assert asked == [{"cache": True, "nogil": True}, {"nogil": True}]
    assert compiled(2, 3) == 5
