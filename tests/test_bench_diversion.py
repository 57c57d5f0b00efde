"""The truth harness's diversion ablation: a feature is removed by refitting the product's scoring without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from bench.analytics_truth import Run, diversion, roc_auc
from puente.analyze import precursors


def _written(tmp_path: Path) -> tuple[Run, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 4000
    y = rng.random(n) < 0.1

    def flag(p1: float, p0: float) -> np.ndarray:
        return np.where(y, rng.random(n) < p1, rng.random(n) < p0).astype(float)

    f = pd.DataFrame({"lab_link": flag(0.3, 0.01), "seized": flag(0.2, 0.02), "third_party_consignee": flag(0.3, 0.05),
                      "no_pen": flag(0.7, 0.3), "new_importer": flag(0.2, 0.05), "quantity": flag(0.5, 0.15),
                      "routing": flag(0.3, 0.15), "occasional_importer": (rng.random(n) < 0.35).astype(float)})
    fit = precursors.fit_weights(f)
    risk = f.assign(source_id=[f"ref-{i}" for i in range(n)], score=fit.score(f))
    out, sim = tmp_path / "analysis", tmp_path / "sim"
    (sim / "truth").mkdir(parents=True)
    out.mkdir()
    risk.to_parquet(out / "precursors_risk.parquet")
    precursors.weights_table(fit, f).to_parquet(out / "precursors_weights.parquet")
    pd.DataFrame({"source_id": risk["source_id"], "diverted": y.astype(int)}).to_csv(
        sim / "truth" / "precursor_shipments.csv", index=False)
    return Run(sim, cast(Any, None), out), risk, y


def test_a_feature_is_removed_by_refitting_the_products_scoring_without_it(tmp_path: Path) -> None:
    run, risk, y = _written(tmp_path)
    dv = diversion(run)
    assert dv["refit_check"] < 1e-6  # the written score is the product's fit of the written features
    assert dv["auc"] == roc_auc(y, risk["score"])
    for f in precursors.FEATURES:
        rest = [g for g in precursors.FEATURES if g != f]
        assert dv["without"][f] == roc_auc(y, precursors.fit_weights(risk, rest).score(risk))
        # the old definition, still reported: the written score minus the feature's written term
        assert dv["without_term"][f] == roc_auc(y, risk["score"] - dv["weights"][f] * risk[f])
    assert dv["without"]["lab_link"] != dv["without_term"]["lab_link"]
    # and the fixed judgement weights' score (before the weights were fitted per node), with a term removed
    fixed = sum(w * risk[f] for f, w in precursors.PRIOR_WEIGHTS.items())
    assert dv["fixed"]["auc"] == roc_auc(y, fixed)
    assert dv["fixed"]["without"]["quantity"] == roc_auc(y, fixed - 2.0 * risk["quantity"])
