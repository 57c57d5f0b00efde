"""`corridors_top` (port → destination by estimated loads): the ports of one crossing city pool their
destination evidence as far as their mixes agree (`corridors.city_weights`), so that a pair's estimate rests on
the city's known loads rather than one port's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from puente.analyze.corridors import UNKNOWN, city_weights, crossing_cities, port_destinations

MIX = {"Los Angeles, California": 0.45, "Denver, Colorado": 0.3, "Las Vegas, Nevada": 0.2, "Omaha, Nebraska": 0.05}


def _flows(known: dict[str, dict[str, int]], unknown: dict[str, int]) -> pd.DataFrame:
    """One period's flows: ``known[port][destination]`` loads (a third of them followed, the rest reported),
    ``unknown[port]`` loads with no destination."""
    rows = [{"period": "2020-01-01", "origin": "Tijuana, Baja California", "crossing": port, "destination": dest,
             "loads": n, "reported": n - n // 3} for port, mix in known.items() for dest, n in mix.items() if n]
    rows += [{"period": "2020-01-01", "origin": "Tijuana, Baja California", "crossing": port,
              "destination": UNKNOWN, "loads": n, "reported": 0} for port, n in unknown.items()]
    return pd.DataFrame(rows)


def _draw(n: int, mix: dict[str, float], seed: int) -> dict[str, int]:
    return dict(zip(mix, (int(k) for k in np.random.default_rng(seed).multinomial(n, list(mix.values())))))


def _share(top: pd.DataFrame, port: str, dest: str) -> float:
    return float(top.loc[(top["crossing"] == port) & (top["destination"] == dest), "share"].iloc[0])


def test_the_gazetteer_names_each_port_its_crossing_city() -> None:
    cities = crossing_cities()
    assert cities["San Ysidro"] == cities["Otay Mesa"] == "Tijuana, Baja California"
    assert cities["Nogales DeConcini"] == cities["Nogales Mariposa"]
    assert cities["Douglas"] != cities["Naco"]


def test_ports_of_one_city_with_the_same_mix_share_their_evidence() -> None:
    # San Ysidro and Otay Mesa send loads to the same places: pooled, both ports get the city's mix (weight 1);
    # Douglas, alone in Agua Prieta, keeps its own.
    # Otay Mesa's 40 known loads differ from San Ysidro's 400 by less than chance (Omaha 1 for 2).
    known = {"San Ysidro": {"Los Angeles, California": 180, "Denver, Colorado": 120, "Las Vegas, Nevada": 80,
                            "Omaha, Nebraska": 20},
             "Otay Mesa": {"Los Angeles, California": 19, "Denver, Colorado": 12, "Las Vegas, Nevada": 8,
                           "Omaha, Nebraska": 1},
             "Douglas": {"Houston, Texas": 42, "San Antonio, Texas": 18}}
    flows = _flows(known, {"San Ysidro": 4000, "Otay Mesa": 2000, "Douglas": 500})
    top = port_destinations(flows)
    weight = top.drop_duplicates("crossing").set_index("crossing")["city_weight"]
    assert weight["San Ysidro"] == weight["Otay Mesa"] == 1.0 and weight["Douglas"] == 0.0
    for dest in MIX:
        assert abs(_share(top, "San Ysidro", dest) - _share(top, "Otay Mesa", dest)) < 1e-9
    # the estimate is the port's loads times the city's mix: 4000 + 400 loads through San Ysidro
    la = top[(top["crossing"] == "San Ysidro") & (top["destination"] == "Los Angeles, California")]
    assert abs(float(la["loads"].iloc[0]) - 4400 * _share(top, "San Ysidro", "Los Angeles, California")) < 1e-6
    # without the cities, each port keeps its own evidence: the shares differ
    alone = port_destinations(flows, cities={})
    assert (alone["city_weight"] == 0).all()
    assert abs(_share(alone, "San Ysidro", "Omaha, Nebraska") - _share(alone, "Otay Mesa", "Omaha, Nebraska")) > 1e-3


def test_ports_of_one_city_that_go_different_places_keep_their_own_mix() -> None:
    known = {"San Ysidro": _draw(300, {"Los Angeles, California": 0.9, "Denver, Colorado": 0.1}, 1),
             "Otay Mesa": _draw(300, {"Los Angeles, California": 0.1, "Denver, Colorado": 0.9}, 2)}
    top = port_destinations(_flows(known, {}))
    weight = top.drop_duplicates("crossing").set_index("crossing")["city_weight"]
    assert weight.max() < 0.05
    assert _share(top, "San Ysidro", "Los Angeles, California") > 0.8
    assert _share(top, "Otay Mesa", "Denver, Colorado") > 0.8


def test_a_port_with_no_known_destination_takes_its_citys_mix() -> None:
    # Otay Mesa's loads never show a destination: it takes Tijuana's mix (San Ysidro's), not the mix of all
    # ports, where Douglas's Houston loads would lead; Tecate, alone in its city, has only the mix of all ports
    known = {"San Ysidro": _draw(200, MIX, 3), "Douglas": {"Houston, Texas": 400}}
    flows = _flows(known, {"Otay Mesa": 500, "Tecate": 500})
    top = port_destinations(flows)
    otay = top[top["crossing"] == "Otay Mesa"].set_index("destination")
    tecate = top[top["crossing"] == "Tecate"].set_index("destination")
    assert float(otay["city_weight"].iloc[0]) == 1.0 and float(tecate["city_weight"].iloc[0]) == 0.0
    assert otay["share"].idxmax() == "Los Angeles, California" and otay.loc["Houston, Texas", "share"] < 0.01
    assert tecate["share"].idxmax() == "Houston, Texas"


def test_a_port_with_few_loads_does_not_hide_how_its_neighbours_differ() -> None:
    # Juárez: El Paso and Ysleta serve different highways; Santa Teresa's 3 known loads expect < 5 loads in every
    # destination, which must not leave the comparison without columns (and pool everything)
    known = pd.DataFrame({"Houston, Texas": [250, 30, 1], "Denver, Colorado": [50, 270, 2]},
                         index=["El Paso", "Ysleta", "Santa Teresa"])
    weights = city_weights(known, crossing_cities())
    assert weights["El Paso"] < 0.05 and weights["Ysleta"] < 0.05
