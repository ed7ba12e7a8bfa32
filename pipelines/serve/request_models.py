"""The bodies ``POST /predict`` and ``POST /outcomes`` take.

:class:`Post` types one post as a client sends it and holds the API's own limits (key
lengths the prediction log stores, a caption the server reads whole); the posts row
contract's rules (required fields, allowed platforms, content types and post kinds, follower and
count bounds, posted since 2004 and not after the request's time, caption length) are
added from the suite by :func:`request_bodies`
(:func:`pipelines.validate.row_rules.with_row_contract`), so validation, batch scoring and
serving read one definition. Numbers are strict (``true`` is no follower count, ``1.5`` no
count); times must be ones UTC can hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    create_model,
    model_validator,
)

from pipelines.prediction_log import INT64_MAX

#: The earliest observation time an outcome may carry.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

StrictInt = Annotated[int, Strict()]


class Post(BaseModel):
    """One post as known when it is published (the model's input)."""

    model_config = ConfigDict(extra="forbid")

    post_id: str = Field(min_length=1, max_length=256)
    account_id: str = Field(min_length=1, max_length=256)
    platform: str = Field(description="Allowed values: the posts row contract.")
    content_type: str = Field(description="Allowed values: the posts row contract.")
    post_kind: str | None = Field(
        None, description="original, reply, quote or share (allowed values: the posts row "
        "contract); omitted or null: not said, predicted as an original post.")
    posted_at: datetime = Field(description="Publication time; without an offset it is UTC.")
    caption: str = Field("", max_length=20_000)
    hashtags_count: StrictInt | None = Field(None, le=10_000)
    mentions_count: StrictInt | None = Field(None, le=10_000)
    urls_count: StrictInt | None = Field(None, le=10_000)
    media_count: StrictInt | None = Field(None, le=10_000)
    followers_at_post_time: StrictInt = Field(le=10_000_000_000)
    campaign_id: str | None = Field(None, max_length=256,
                                    description="Campaign, if any (its own model may answer).")


class Outcome(BaseModel):
    """Realized counts of a post, any time after it was predicted."""

    model_config = ConfigDict(extra="forbid")
    post_id: str = Field(min_length=1, max_length=256)
    observed_at: datetime | None = Field(None, description="When counted; default: now (UTC).")
    likes: StrictInt | None = Field(None, ge=0, le=INT64_MAX)
    comments: StrictInt | None = Field(None, ge=0, le=INT64_MAX)
    shares: StrictInt | None = Field(None, ge=0, le=INT64_MAX)

    @model_validator(mode="after")
    def _some_count(self) -> Outcome:
        if self.likes is None and self.comments is None and self.shares is None:
            raise ValueError("at least one of likes, comments, shares is required")
        return self


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "posts" in value else "post"


@dataclass(frozen=True)
class RequestBodies:
    """The body types of one server (its contract and clock bound applied).

    Attributes:
        post: :class:`Post` with the row contract's rules.
        post_batch: ``{"posts": [post, ...]}``.
        predict: One post or a batch (what ``POST /predict`` takes).
        outcomes: ``{"outcomes": [Outcome, ...]}`` with ``observed_at`` not after the
            request's time (plus the tolerance) and not before 1970.
    """

    post: type[BaseModel]
    post_batch: type[BaseModel]
    predict: Any
    outcomes: type[BaseModel]


def request_bodies(row_suite: Mapping[str, Any], *, future_tolerance_seconds: float
                   ) -> RequestBodies:
    """The request bodies under the posts row contract ``row_suite``: its one-row rules on
    the :class:`Post` fields, ``as_of`` bound to each request's arrival plus
    ``future_tolerance_seconds`` (``serve.future_tolerance_seconds``: clients' clocks run
    ahead), ``max_caption_chars`` to what validation allows.

    Raises:
        ValueError: if the suite has a rule the post fields cannot carry (naming it).
    """
    from pipelines.validate.row_rules import with_row_contract
    from pipelines.validate.stage import MAX_CAPTION_CHARS

    ahead = timedelta(seconds=future_tolerance_seconds)

    def latest() -> datetime:
        return datetime.now(UTC) + ahead

    post = with_row_contract(Post, row_suite, parameters={
        "as_of": latest, "max_caption_chars": lambda: MAX_CAPTION_CHARS})
    batch = create_model("PostBatch", __config__=ConfigDict(extra="forbid"),
                         __doc__="Several posts in one request (at most serve.max_batch).",
                         posts=(list[post], Field(min_length=1)))  # type: ignore[valid-type]

    def observed(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            instant = value.replace(tzinfo=UTC) if value.tzinfo is None \
                else value.astimezone(UTC)
        except OverflowError:
            instant = None
        if instant is None or not EPOCH <= instant <= latest():
            raise ValueError(f"observed_at must be a time from {EPOCH.isoformat()} to now + "
                             f"{future_tolerance_seconds:g} s (serve.future_tolerance_seconds); "
                             f"got {value.isoformat()}")
        return instant

    outcome = create_model("Outcome", __base__=Outcome, __doc__=Outcome.__doc__,
                           observed_at=(Annotated[datetime | None, AfterValidator(observed)],
                                        Field(None, description=Outcome.model_fields[
                                            "observed_at"].description)))
    outcomes = create_model("OutcomeBatch", __config__=ConfigDict(extra="forbid"),
                            outcomes=(list[outcome], Field(min_length=1)))  # type: ignore
    predict = Annotated[Annotated[post, Tag("post")] | Annotated[batch, Tag("batch")],
                        Discriminator(_shape)]
    return RequestBodies(post=post, post_batch=batch, predict=predict, outcomes=outcomes)
