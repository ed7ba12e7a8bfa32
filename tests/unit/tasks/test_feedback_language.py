"""Language detection: repeatable, short texts undetermined, non-English flagged."""

import pytest

from pipelines.tasks.feedback_language import detect_languages, scored_as_english

SETTINGS = {"min_letters": 20, "min_confidence": 0.95, "seed": 0}


def test_languages_are_detected_and_short_texts_are_undetermined():
    texts = ["The flight was delayed for three hours and nobody told us anything.",
             "Le vol était annulé et personne ne nous a aidés à l'aéroport hier soir.",
             "El servicio fue excelente y la tripulación muy amable con todos nosotros.",
             "", "😍😍😍", "ok!!", None, "@united @delta #fail http://t.co/x ok"]
    got = detect_languages(texts, **SETTINGS)
    assert got[:3] == ["en", "fr", "es"]
    assert got[3:] == ["und"] * 5
    assert scored_as_english(got) == [True, False, False, True, True, True, True, True]


def test_shouting_english_is_not_mistaken_for_another_language():
    text = "@united but again UNITED DOESNT GIVE 2 SHITS ABOUT THEIR CUSTOMERS"
    assert detect_languages([text], **SETTINGS) == ["en"]


def test_answers_repeat():
    texts = ["Das Essen war kalt und der Service langsam, leider keine Empfehlung."] * 3
    assert len(set(detect_languages(texts, **SETTINGS))) == 1


@pytest.mark.parametrize(("bad", "match"), [
    ({"min_letters": 0}, "'min_letters' must be an int >= 1"),
    ({"min_confidence": 0}, "'min_confidence' must be in"),
    ({"seed": -1}, "'seed' must be an int >= 0"),
])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        detect_languages(["x"], **{**SETTINGS, **bad})
