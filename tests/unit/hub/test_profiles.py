"""hubs.profiles as an administrator writes it, and who may choose which profile."""

from __future__ import annotations

import pytest

from appliance.errors import ConfigError
from appliance.hub.profiles import STANDARD, Profile, ProfileRefused, available, choose, parse_profiles, standard
from appliance.hub.settings import HubSettings

FALLBACK = standard("2G", 1.0, 3600)
SPEC = """
big: memory=16G cpus=4 groups=big,gpu environment=py312-ml idle_timeout_s=28800 description="Large jobs (16 GB)"
# a comment line
tiny: memory=512M
"""


def test_a_profile_takes_what_it_says_and_the_rest_from_standard() -> None:
    profiles = parse_profiles(SPEC, FALLBACK)
    assert [p.name for p in profiles] == [STANDARD, "big", "tiny"]
    assert profiles[1] == Profile("big", "Large jobs (16 GB)", "16G", 4.0, "py312-ml", 28800, ("big", "gpu"))
    assert profiles[2] == Profile("tiny", "tiny", "512M", 1.0, "", 3600, ())
    assert parse_profiles("a: cpus=2; b: cpus=0.5", FALLBACK)[2].cpus == 0.5  # ";" between profiles too


@pytest.mark.parametrize(("spec", "said"), [
    ("big memory=16G", "does not start with a profile's name and a colon"),
    ("Big: memory=16G", "does not start with a profile's name"),
    ("big: memory=16", "is not a size like 512M or 16G"),
    ("big: ram=16G", "'ram=16G' is not one of memory, cpus"),
    ("big: cpus=many", "cpus is a number"),
    ("big: cpus=-1", "cannot be negative"),
    ("big: groups=a;b: x=1", "is not one of"),
    ("big: groups=a/b", "groups are names separated by commas"),
    ("big: environment=../x", "environment the name of a shared environment"),
    ('big: description="unclosed', "No closing quotation"),
    ("standard: memory=1G", "names 'standard' twice"),
    ("a: memory=1G\na: memory=2G", "names 'a' twice"),
])
def test_a_mistake_is_refused_naming_the_profile_and_what_to_write(spec: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        parse_profiles(spec, FALLBACK)


def test_the_configuration_refuses_a_bad_profile_when_it_is_read() -> None:
    with pytest.raises(ConfigError, match="is not a size"):
        HubSettings(profiles="big: memory=lots")
    assert [p.name for p in HubSettings(profiles="big: memory=16G groups=big").server_profiles()] == ["standard", "big"]


def test_a_member_may_choose_only_what_their_groups_allow() -> None:
    profiles = parse_profiles(SPEC, FALLBACK)
    assert [p.name for p in available(profiles, ["gpu"])] == [STANDARD, "big", "tiny"]
    assert [p.name for p in available(profiles, ["physics"])] == [STANDARD, "tiny"]
    assert choose(profiles, "big", ["big"]).memory == "16G"
    assert choose(profiles, "", []).name == STANDARD and choose(profiles, None, []).name == STANDARD
    with pytest.raises(ProfileRefused, match="is for members of big, gpu; you are not one"):
        choose(profiles, "big", ["physics"])
    with pytest.raises(ProfileRefused, match="there is no server profile 'huge'"):
        choose(profiles, "huge", ["big"])
