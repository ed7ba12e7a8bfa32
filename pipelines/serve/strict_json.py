"""Strict JSON request bodies and 422 answers that always render.

Python's ``json`` (what Starlette's ``Request.json`` uses) accepts ``NaN``, ``Infinity`` and
``-Infinity``, turns ``1e400`` into ``inf`` and keeps a lone surrogate escape (``"\\ud800"``)
as a string no UTF-8 encoder takes. None of them is a value a client can mean, and each
used to end in a 500 far from where it came in (the 422 renderer refuses ``NaN``, the
database refuses the surrogate). :class:`StrictJSONRoute` parses every JSON body strictly
before FastAPI sees it and answers 422 with one error per bad value, ``loc`` naming the
field (``["body", "posts", 0, "followers_at_post_time"]``).

:func:`validation_error_response` renders 422 bodies ASCII-escaped with non-finite numbers
as strings, so an error about any input can always be written back.
"""

from __future__ import annotations

import email.message
import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

#: Longest integer literal accepted (digits): beyond int64 by far, short of Python's
#: 4,300-digit conversion limit (a ``ValueError`` json.loads would raise as a 400).
MAX_INT_DIGITS = 100


class _Bad:
    """A value the strict parser refuses, kept in place so its path can be reported."""

    __slots__ = ("text", "rule")

    def __init__(self, text: str, rule: str) -> None:
        self.text, self.rule = text, rule


def _constant(text: str) -> _Bad:
    return _Bad(text, "must be a finite number (NaN and Infinity are not JSON numbers)")


def _float(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(
        text, "must be a finite number (this one overflows a 64-bit float)")


def _int(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Bad(text[:20] + "...", f"must be an integer of at most {MAX_INT_DIGITS} digits")
    return int(text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _escaped(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")[:80]


def _problems(value: Any, loc: tuple[Any, ...], out: list[dict[str, Any]]) -> None:
    if isinstance(value, _Bad):
        out.append({"type": "json_invalid", "loc": loc, "input": value.text,
                    "msg": f"{'.'.join(map(str, loc[1:])) or 'body'} {value.rule}; "
                           f"got {value.text}"})
    elif isinstance(value, str):
        if _has_surrogate(value):
            out.append({"type": "string_unicode", "loc": loc, "input": _escaped(value),
                        "msg": f"{'.'.join(map(str, loc[1:])) or 'body'} must be valid "
                               f"Unicode text (a lone surrogate escape such as \\ud800 is "
                               f"not); got {_escaped(value)!r}"})
    elif isinstance(value, dict):
        for key, item in value.items():
            if _has_surrogate(key):
                out.append({"type": "string_unicode", "loc": (*loc, _escaped(key)),
                            "input": _escaped(key), "msg": "field names must be valid "
                            f"Unicode text; got {_escaped(key)!r}"})
            _problems(item, (*loc, key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _problems(item, (*loc, i), out)


def strict_loads(body: bytes) -> Any:
    """``body`` as JSON, refusing what is not a value a client can mean.

    Raises:
        RequestValidationError: listing every non-finite number (``NaN``, ``Infinity``,
            ``1e400``), over-long integer and string with a lone surrogate, each with the
            ``loc`` of its field; or a ``json_invalid`` error where the body is no JSON.
    """
    try:
        value = json.loads(body, parse_constant=_constant, parse_float=_float,
                           parse_int=_int)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        position = getattr(error, "pos", getattr(error, "start", 0))
        raise RequestValidationError([{
            "type": "json_invalid", "loc": ("body", position), "input": {},
            "msg": f"JSON decode error: {getattr(error, 'msg', None) or error.reason}"}]
        ) from error
    errors: list[dict[str, Any]] = []
    _problems(value, ("body",), errors)
    if errors:
        raise RequestValidationError(errors)
    return value


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


class StrictJSONRequest(Request):
    """A request whose :meth:`json` is :func:`strict_loads` (parsed once)."""

    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            self._strict_json = strict_loads(await self.body())
        return self._strict_json


class StrictJSONRoute(APIRoute):
    """A route that parses a JSON body strictly before FastAPI does: a body FastAPI would
    read as JSON (JSON content type, or none) is parsed by :func:`strict_loads`, outside
    FastAPI's body reading, so its :class:`RequestValidationError` is answered 422 (inside,
    any error becomes a bare 400) and an ``HTTPException`` of the body's reader (413) keeps
    its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            request = StrictJSONRequest(request.scope, request.receive)
            if _is_json(request.headers.get("content-type")) and await request.body():
                await request.json()
            return await handler(request)

        return strict


def _renderable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _renderable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_renderable(v) for v in value]
    return value


async def validation_error_response(_: Request, error: Exception) -> Response:
    """The 422 of a :class:`RequestValidationError`: FastAPI's body (``{"detail": [...]}``),
    ASCII-escaped and with non-finite numbers as strings, so it renders whatever the
    input was."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    body = json.dumps({"detail": _renderable(jsonable_encoder(errors))}, allow_nan=False)
    return Response(body, status_code=422, media_type="application/json")
