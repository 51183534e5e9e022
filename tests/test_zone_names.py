"""Corners of zone naming that test_zones.py does not reach (found by mutation testing)."""

from __future__ import annotations

from typing import Any

import pytest

from workflow_core_module.scheduling.zones import canonical_zone, suggest_zone


@pytest.mark.parametrize("value", [None, 5, b"Europe/Berlin", ["Europe/Berlin"]])
def test_a_zone_name_that_is_not_text_is_no_zone(value: Any) -> None:
    assert canonical_zone(value) is None
    assert suggest_zone(value) is None


def test_a_city_in_two_zones_suggests_the_first_by_name() -> None:
    """'louisville' is the last part of America/Kentucky/Louisville and America/Louisville: the
    suggestion does not depend on the order the system lists its zones in."""
    assert suggest_zone("louisville") == "America/Kentucky/Louisville"
    assert suggest_zone("LONDON") == "Europe/London"
