"""Feedback data: the demo generator and the two real layouts' readers, with files that
break them (every reject names file, row, column, rule and value)."""

import json

import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.feedback_data import (
    AGE_RANGES,
    CLASSES,
    COLUMNS,
    UNKNOWN,
    age_range,
    conform,
    generate_feedback,
    read_feedback_csv,
)

LIMITS = ReadLimits.defaults()

AIRLINE_HEADER = ("tweet_id,airline_sentiment,airline_sentiment_confidence,airline,text,"
                  "tweet_created,user_timezone\n")
REVIEW_HEADER = "Clothing ID,Age,Title,Review Text,Rating,Class Name\n"


def test_demo_feedback_is_seeded_canonical_and_has_hard_texts():
    first, again = generate_feedback(500, 3), generate_feedback(500, 3)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(generate_feedback(500, 4))
    assert list(first.columns) == list(COLUMNS)
    assert set(first["sentiment"]) == {0, 1, 2}
    assert (first["text"] == "").any()                     # empty feedback happens
    assert first["text"].str.contains("😍|😠|🤔").any()    # emoji only
    assert (first["gender"] == UNKNOWN).mean() > 0.2       # demographics often missing
    assert first["created_at"].is_monotonic_increasing


@pytest.mark.parametrize("bad", [{"rows": 0}, {"seed": -1}, {"campaigns": 0}])
def test_demo_refuses_bad_arguments(bad):
    args = {"rows": 10, "seed": 1, "campaigns": 2, **bad}
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"'{name}' must be an int"):
        generate_feedback(args["rows"], args["seed"], campaigns=args["campaigns"])


def test_age_ranges_and_unknown():
    assert [age_range(a) for a in (18, 24, 25, 44, 64, 65, 99)] == [
        "18-24", "18-24", "25-34", "35-44", "55-64", "65+", "65+"]
    assert {age_range(a) for a in (None, "x", 5, 130, float("nan"))} == {UNKNOWN}
    assert set(AGE_RANGES) < {age_range(a) for a in range(10, 100)} | {UNKNOWN}


def test_conform_fills_missing_demographics_and_names_missing_columns():
    frame = pd.DataFrame({"feedback_id": ["a"], "created_at": ["2020-01-01"],
                          "campaign": ["c"], "text": [""], "gender": ["  "],
                          "sentiment": [1]})
    out = conform(frame)
    assert out.loc[0, "gender"] == UNKNOWN and out.loc[0, "timezone"] == UNKNOWN
    with pytest.raises(ValueError, match=r"column\(s\) \['text'\] are missing"):
        conform(frame.drop(columns="text"))


def test_airline_reader_keeps_good_rows_and_rejects_unreadable_ones(tmp_path):
    path = tmp_path / "tweets.csv"
    path.write_text(AIRLINE_HEADER
                    + '1,negative,1.0,United,"late again, @united",23-02-2015 23.55,\n'
                    + '2,positive,1.0,Delta,"😍😍",1-02-2015 07.05,Quito\n'
                    + '3,meh,1.0,Delta,hi,23-02-2015 23.55,\n'              # label
                    + '4,neutral,1.0,Delta,hi,2015/02/23,\n'                # time
                    + '5,neutral,1.0,,hi,23-02-2015 23.55,\n'               # campaign
                    + '6,neutral,1.0\n', encoding="utf-8")                  # field count
    read = read_feedback_csv(path, "airline_tweets", limits=LIMITS)
    assert read.records_read == 6 == len(read.feedback) + len(read.rejects)
    assert read.feedback["sentiment"].tolist() == [0, 2]
    assert read.feedback["campaign"].tolist() == ["United", "Delta"]
    assert read.feedback["timezone"].tolist() == [UNKNOWN, "Quito"]
    assert read.feedback["created_at"].iloc[1] == pd.Timestamp("2015-02-01 07:05", tz="UTC")
    rejects = read.rejects.set_index("source_row")
    assert rejects.loc[3, "rule"] == "parse_label" and rejects.loc[3, "value"] == "meh"
    assert rejects.loc[4, "rule"] == "parse_time" and rejects.loc[4, "column"] == "tweet_created"
    assert rejects.loc[5, "rule"] == "required_value" and rejects.loc[5, "column"] == "airline"
    assert rejects.loc[6, "rule"] == "field_count"
    assert set(read.rejects["source_file"]) == {str(path)}
    assert json.loads(rejects.loc[3, "record"])["airline_sentiment"] == "meh"


