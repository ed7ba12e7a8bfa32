"""Language detection of feedback texts: which rows a model may score as English.

``langdetect`` (a port of Google's language-detection, offline, profiles shipped in the
wheel) is random by design; its factory seed is set before every call so the same text
always gets the same answer. Tweets carry @mentions, URLs and #tags that are not language:
they are removed before detection. Short or letter-poor texts (emoji only, "ok!!", empty)
cannot be told apart reliably: they get :data:`UNDETERMINED` (``"und"``, the ISO 639-2 code
for it) and are scored like English, since VADER reads emoji and the English text model
reads them as well as anything. A text is non-English only when the detector is at least
``min_confidence`` sure of a language other than English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

UNDETERMINED = "und"
ENGLISH = "en"
#: Languages a text model scores as English.
SCORED_AS_ENGLISH: tuple[str, ...] = (ENGLISH, UNDETERMINED)
_NOISE = re.compile(r"(@\w+|#\w+|https?://\S+|www\.\S+)")


def detect_languages(texts: Sequence[object], *, min_letters: int, min_confidence: float,
                     seed: int) -> list[str]:
    """One ISO 639-1 code (or ``"und"``) per text.

    Raises:
        ValueError: for ``min_letters`` < 1, ``min_confidence`` outside (0, 1] or
            ``seed`` < 0.
    """
    if not isinstance(min_letters, int) or min_letters < 1:
        raise ValueError(f"detect_languages: 'min_letters' must be an int >= 1; "
                         f"got {min_letters!r}.")
    if not 0 < min_confidence <= 1:
        raise ValueError(f"detect_languages: 'min_confidence' must be in (0, 1]; "
                         f"got {min_confidence!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"detect_languages: 'seed' must be an int >= 0; got {seed!r}.")
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    out = []
    for text in texts:
        # lower case: shouted English ("UNITED DOESNT GIVE ...") misleads the profiles
        clean = _NOISE.sub(" ", text if isinstance(text, str) else "").lower()
        if sum(ch.isalpha() for ch in clean) < min_letters:
            out.append(UNDETERMINED)
            continue
        DetectorFactory.seed = seed
        try:
            best = detect_langs(clean)[0]
        except LangDetectException:
            out.append(UNDETERMINED)
            continue
        out.append(best.lang if best.prob >= min_confidence else UNDETERMINED)
    return out


def scored_as_english(languages: Sequence[str]) -> list[bool]:
    """Whether a text model may score each row (English or undetermined)."""
    return [lang in SCORED_AS_ENGLISH for lang in languages]
