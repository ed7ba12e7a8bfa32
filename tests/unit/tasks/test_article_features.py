"""Article features: domains, title and time columns, and the point-in-time history (only
earlier, matured articles of the same author or domain ever count)."""

import numpy as np
import pandas as pd
import pytest

from pipelines.tasks.article_features import (
    AUTHOR_FEATURES,
    ArticleFeaturizer,
    domain_of,
    outcome_pool,
    past_median,
    prior_outcomes,
    title_features,
)
from pipelines.tasks.articles_data import generate_articles

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis")
st = hypothesis.strategies

ARTICLES = generate_articles(400, 12, seed=2)


def featurizer(**kw) -> ArticleFeaturizer:
    options = {"maturity_hours": 24.0, "author_history": True, "title_components": 0,
               "text_backend": "onnx_int8", "embedding_cache": None, "model_cache_dir": None,
               "seed": 0}
    return ArticleFeaturizer(**{**options, **kw})


def test_domains_titles_and_links():
    urls = pd.Series(["https://www.GitHub.com/a/b", "http://x.org:8080/p?q=1", None, "",
                      "HTTPS://news.ycombinator.com#top"])
    assert domain_of(urls).tolist() == ["github.com", "x.org", "(text)", "(text)",
                                        "news.ycombinator.com"]
    titles = pd.Series(["Show HN: My tool", "Ask HN: why?", "Paper [pdf]", "2016 in review"])
    out = title_features(titles, pd.Series(["https://a.com", None, "https://b.com", None]))
    assert out["f_show_hn"].tolist() == [1, 0, 0, 0] and out["f_ask_hn"].tolist() == [0, 1, 0, 0]
    assert out["f_title_question"].tolist() == [0, 1, 0, 0]
    assert out["f_title_tag"].tolist() == [0, 0, 1, 0]
    assert out["f_title_digit"].tolist() == [0, 0, 0, 1]
    assert out["f_has_url"].tolist() == [1, 0, 1, 0]


def test_history_counts_only_earlier_matured_articles_of_the_same_key():
    t0 = pd.Timestamp("2020-01-01", tz="UTC")
    pool = pd.DataFrame({"key": ["a", "a", "a", "b"],
                         "created_at": [t0, t0 + pd.Timedelta(hours=30),
                                        t0 + pd.Timedelta(hours=47), t0],
                         "log_points": [1.0, 2.0, 4.0, 8.0], "log_comments": [0.0] * 4})
    asked = pd.Series([t0 + pd.Timedelta(hours=48)] * 3 + [t0])
    found = prior_outcomes(pd.Series(["a", "b", "zzz", "a"]), asked, pool, maturity_hours=18)
    # a at 48 h: three earlier articles, only those posted at or before 30 h have matured
    assert found["prior"].tolist() == [3, 1, 0, 0]
    assert found["matured"].tolist() == [2, 1, 0, 0]
    assert found["sum_log_points"].tolist() == [3.0, 8.0, 0.0, 0.0]
    assert found["seconds_since_prev"][0] == 3600 and np.isnan(found["seconds_since_prev"][2])
    # the maturity boundary is inclusive: exactly 18 h old counts
    found = prior_outcomes(pd.Series(["a"]), pd.Series([t0 + pd.Timedelta(hours=48)]), pool,
                           maturity_hours=17)
    assert found["matured"].tolist() == [2]


@hypothesis.settings(max_examples=6, deadline=None, derandomize=True)
@hypothesis.given(row=st.integers(0, len(ARTICLES) - 1), shift=st.floats(-5, 5))
def test_features_never_read_an_outcome_from_the_future_or_unmatured(row, shift):
    """Changing the outcomes of every article that is not earlier-and-matured for ``row``
    (its own included) leaves ``row``'s features unchanged."""
    model = featurizer().fit(ARTICLES.iloc[:100])
    t = ARTICLES.loc[row, "created_at"]
    later = ARTICLES["created_at"] > t - pd.Timedelta(hours=24)
    changed = ARTICLES.copy()
    changed.loc[later, "points"] = np.maximum(
        0, (changed.loc[later, "points"] * np.exp(shift)).round()).astype("int64")
    changed.loc[later, "comments"] = changed.loc[later, "comments"] + 7
    before = model.transform(ARTICLES).iloc[row]
    after = model.transform(changed).iloc[row]
    pd.testing.assert_series_equal(before, after)


def test_history_is_frozen_for_requests_and_the_reference_drops_it():
    model = featurizer().fit(ARTICLES.iloc[:300])
    request = ARTICLES.iloc[300:][["title", "url", "author", "created_at"]]
    with_outcomes = model.transform(ARTICLES.iloc[300:])
    frozen = model.transform(request)
    # a request carries no outcomes: later articles add no history
    assert (frozen["f_author_log_prior"] <= with_outcomes["f_author_log_prior"]).all()
    assert (frozen["f_author_log_prior"] < with_outcomes["f_author_log_prior"]).any()
    no_history = featurizer(author_history=False).fit(ARTICLES.iloc[:300]).transform(request)
    assert not set(AUTHOR_FEATURES) & set(no_history.columns)
    assert no_history.notna().all().all() and frozen.notna().all().all()
    with pytest.raises(ValueError, match=r"lack article column\(s\) \['author'\]"):
        model.transform(request.drop(columns=["author"]))


def test_author_past_median_is_point_in_time():
    rows = ARTICLES.iloc[200:260]
    medians = past_median(rows, ARTICLES, "points", maturity_hours=24, fallback=-1.0)
    for i, (_, article) in enumerate(rows.iterrows()):
        earlier = ARTICLES[(ARTICLES["author"] == article["author"])
                           & (ARTICLES["created_at"]
                              <= article["created_at"] - pd.Timedelta(hours=24))]
        expected = earlier["points"].median() if len(earlier) else -1.0
        assert medians[i] == pytest.approx(expected)
    assert outcome_pool(ARTICLES.head(5), "domain")["key"].str.len().min() > 0