def test_review_reader_maps_ratings_to_sentiment(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = [f'{i},{30 + i},Title {r},"Text {r}",{r},Knits\n' for i, r in
            enumerate((1, 2, 3, 4, 5), start=1)]
    rows += ['9,,,"",5,\n',              # no age, no text, no class: kept, unknown
             '10,41,t,x,five,Knits\n',   # rating not a number
             '11,41,t,x,7,Knits\n',      # rating outside 1-5
             '12,forty,t,x,4,Knits\n']   # age not a number
    path.write_text(REVIEW_HEADER + "".join(rows), encoding="utf-8")
    read = read_feedback_csv(path, "womens_reviews", limits=LIMITS)
    assert read.records_read == 9 == len(read.feedback) + len(read.rejects)
    assert read.feedback["sentiment"].tolist() == [0, 0, 1, 2, 2, 2]
    assert read.feedback["text"].iloc[0] == "Title 1\nText 1"
    assert read.feedback["text"].iloc[5] == ""
    assert read.feedback["campaign"].iloc[5] == UNKNOWN
    assert read.feedback["age_range"].tolist()[:2] == ["25-34", "25-34"]
    assert read.feedback["age_range"].iloc[5] == UNKNOWN
    assert read.rejects["rule"].tolist() == ["parse_rating", "parse_rating", "parse_int"]
    assert read.rejects["source_row"].tolist() == [7, 8, 9]


def test_readers_refuse_a_wrong_layout_or_header(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="'layout' must be one of"):
        read_feedback_csv(path, "tweets", limits=LIMITS)
    with pytest.raises(ValueError, match=r"x.csv \(womens_reviews\) lacks column\(s\)"):
        read_feedback_csv(path, "womens_reviews", limits=LIMITS)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty.csv is empty"):
        read_feedback_csv(tmp_path / "empty.csv", "airline_tweets", limits=LIMITS)


def _head(source, target, records):
    """The header and the first ``records`` records of a real CSV (quoted newlines kept)."""
    import csv

    with open(source, encoding="utf-8-sig", newline="") as handle, \
            open(target, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for number, row in enumerate(csv.reader(handle)):
            if number > records:
                break
            writer.writerow(row)
    return target


@pytest.mark.shared_data
def test_the_real_layouts_read_without_rejects(shared_data_dir, tmp_path):
    tweets = read_feedback_csv(_head(shared_data_dir / "feedback/airline_tweets/Tweets.csv",
                                     tmp_path / "Tweets.csv", 400), "airline_tweets", limits=LIMITS)
    assert (tweets.records_read, len(tweets.rejects)) == (400, 0)
    assert set(tweets.feedback["sentiment"]) == {0, 1, 2}
    assert tweets.feedback["created_at"].dt.year.eq(2015).all()
    assert (tweets.feedback["timezone"] != UNKNOWN).any()
    reviews = read_feedback_csv(_head(shared_data_dir / "feedback/womens_reviews/reviews.csv",
                                      tmp_path / "reviews.csv", 400), "womens_reviews",
                                limits=LIMITS)
    assert (reviews.records_read, len(reviews.rejects)) == (400, 0)
    assert set(reviews.feedback["sentiment"]) == {0, 1, 2}
    assert reviews.feedback["age_range"].isin(AGE_RANGES).all()
    assert len(CLASSES) == 3
