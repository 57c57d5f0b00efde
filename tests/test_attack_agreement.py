"""A partner negotiating an agreement (attack9): a coarsened field that a sibling field, computed from the same
inputs and kept exactly, gives back."""

from __future__ import annotations

from typing import Any

import pytest
from share_support import agreement_doc, install, pair

from puente.errors import ConfigError


def test_rounded_kilograms_beside_an_exact_pill_count_are_refused(make_node: Any) -> None:
    """quantity_kg rounded to 1 kg, quantity and unit withheld, but pill_count kept: both are computed from quantity
    and unit, and for a pill seizure quantity_kg = pill_count x the unit's weight per pill, so the partner would
    compute every pill seizure's kilograms exactly."""
    us, mx = pair(make_node)
    kinds = {"seizure": {"fields": {"drug": "keep", "quantity_kg": {"transform": "round", "step": 1},
                                    "pill_count": "keep"}}}
    with pytest.raises(ConfigError, match=r"kinds\.seizure\.fields\.quantity_kg is round, but pill_count, computed "
                                          r"from the same quantity, unit, is kept"):
        install(us, mx, agreement_doc(us, mx, kinds))
    kinds["seizure"]["fields"]["pill_count"] = {"transform": "round", "step": 1000}  # coarsened too: accepted
    install(us, mx, agreement_doc(us, mx, kinds))
