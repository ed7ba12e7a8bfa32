"""The request fast path computes the same predictions as the batch path (model.predict on
a DataFrame), for every model family registered by default."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pipelines.serve.fast_path import CompiledPostModel, epoch_ns, posts_frame

SERVE_MODELS = ("ridge", "lightgbm", "random_forest")   # registered by default

INPUT = ("post_id", "account_id", "platform", "content_type", "post_kind", "posted_at",
         "caption",
         "hashtags_count", "mentions_count", "urls_count", "media_count",
         "followers_at_post_time")


def request_posts(posts: pd.DataFrame) -> list[dict]:
    """Canonical rows as the API hands them to the model (plain Python values)."""
    out = []
    for row in posts.to_dict("records"):
        post = {k: row[k] for k in INPUT}
        post["posted_at"] = row["posted_at"].to_pydatetime()
        post["caption"] = row["caption"] if isinstance(row["caption"], str) else ""
        post["post_kind"] = None if pd.isna(row["post_kind"]) else row["post_kind"]
        for k in ("hashtags_count", "mentions_count", "urls_count", "media_count",
                  "followers_at_post_time"):
            post[k] = None if pd.isna(row[k]) else float(row[k])
        out.append(post)
    return out


@pytest.fixture(scope="module")
def cases(serve_posts) -> list[dict]:
    new = request_posts(serve_posts.iloc[600:700])        # after the history, its accounts
    known = request_posts(serve_posts.iloc[100:110])      # posts the history already holds
    odd = [dict(new[0], post_id="unseen-1", account_id="never-seen"),
           dict(new[1], post_id="no-counts", hashtags_count=None, urls_count=None,
                caption=""),
           dict(new[2], post_id="same-time-twin"),         # same account and instant as new[2]
           dict(new[3], post_id="no-followers", followers_at_post_time=None),
           *(dict(new[4 + i], post_id=f"kind-{kind}", post_kind=kind)
             for i, kind in enumerate(("original", "reply", "quote", "share")))]
    return new + known + odd


@pytest.mark.parametrize("name", SERVE_MODELS)
def test_fast_path_equals_batch_path(post_models, cases, name):
    model = post_models[name]
    compiled = CompiledPostModel(model)
    assert compiled.fast and compiled.kind == f"scale_relative:{name}"

    batch = np.asarray(model.predict(posts_frame(cases)), float)
    online, matrix = compiled.predict(cases)
    assert matrix.shape == (len(cases), len(model.steps[0][1].feature_names_))
    np.testing.assert_allclose(online, batch, rtol=1e-9, atol=1e-9)
    # one post per call, as a single-post request sees it
    single = np.array([compiled.predict([post])[0][0] for post in cases])
    one_by_one = np.array([model.predict(posts_frame([post]))[0] for post in cases])
    np.testing.assert_allclose(single, one_by_one, rtol=1e-9, atol=1e-9)
    # the batch's own posts count as known posts, so batch and one-by-one differ somewhere
    assert not np.allclose(single, online)


def test_feature_rows_equal_the_featurizer(post_models, cases):
    model = post_models["ridge"]
    featurizer = model.steps[0][1]
    expected = featurizer.transform(posts_frame(cases)).to_numpy()
    # bit for bit: a binned model (HistGradientBoosting) flips a bin on a 1-ulp difference
    np.testing.assert_array_equal(CompiledPostModel(model).features(cases), expected)


def test_other_pipelines_keep_the_dataframe_path(post_models, cases):
    from sklearn.pipeline import Pipeline

    wrapped = Pipeline([("inner", post_models["ridge"]), ("identity", "passthrough")])
    compiled = CompiledPostModel(post_models["ridge"].steps[0][1])   # a bare featurizer
    assert not compiled.fast and compiled.kind == "dataframe"
    assert not CompiledPostModel(wrapped).fast


def test_epoch_ns_is_exact():
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert epoch_ns(moment) == pd.Timestamp(moment).value
    assert epoch_ns(moment.replace(tzinfo=None)) == pd.Timestamp(moment).value


def test_other_estimators_use_their_own_predict_on_the_feature_row(serve_posts, cases,
                                                                   fit_post_model):
    model = fit_post_model(serve_posts.iloc[:600], "hist_gradient_boosting",
                           hyperparameters={"max_iter": 20})
    compiled = CompiledPostModel(model)
    assert compiled.fast and compiled.kind == "scale_relative:generic:HistGradientBoostingRegressor"
    np.testing.assert_allclose(compiled.predict(cases)[0],
                               model.predict(posts_frame(cases)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", SERVE_MODELS)
def test_fast_path_with_a_history_source_equals_batch_path(post_models, serve_posts, cases,
                                                           name):
    """Posts collected after training (a history source) reach both paths identically; the
    cache rebuilds an account's arrays when its answer changes."""
    import copy

    from pipelines.features.history_cache import CachedHistory
    from pipelines.features.history_source import FrameHistory

    later = serve_posts.iloc[600:760].copy()
    later.loc[later.index[::4], "collected_at"] = later["posted_at"] + pd.Timedelta(hours=1)
    clock = [0.0]
    source = CachedHistory(FrameHistory(later, maturity_hours=48), max_age_seconds=30,
                           clock=lambda: clock[0])
    model = copy.deepcopy(post_models[name])
    compiled = CompiledPostModel(model).attach_history(source)
    assert compiled.fast
    frozen = CompiledPostModel(copy.deepcopy(post_models[name]))

    batch = np.asarray(model.predict(posts_frame(cases)), float)
    online, _ = compiled.predict(cases)
    np.testing.assert_allclose(online, batch, rtol=1e-9, atol=1e-9)
    single = np.array([compiled.predict([post])[0][0] for post in cases])
    one_by_one = np.array([model.predict(posts_frame([post]))[0] for post in cases])
    np.testing.assert_allclose(single, one_by_one, rtol=1e-9, atol=1e-9)
    assert not np.allclose(online, frozen.predict(cases)[0])   # the source changes answers
    # the feature rows themselves, the source's post kinds included
    featurizer = model.steps[0][1]
    rows = pd.DataFrame(compiled._features.rows(cases), columns=featurizer.feature_names_)
    want = featurizer.transform(posts_frame(cases))
    fractions = [c for c in want.columns if c.endswith("_frac_all")]
    assert len(fractions) == 3 and want[fractions].to_numpy().any()
    np.testing.assert_array_equal(rows[fractions].to_numpy(), want[fractions].to_numpy())

    # within the bound the cached answer stays; past it, the stale answer serves at once
    # while the refresher re-reads the source (and rebuilds the arrays on its thread)
    probe = dict(cases[0], post_id="probe", posted_at=cases[0]["posted_at"]
                 + pd.Timedelta(days=20))
    account = probe["account_id"]
    reads = source.reads
    before = compiled.features([probe])
    assert source.reads == reads
    source.source = FrameHistory(later[later["account_id"] != account], maturity_hours=48)
    clock[0] = 31.0
    assert np.array_equal(compiled.features([probe]), before)
    assert source.drain(10) and source.refreshes >= 1 and source.reads == reads
    generation = source.accounts([account])[account].generation
    assert compiled._features.history.merged[account][0] == generation   # prebuilt
    assert not np.array_equal(compiled.features([probe]), before)
    after = compiled.predict([probe])[0][0]
    model.steps[0][1].attach_history(source.source)
    np.testing.assert_allclose(after, model.predict(posts_frame([probe]))[0], rtol=1e-9)
    source.close()


