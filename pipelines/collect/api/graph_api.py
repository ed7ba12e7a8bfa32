"""Meta Graph API pieces shared by the Instagram and Facebook collectors.

Paging: a page is ``{"data": [...], "paging": {"cursors": {"after": ...}, "next": url}}``;
there are more pages while ``paging.next`` is present. Counts and insights use
``GET /{id}?fields=followers_count`` and ``GET /{id}/insights?metric=...``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.collect.api.errors import ApiRequestError, ApiResponseError
from pipelines.collect.api.http_client import ApiClient, HttpSettings
from pipelines.collect.api.records import (
    ApiResult,
    Enricher,
    FieldReader,
    ResultBuilder,
    check_page_size,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One page of a paged listing.

    Attributes:
        number: 1-based page number.
        endpoint: The endpoint URL without query string (quarantine ``source_file``).
        records: The page's records.
        body: The whole decoded page (for ``includes`` and the like).
    """

    number: int
    endpoint: str
    records: list[Any]
    body: dict[str, Any]


def graph_pages(
    client: ApiClient,
    path: str,
    params: Mapping[str, Any],
    *,
    use_cursor: bool,
    max_pages: int | None = None,
) -> Iterator[Page]:
    """Yield the pages of a Graph API listing until ``paging.next`` is absent.

    Args:
        client: The Graph API client.
        path: Listing path, e.g. ``/{ig-user-id}/media``.
        params: Query parameters of the first page.
        use_cursor: Ask for the next page with ``after=<paging.cursors.after>`` on the same
            path (Instagram); otherwise follow the ``paging.next`` link (Facebook).
        max_pages: Stop after this many pages (None: no limit).

    Raises:
        ApiResponseError: if a page has no ``data`` list, a malformed ``paging`` object,
            or a cursor that does not advance.
    """
    target, query = path, dict(params)
    seen_cursors: set[str] = set()
    number = 0
    while True:
        number += 1
        body = client.get_json(target, query, page=number)
        endpoint = client.endpoint(target)
        records = body.get("data")
        if not isinstance(records, list):
            raise ApiResponseError(
                f"{client.api}: page {number} of GET {endpoint} has no 'data' list; got "
                f"keys {sorted(body)}. Expected the Graph API listing shape "
                f"{{'data': [...], 'paging': {{...}}}}."
            )
        yield Page(number, endpoint, records, body)
        paging = body.get("paging") or {}
        if not isinstance(paging, Mapping):
            raise ApiResponseError(
                f"{client.api}: page {number} of GET {endpoint} has a 'paging' that is not an "
                f"object: {str(paging)[:100]!r}."
            )
        next_link = paging.get("next")
        if not next_link or not records:
            return
        if max_pages is not None and number >= max_pages:
            logger.warning("%s: stopping GET %s after max_pages=%d; more pages remain",
                           client.api, endpoint, max_pages)
            return
        cursor = (paging.get("cursors") or {}).get("after") if use_cursor else None
        if cursor:
            if cursor in seen_cursors:
                raise ApiResponseError(
                    f"{client.api}: page {number} of GET {endpoint} repeats cursor "
                    f"'after'={cursor[:40]!r}; paging does not advance."
                )
            seen_cursors.add(cursor)
            target, query = path, {**params, "after": cursor}
        elif isinstance(next_link, str):
            if next_link in seen_cursors:
                raise ApiResponseError(
                    f"{client.api}: page {number} of GET {endpoint} repeats its 'paging.next' "
                    f"link; paging does not advance."
                )
            seen_cursors.add(next_link)
            target, query = next_link, {}
        else:
            raise ApiResponseError(
                f"{client.api}: page {number} of GET {endpoint} has a 'paging.next' that is "
                f"not a URL: {str(next_link)[:100]!r}."
            )


def fetch_followers(client: ApiClient, node_id: str) -> int:
    """``followers_count`` of a Graph node (IG user or Facebook page).

    Raises:
        ApiResponseError: if the response lacks a non-negative integer ``followers_count``.
    """
    body = client.get_json(f"/{node_id}", {"fields": "followers_count"})
    value = body.get("followers_count")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiResponseError(
            f"{client.api}: GET {client.endpoint(f'/{node_id}')} must return a non-negative "
            f"integer 'followers_count'; got {value!r} (keys {sorted(body)})."
        )
    return value


