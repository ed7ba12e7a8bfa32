"""Bad-input corpus of the task readers: every reader of a user-given file (sessions,
feedback, news, articles, impressions, account days, players, ads, A/B arms) reads it as
the post reader does (:func:`pipelines.validate.entity_contract.csv_records` /
``read_text_csv`` over :func:`pipelines.collect.formats.source_file.read_unchanged`).

Issue 14's hostile files, per reader: a FIFO named like the file (it hung
``read_sessions_csv`` forever), a ``.csv`` link to ``/dev/zero`` (``read_feedback_csv``
never ended), a file over ``collect.max_file_mb``, over ``collect.max_columns``, and a
file rewritten while it is read. Each ends in one error naming the reader, the file and
the rule; a good file still gives rows in = rows accepted + rows quarantined. The reads
that could hang run in a forked process with a deadline and a memory cap, so a regression
fails the test instead of hanging (or exhausting) the suite. The last tests check the
limits reach the readers from the ``collect`` params through each task's collect hook.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from pipelines.collect.formats import CollectError, ReadLimits, source_file
from pipelines.evaluate.ab_test import read_arms
from pipelines.tasks import get_task
from pipelines.tasks.ad_rates_data import KAGGLE_HEADER, read_facebook_ads
from pipelines.tasks.articles_data import read_hacker_news_csv
from pipelines.tasks.churn_data import read_ira_daily
from pipelines.tasks.click_data import read_open_bandit
from pipelines.tasks.conversion_data import read_sessions_csv
from pipelines.tasks.feedback_data import read_feedback_csv
from pipelines.tasks.news_data import FEATURES, read_online_news_csv
from pipelines.tasks.retention_data import read_cookie_cats

LIMITS = ReadLimits.defaults()
#: Seconds a read of a FIFO or a device may take before the test calls it a hang.
DEADLINE_S = 20.0


def _loaded(read: Any) -> tuple[int, int, int]:
    return read.records_read, len(read.rows), len(read.rejects)


def _news_row(url: str, shares: str) -> str:
    return ", ".join([url, "731.0", *(["1"] * len(FEATURES)), shares])


def _log_line(index: int, position: str = "2") -> str:
    return ",".join([str(index), "2019-11-24 00:00:00+00:00", "1", position, "0", "0.03",
                     "u0", "u1", "u2", "u3", "0.0", "2.0", "1.0"])


@dataclass(frozen=True)
class TaskReader:
    """One task reader and a small file in its layout.

    Attributes:
        reader: The public reader, named first in its errors.
        target: The file it reads, relative to the test's folder.
        header: The file's header line.
        good: A data record it accepts.
        bad: A data record it quarantines (None: a reader without a quarantine).
        read: Reads the target, given its path and the limits.
        counts: (records read, accepted, quarantined) of what ``read`` returned.
        companions: Other files the read needs (relative path -> text).
        always: Records written first in every file (the A/B reader needs both arms).
    """

    reader: str
    target: str
    header: str
    good: str
    bad: str | None
    read: Callable[[Path, ReadLimits], Any]
    counts: Callable[[Any], tuple[int, int, int]]
    companions: dict[str, str] = field(default_factory=dict)
    always: tuple[str, ...] = ()

    def write(self, folder: Path, rows: list[str] | None = None) -> Path:
        """The companions and the target (``rows``: good and bad by default); the target."""
        self.place(folder)
        rows = rows if rows is not None else [self.good, *([self.bad] if self.bad else [])]
        path = folder / self.target
        path.write_text("\n".join([self.header, *self.always, *rows]) + "\n",
                        encoding="utf-8")
        return path

    def place(self, folder: Path) -> Path:
        """The companions only; the target's path (its folder made)."""
        for name, text in self.companions.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
        (folder / self.target).parent.mkdir(parents=True, exist_ok=True)
        return folder / self.target


