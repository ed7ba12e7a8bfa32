"""The fallback chain global → platform → campaign/account and the status block."""

import pytest

from pipelines.segments.hierarchy import Segment, chain_for, model_status, resolve

POST = {"platform": "instagram", "campaign_id": "42", "account_id": "acc-1"}
GLOBAL, INSTAGRAM, CAMPAIGN = Segment("global"), Segment("platform", "instagram"), Segment(
    "campaign", "42")


def test_chain_runs_from_the_most_specific_level_to_global():
    assert chain_for(POST) == [CAMPAIGN, INSTAGRAM, GLOBAL]
    assert chain_for(POST, segment_key="account_id")[0] == Segment("account", "acc-1")
    assert chain_for({"platform": "twitter", "campaign_id": None}) == [
        Segment("platform", "twitter"), GLOBAL]
    assert chain_for({"platform": "", "campaign_id": "  "}) == [GLOBAL]
    assert chain_for({"campaign_id": float("nan"), "platform": "x"})[0] == Segment(
        "platform", "x")


def test_resolve_takes_the_first_level_with_a_model():
    chain = chain_for(POST)
    assert resolve(chain, {GLOBAL: {}, INSTAGRAM: {}}) == INSTAGRAM
    assert resolve(chain, {GLOBAL: {}, INSTAGRAM: {}, CAMPAIGN: {}}) == CAMPAIGN
    assert resolve(chain, {GLOBAL: {}}) == GLOBAL
    assert resolve(chain, {}) is None


def test_status_says_why_a_campaign_falls_back_to_its_platform():
    status = model_status(chain_for(POST), {GLOBAL: {"version": "3"},
                                            INSTAGRAM: {"version": "5"}},
                          samples={CAMPAIGN: 12}, min_samples=20,
                          retrained=frozenset({"platform=instagram"}))
    assert status == {
        "level": "platform", "segment": "platform=instagram", "has_segment_model": False,
        "trained_in_cycle": True, "model_version": "5",
        "message": "Campaign 42 has 12 of 20 samples; using the instagram model"}


def test_status_with_the_segments_own_model_and_with_nothing_at_all():
    own = model_status(chain_for(POST), {CAMPAIGN: {"version": "7"}, GLOBAL: {"version": "1"}})
    assert own["level"] == "campaign" and own["has_segment_model"] is True
    assert own["model_version"] == "7" and own["trained_in_cycle"] is False
    assert own["message"] == "Using the campaign 42 model"
    beaten = model_status(chain_for(POST), {GLOBAL: {"version": "1"}},
                          samples={CAMPAIGN: 40, INSTAGRAM: 900}, min_samples=20)
    assert beaten["level"] == "global" and "did not beat the level above" in beaten["message"]
    nothing = model_status(chain_for(POST), {})
    assert nothing["level"] is None and nothing["model_version"] is None
    assert nothing["message"].endswith("no model exists yet at any level")


def test_segment_keys_and_aliases_round_trip_and_stay_alias_safe():
    assert Segment.from_key(CAMPAIGN.key) == CAMPAIGN and Segment.from_key("global") == GLOBAL
    assert INSTAGRAM.alias == "champion-platform-instagram" and GLOBAL.alias == "champion"
    assert Segment("campaign", "spring sale/2026").alias == "champion-campaign-spring_sale_2026"
    with pytest.raises(ValueError, match="global level has no value"):
        Segment("global", "x")
    with pytest.raises(ValueError, match="LEVEL=VALUE"):
        Segment.from_key("instagram")
    with pytest.raises(ValueError, match="lower-case name"):
        Segment("Bad Level", "x")