def fetch_insights(client: ApiClient, object_id: str, metrics: Sequence[str]) -> dict[str, int]:
    """Lifetime insight values of one media/post, by metric name.

    Values are read from ``values[0].value`` or ``total_value.value`` (newer versions).
    A 400 for one object (e.g. media older than the business account) is logged and gives
    ``{}``, so one old post does not fail the whole collection.

    Raises:
        ApiResponseError: if the response has no ``data`` list.
        ApiAuthError, ApiRequestError: from the client, except the per-object 400.
    """
    path = f"/{object_id}/insights"
    try:
        body = client.get_json(path, {"metric": ",".join(metrics)})
    except ApiRequestError as exc:
        if exc.status != 400:
            raise
        logger.warning("%s: no insights for %s (HTTP 400); leaving its insight counts empty",
                       client.api, object_id)
        return {}
    data = body.get("data")
    if not isinstance(data, list):
        raise ApiResponseError(
            f"{client.api}: GET {client.endpoint(path)} has no 'data' list; got keys "
            f"{sorted(body)}."
        )
    values: dict[str, int] = {}
    for item in data:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        value = _insight_value(item)
        if value is not None:
            values[item["name"]] = value
    return values


def _insight_value(item: Mapping[str, Any]) -> int | None:
    total = item.get("total_value")
    if isinstance(total, Mapping):
        value = total.get("value")
    else:
        series = item.get("values")
        value = series[0].get("value") if isinstance(series, list) and series and isinstance(
            series[0], Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def insights_enricher(client: ApiClient, metrics: Sequence[str],
                      columns: Mapping[str, str]) -> Enricher:
    """An enricher that reads each post's insights: metrics named in ``columns`` fill that
    canonical column, the others go to ``extra["insights"]``."""
    def enrich(row: dict[str, Any], extra: dict[str, Any]) -> None:
        for metric, value in fetch_insights(client, row["post_id"], metrics).items():
            if metric in columns:
                row[columns[metric]] = value
            else:
                extra.setdefault("insights", {})[metric] = value

    return enrich


def collect_graph_posts(
    *,
    api: str,
    source: str,
    edge: str,
    fields: str,
    use_cursor: bool,
    time_field: str,
    map_record: Callable[[FieldReader, str, int], tuple[dict[str, Any], dict[str, Any]]],
    insight_metrics: Sequence[str] | None,
    insight_columns: Mapping[str, str],
    token: str,
    base_url: str,
    account_id: str,
    collected_at: Any,
    since: Any,
    page_size: int,
    max_pages: int | None,
    settings: HttpSettings | None,
    session: Any,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
) -> ApiResult:
    """The Graph API collection both Instagram and Facebook Pages use: the node's follower
    count, then ``/{account_id}/{edge}`` page by page (newest first, stopping past
    ``since``), each record mapped by ``map_record(reader, account_id, followers)`` and
    optionally enriched with its insights.

    Raises:
        ValueError: on a bad ``page_size``.
        ApiAuthError, ApiRequestError, ApiResponseError: from the requests.
    """
    check_page_size(f"fetch_{api}_posts", page_size, 100)
    builder = ResultBuilder(api=api, source=source, collected_at=collected_at, since=since)
    metrics = tuple(insight_metrics or ())
    with ApiClient(api=api, base_url=base_url, token=token, token_in="query",
                   settings=settings, session=session, sleep=sleep, seed=seed) as client:
        followers = fetch_followers(client, account_id)
        params = {"fields": fields, "limit": page_size}
        enrich = insights_enricher(client, metrics, insight_columns) if metrics else None
        for page in graph_pages(client, f"/{account_id}/{edge}", params,
                                use_cursor=use_cursor, max_pages=max_pages):
            if builder.add_page(
                    page.records, page.endpoint,
                    lambda r: map_record(r, account_id, followers), enrich=enrich,
                    posted_at=lambda r: FieldReader(r).timestamp(time_field, "posted_at")):
                logger.info("%s: page %d reaches since=%s; stop paging", api, page.number,
                            builder.since)
                break
        return builder.build()
