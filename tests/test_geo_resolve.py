"""The offline gazetteer resolves places as agencies write them."""

from __future__ import annotations

import h3
import pytest

from puente.geo.gazetteer import H3_RESOLUTION, load_gazetteer, twin_of


@pytest.mark.parametrize(("text", "country", "expected"), [
    ("Culiacán", "MX", "MX-25006"),
    ("Culiacan, Sin.", "MX", "MX-25006"),
    ("culiacan sinaloa", None, "MX-25006"),  # trailing state without a comma
    ("CULIACAN", "MX", "MX-25006"),
    ("Tijuana, B.C.", None, "MX-02004"),
    ("Cd. Juárez", "MX", "MX-08037"),
    ("Ciudad Juarez, Chihuahua", None, "MX-08037"),
    ("Nogales, Son.", None, "MX-26043"),
    ("Nogales, AZ", None, "US-CITY-AZ-NOGALES"),  # the qualifier picks the country
    ("Lázaro Cárdenas, Mich.", None, "MX-16052"),
    ("Benito Juárez, Q. Roo", None, "MX-23005"),
    ("Maricopa County, AZ", None, "US-04013"),
    ("San Ysidro POE", None, "POE-SYS"),
    ("Saltillo, Coahuila", None, "MX-05030"),  # short form of "Coahuila de Zaragoza"
    ("Manzanillo (puerto)", "MX", "POE-MZO"),  # a gazetteer name with its own parentheses
    ("AICM carga (Ciudad de México)", None, "POE-MEX"),
])
def test_resolves_to_the_right_place(text: str, country: str | None, expected: str) -> None:
    place = load_gazetteer().resolve(text, country)
    assert place is not None and place.id == expected


def test_resolved_place_has_coordinates_and_h3_cell() -> None:
    place = load_gazetteer().resolve("Culiacán, Sin.", "MX")
    assert place is not None
    assert abs(place.lat - 24.80) < 0.1 and abs(place.lon - -107.39) < 0.1  # the cabecera, per INEGI
    assert place.h3 == h3.latlng_to_cell(place.lat, place.lon, H3_RESOLUTION)


def test_port_preference_and_twins() -> None:
    gaz = load_gazetteer()
    assert gaz.resolve("Nogales", "US", prefer="port").kind == "port"  # type: ignore[union-attr]
    assert gaz.resolve("Nogales", "MX").id == "MX-26043"  # type: ignore[union-attr]
    assert twin_of("POE-SYS") == "MX-02004"  # San Ysidro faces Tijuana


@pytest.mark.parametrize("text", ["Cuilacan", "Atlantis", "", "   ", ",,,"])
def test_unknown_places_are_none(text: str) -> None:
    assert load_gazetteer().resolve(text, "MX") is None