READERS = [
    TaskReader(
        "read_sessions_csv", "shoppers.csv",
        "Administrative,Administrative_Duration,Informational,Informational_Duration,"
        "ProductRelated,ProductRelated_Duration,BounceRates,ExitRates,PageValues,SpecialDay,"
        "Month,OperatingSystems,Browser,Region,TrafficType,VisitorType,Weekend,Revenue",
        "0,0,0,0,1,0,0.2,0.2,0,0,Feb,1,1,1,1,Returning_Visitor,FALSE,0",
        "0,0,0,0,1,0,0.2,0.2,0,0,Smarch,1,1,1,1,Returning_Visitor,FALSE,0",
        lambda path, limits: read_sessions_csv(path, limits=limits),
        lambda r: (r.records_read, len(r.sessions), len(r.rejects))),
    TaskReader(
        "read_feedback_csv", "Tweets.csv",
        "tweet_id,airline_sentiment,airline_sentiment_confidence,airline,text,tweet_created,"
        "user_timezone",
        '1,negative,1.0,United,"late again, @united",23-02-2015 23.55,',
        "3,meh,1.0,Delta,hi,23-02-2015 23.55,",
        lambda path, limits: read_feedback_csv(path, "airline_tweets", limits=limits),
        lambda r: (r.records_read, len(r.feedback), len(r.rejects))),
    TaskReader(
        "read_online_news_csv", "OnlineNewsPopularity.csv",
        ", ".join(["url", "timedelta", *FEATURES, "shares"]),
        _news_row("http://mashable.com/2013/01/07/a/", "593"),
        _news_row("http://mashable.com/no-date/", "10"),
        lambda path, limits: read_online_news_csv(path, limits=limits),
        lambda r: (r.records_read, len(r.articles), len(r.rejects))),
    TaskReader(
        "read_hacker_news_csv", "hacker_news.csv",
        "id,title,url,num_points,num_comments,author,created_at",
        "1,Good one,https://a.com/x,10,2,alice,5/28/2016 19:51",
        "3,Bad points,https://b.com,ten,2,carol,5/28/2016 20:01",
        lambda path, limits: read_hacker_news_csv(path, limits=limits),
        lambda r: (r.records_read, len(r.articles), len(r.rejects))),
    TaskReader(
        "read_open_bandit", "random/men/men.csv",
        ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,"
        "user_feature_2,user_feature_3,user-item_affinity_0,user-item_affinity_1,"
        "user-item_affinity_2",
        _log_line(0), _log_line(1, position="two"),
        lambda path, limits: read_open_bandit(path.parents[2], logs=("random/men",),
                                              limits=limits),
        lambda r: (r.records_read, len(r.impressions), len(r.rejects)),
        companions={"random/men/item_context.csv":
                    ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
                    "0,0,-0.5,a1,b1,c1\n1,1,0.25,a2,b1,c2\n2,2,1.5,a1,b2,c1\n"}),
    TaskReader(
        "read_ira_daily", "ira_daily.csv",
        "author_id,date,followers,following,updates,followers_first,n_posts,n_retweets,"
        "last_post_time,account_type,account_category",
        "acc1,2017-01-01,10,5,7,10,2,1,2017-01-01 10:00:00,Right,RightTroll",
        "acc2,2017-01-02,ten,5,7,10,2,1,2017-01-01 10:00:00,Right,RightTroll",
        lambda path, limits: read_ira_daily(path, limits=limits), _loaded),
    TaskReader(
        "read_cookie_cats", "cookie_cats.csv",
        "userid,version,sum_gamerounds,retention_1,retention_7",
        "1,gate_30,3,FALSE,FALSE", "2,gate_40,many,TRUE,FALSE",
        lambda path, limits: read_cookie_cats(path, limits=limits), _loaded),
    TaskReader(
        "read_facebook_ads", "KAG_conversion_data.csv", ",".join(KAGGLE_HEADER.values()),
        "708746,916,30-34,M,15,7350,1,1.43,2,1", "708749,916,30-34,M,15,x,1,1.43,2,1",
        lambda path, limits: read_facebook_ads(path, limits=limits), _loaded),
    TaskReader(
        "read_arms", "ab.csv", "user,arm,kept", "1,A,TRUE", None,
        lambda path, limits: read_arms(path, arm_column="arm", outcome_column="kept",
                                       control="A", treatment="B", limits=limits),
        lambda arms: (sum(map(len, arms)), sum(map(len, arms)), 0), always=("2,B,0",)),
]
IDS = [r.reader for r in READERS]