def test_running_sums_are_pandas_grouped_cumsum_to_the_last_bit():
    from pipelines.serve.fast_path import _running_sums

    rng = np.random.default_rng(0)
    # ill-conditioned: plain np.cumsum differs from pandas' compensated sums here
    values = np.concatenate([rng.normal(0, 1e8, 50), rng.normal(0, 1e-3, 200),
                             rng.lognormal(0, 3, 200)])
    want = pd.Series(values).groupby(np.zeros(len(values), int)).cumsum().to_numpy()
    assert np.array_equal(np.asarray(_running_sums(values)), want)
    assert not np.array_equal(np.cumsum(values), want)


@pytest.mark.parametrize("null_ids", [False, True])
def test_merged_account_arrays_equal_the_batch_union(post_models, serve_posts, null_ids):
    """The numpy merge of a source's posts into an account's frozen history gives the same
    lists, bit for bit, as the batch code's union + grouped sums."""
    from pipelines.features.account_history import _prepare, _union
    from pipelines.features.history_source import AccountPosts, FrameHistory
    from pipelines.serve.fast_path import _accounts_from_pool, _History

    fitted = post_models["ridge"].steps[0][1].history_
    history = _History(fitted)
    # later posts, some read young, some re-reads of trained posts with new counts
    later = pd.concat([serve_posts.iloc[560:760], serve_posts.iloc[100:140].assign(
        likes=lambda f: f["likes"] * 3, comments=pd.NA)])
    later.loc[later.index[::4], "collected_at"] = later["posted_at"] + pd.Timedelta(hours=1)
    if null_ids:
        later.loc[later.index[::7], "post_id"] = None
    outcomes = FrameHistory(later, maturity_hours=48).outcomes(later["account_id"].unique())
    checked = 0
    for account, frame in outcomes.groupby("account_id"):
        pool = _union(_prepare(frame, where="test", need_likes=True),
                      fitted.history_[fitted.history_["account_id"] == account])
        want = _accounts_from_pool(pool)[account]
        got = history._merge(account, AccountPosts.from_frame(frame))
        for name in ("out_t", "cum_log_likes", "cum_rate", "cum_rated", "known_t"):
            assert getattr(got, name) == getattr(want, name), (account, name)
        np.testing.assert_array_equal(got.known_lf, want.known_lf)
        assert got.known[1] == frozenset(pool["t"].tolist())
        assert got.known[0] == frozenset(pool["post_id"].astype(str))
        checked += 1
    assert checked == outcomes["account_id"].nunique() > 5