def _just_over_1_mib(spec: TaskReader) -> list[str]:
    """Good records enough to take the file just past 1 MiB."""
    return [spec.good] * ((1 << 20) // (len(spec.good) + 1) + 1)


def _in_a_forked_process(read: Callable[[], Any]) -> tuple[str, str | None, str]:
    """(exception type or "returned", its rule, its message) of ``read()`` run in a forked
    process allowed 1 GiB more data than it started with, failing the test past
    :data:`DEADLINE_S` (the child is killed: a hung read cannot outlive the test)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        _cap_memory(1 << 30)
        try:
            read()
            send.send(("returned", None, ""))
        except Exception as exc:  # reported to the parent, which judges it
            send.send((type(exc).__name__, getattr(exc, "rule", None), str(exc)[:2000]))

    process = context.Process(target=child, daemon=True)
    started = time.monotonic()
    process.start()
    try:
        if not receive.poll(DEADLINE_S):
            pytest.fail(f"the read was still running after {DEADLINE_S:.0f} s (a hang or a "
                        "runaway read); killed")
        outcome = receive.recv()
    finally:
        process.kill()
        process.join()
    assert time.monotonic() - started < DEADLINE_S
    return outcome


def _cap_memory(extra: int) -> None:
    """Let this process allocate at most ``extra`` more bytes of data (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            data_kb = next(int(line.split()[1]) for line in status
                           if line.startswith("VmData:"))
    except (OSError, StopIteration):
        return
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = data_kb * 1024 + extra
    resource.setrlimit(resource.RLIMIT_DATA,
                       (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _assert_refused(outcome: tuple[str, str | None, str], spec: TaskReader, rule: str,
                    fragments: list[str]) -> None:
    kind, seen_rule, message = outcome
    assert (kind, seen_rule) == ("CollectError", rule), outcome
    assert message.startswith(f"{spec.reader}: file "), message
    for fragment in [spec.target.rsplit("/", 1)[-1], f"rule {rule!r}", *fragments]:
        assert fragment in message, message


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_good_file_is_read_whole(spec: TaskReader, tmp_path: Path) -> None:
    read_in, accepted, quarantined = spec.counts(spec.read(spec.write(tmp_path), LIMITS))
    assert read_in == accepted + quarantined == 2  # always + good + bad
    assert quarantined == (1 if spec.bad else 0)


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_fifo_named_like_the_file_ends_promptly_with_a_clear_error(spec: TaskReader,
                                                                      tmp_path: Path) -> None:
    fifo = spec.place(tmp_path)
    os.mkfifo(fifo)
    outcome = _in_a_forked_process(lambda: spec.read(fifo, LIMITS))
    _assert_refused(outcome, spec, "not_regular_file",
                    ["a FIFO (named pipe)", "not a regular file"])


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_link_to_dev_zero_is_refused(spec: TaskReader, tmp_path: Path) -> None:
    link = spec.place(tmp_path)
    link.symlink_to("/dev/zero")
    outcome = _in_a_forked_process(lambda: spec.read(link, LIMITS))
    _assert_refused(outcome, spec, "not_regular_file",
                    ["a character device", "a link to '/dev/zero'"])


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_file_over_max_file_mb_is_refused_naming_the_limit(spec: TaskReader,
                                                             tmp_path: Path) -> None:
    path = spec.write(tmp_path, _just_over_1_mib(spec))
    assert 1 << 20 < path.stat().st_size < 1.05 * (1 << 20)
    with pytest.raises(CollectError) as caught:
        spec.read(path, replace(LIMITS, max_file_mb=1))
    _assert_refused(("CollectError", caught.value.rule, str(caught.value)), spec,
                    "max_file_mb", ["collect.max_file_mb = 1 MiB", "got '1.0 MiB'"])


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_header_over_max_columns_is_refused(spec: TaskReader, tmp_path: Path) -> None:
    spec = replace(spec, header=spec.header
                   + "".join(f",extra_{i}" for i in range(LIMITS.max_columns)))
    with pytest.raises(CollectError) as caught:
        spec.read(spec.write(tmp_path), LIMITS)
    _assert_refused(("CollectError", caught.value.rule, str(caught.value)), spec,
                    "max_columns", [f"over collect.max_columns = {LIMITS.max_columns}"])


class _AppendedWhileRead:
    """Opens files as the readers do, and appends records to ``target`` once its first
    block was read (a writer still at work); ``times`` reads are disturbed, later ones
    not."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: Path, record: str,
                 times: int) -> None:
        self.left = times
        real = source_file.SourceFile.__init__

        def opened(this: source_file.SourceFile, path: Path, limits: ReadLimits) -> None:
            real(this, path, limits)
            if self.left and Path(path) == target:
                self.left -= 1
                this.stream.peek(1)  # the reader has started
                with open(path, "a", encoding="utf-8") as writer:
                    writer.write(f"{record}\n" * 100)

        monkeypatch.setattr(source_file.SourceFile, "__init__", opened)


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_file_rewritten_during_every_read_is_refused(spec: TaskReader, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec.write(tmp_path)
    _AppendedWhileRead(monkeypatch, path, spec.good, times=2)
    with pytest.raises(CollectError) as caught:
        spec.read(path, LIMITS)
    _assert_refused(("CollectError", caught.value.rule, str(caught.value)), spec,
                    "file_changed", ["changed while it was read", "nothing was taken"])


@pytest.mark.parametrize("spec", READERS, ids=IDS)
def test_a_file_that_changed_once_is_read_again_whole(spec: TaskReader, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec.write(tmp_path)
    _AppendedWhileRead(monkeypatch, path, spec.good, times=1)
    read_in, accepted, quarantined = spec.counts(spec.read(path, LIMITS))
    assert read_in == accepted + quarantined == 102


def test_a_gzipped_file_is_read_as_its_content_and_capped_once_decompressed(
        tmp_path: Path) -> None:
    spec = next(r for r in READERS if r.reader == "read_ira_daily")
    plain = spec.write(tmp_path, [spec.good] * 20_000)
    packed = tmp_path / "ira_daily.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert packed.stat().st_size < 1 << 20 < plain.stat().st_size
    assert spec.counts(spec.read(packed, LIMITS)) == spec.counts(spec.read(plain, LIMITS))
    with pytest.raises(CollectError, match="the decompressed content is over "
                                           "collect.max_file_mb = 1 MiB"):
        spec.read(packed, replace(LIMITS, max_file_mb=1))


#: task -> (the reader of its file, its params source, the file's place under tmp_path
#: as the section's ``path`` names it: the file, or the Open Bandit folder).
TASK_SOURCES = {
    "conversion": ("read_sessions_csv", "file", ""),
    "feedback_sentiment": ("read_feedback_csv", "airline_tweets", ""),
    "news_shares": ("read_online_news_csv", "online_news", ""),
    "article_points": ("read_hacker_news_csv", "hacker_news", ""),
    "click_through": ("read_open_bandit", "open_bandit", "folder"),
    "account_churn": ("read_ira_daily", "file", ""),
    "player_retention": ("read_cookie_cats", "file", ""),
    "ad_rates": ("read_facebook_ads", "file", ""),
}


@pytest.mark.parametrize("task_name", sorted(TASK_SOURCES))
def test_each_collect_hook_reads_under_the_collect_params_limits(task_name: str,
                                                                 tmp_path: Path,
                                                                 make_project: Any) -> None:
    from pipelines.config import load_settings

    reader, source, place = TASK_SOURCES[task_name]
    spec = next(r for r in READERS if r.reader == reader)
    path = spec.write(tmp_path / "in", _just_over_1_mib(spec))
    task = get_task(task_name)
    section = task.section_name
    overrides = {"train.task": task_name, f"{section}.source": source,
                 f"{section}.path": str(tmp_path / "in" if place == "folder" else path),
                 "collect.max_file_mb": 1}
    if task_name == "click_through":
        overrides[f"{section}.logs"] = ["random/men"]
    project = make_project(tmp_path)
    settings = load_settings(project.root / "params.yaml", overrides)
    with pytest.raises(CollectError) as caught:
        task.collect(project, settings)
    _assert_refused(("CollectError", caught.value.rule, str(caught.value)), spec,
                    "max_file_mb", ["collect.max_file_mb = 1 MiB"])
    assert not project.raw(task.input.entity).exists()  # nothing taken from it


@pytest.mark.parametrize("task_name", ["conversion", "click_through"])
def test_batch_scoring_reads_under_the_limits_it_is_given(task_name: str, tmp_path: Path,
                                                          make_project: Any) -> None:
    reader = TASK_SOURCES[task_name][0]
    spec = next(r for r in READERS if r.reader == reader)
    fifo = spec.place(tmp_path)
    os.mkfifo(fifo)
    task = get_task(task_name)
    outcome = _in_a_forked_process(lambda: task.read_for_scoring(
        fifo, "canonical", paths=make_project(tmp_path), limits=LIMITS))
    _assert_refused(outcome, spec, "not_regular_file", ["a FIFO (named pipe)"])
