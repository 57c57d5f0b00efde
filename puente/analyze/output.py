"""Writing results: CSV and Parquet per table, GeoJSON, PNG charts (matplotlib) and one HTML page."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import yaml

TITLES = {
    "corridors": "Corridors / Corredores", "hotspots": "Hotspots / Puntos calientes",
    "alerts": "Spike alerts / Alertas de aumento", "precursors": "Precursors and labs / Precursores y laboratorios",
    "firearms": "Firearm flows / Flujos de armas", "networks": "Key players / Actores clave",
    "cbp": "CBP drug seizure statistics / Estadísticas de aseguramientos de CBP",
}


@lru_cache(maxsize=1)
def category_labels() -> dict[str, tuple[str, str]]:
    """Code → (English, Spanish) for every category value a table may carry: analyze/categories.yaml and
    the controlled vocabularies (drugs, chemicals, roles, ...)."""
    from puente.model.vocab import load_vocabularies

    labels = {code: (term.en, term.es) for vocab in load_vocabularies().values() for code, term in vocab.terms.items()}
    own = yaml.safe_load(resources.files("puente.analyze").joinpath("categories.yaml").read_text("utf-8"))
    labels.update({code: (v["en"], v["es"]) for code, v in own.items()})
    return labels


def bilingual(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``<col>_en`` and ``<col>_es`` after each column of category codes (every non-empty
    value a known code, or ``;``-separated codes such as a risk score's reasons)."""
    labels = category_labels()
    out = frame.copy()
    for col in frame.columns:
        if frame[col].dtype != object or col.endswith(("_en", "_es")) or f"{col}_en" in frame:
            continue
        values = frame[col].dropna()
        values = values[values.astype(str) != ""]
        if values.empty or not all(isinstance(v, str) for v in values):
            continue
        codes = {c for v in values.unique() for c in v.split(";")}
        if not codes <= labels.keys():
            continue
        at = out.columns.get_loc(col) + 1
        for i, lang in enumerate(("en", "es")):
            out.insert(at + i, f"{col}_{lang}", frame[col].map(
                lambda v, i=i: "; ".join(labels[c][i] for c in v.split(";")) if isinstance(v, str) and v else v))
    return out


def write_result(name: str, result: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key, value in result.items():
        if key.endswith(".geojson"):
            path = out / f"{name}_{key}"
            path.write_text(json.dumps(value, ensure_ascii=False, default=str), encoding="utf-8")
            written.append(path)
            continue
        frame = bilingual(value)
        for suffix in ("csv", "parquet"):
            path = out / f"{name}_{key}.{suffix}"
            if suffix == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
    charts = CHARTS.get(name, lambda r, o: [])(result, out)
    written += charts
    written.append(write_html(name, result, charts, out))
    return written


def write_html(name: str, result: dict[str, Any], charts: list[Path], out: Path) -> Path:
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{html.escape(TITLES[name])}</title>",
             ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
              "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:900px;display:block;margin:1em 0}</style>"),
             f"<h1>{html.escape(TITLES[name])}</h1>"]
    for chart in charts:
        parts.append(f"<img src='{html.escape(chart.name)}' alt='{html.escape(chart.stem)}'>")
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            parts.append(f"<h2>{html.escape(key)} ({len(value)} rows / filas)</h2>")
            parts.append(value.head(50).to_html(index=False, na_rep="", float_format=lambda x: f"{x:,.4g}"))
    path = out / f"{name}.html"
    path.write_text("\n".join(parts) + "</html>", encoding="utf-8")
    return path


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _barh(frame: pd.DataFrame, label: str, value: str, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.35 * len(frame) + 1)))
    ax.barh(frame[label].astype(str)[::-1], frame[value][::-1], color="#2b6ca3")
    ax.set_xlabel(value)
    ax.set_title(title)
    return _save(fig, path)


def _cbp_charts(result: dict[str, Any], out: Path) -> list[Path]:
    trends = result["trends"]
    fen = trends[(trends["drug"] == "fentanyl") & (trends["region"] == "Southwest Border")]
    top = fen.groupby("aor")["pounds"].sum().nlargest(6).index
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for aor in top:
        series = fen[fen["aor"] == aor].groupby("period")["pounds"].sum()
        ax.plot(series.index, series.values, label=aor.title())
    ax.set_ylabel("lb")
    ax.set_title("Fentanyl seized per month, Southwest Border / Fentanilo asegurado por mes, frontera suroeste")
    ax.legend(fontsize=8)
    paths = [_save(fig, out / "cbp_fentanyl_monthly.png")]
    share = result["fentanyl_share"]
    overall = share[share["fiscal_year"].isna()].sort_values("pound_share", ascending=False)
    span = overall["years"].iloc[0] if len(overall) else ""
    paths.append(_barh(overall.assign(label=overall["aor"].str.title()), "label", "pound_share",
                       f"Share of fentanyl (lb) within field offices and within sectors, {span}",
                       out / "cbp_fentanyl_share.png"))
    return paths


def _corridor_charts(result: dict[str, Any], out: Path) -> list[Path]:
    top = result["top"]
    if top.empty:
        return []
    top = top.assign(label=top["crossing"] + " → " + top["destination"])
    return [_barh(top, "label", "loads", "Top corridors, estimated loads / Corredores principales, cargamentos estimados",
                  out / "corridors_top.png")]


def _hotspot_charts(result: dict[str, Any], out: Path) -> list[Path]:
    cells = result["cells"]
    cells = cells[cells["resolution"] == cells["resolution"].min()]
    fig, ax = plt.subplots(figsize=(8, 6))
    colors = {"hot": "#c0392b", "cold": "#2e86c1", "not_significant": "#bbbbbb"}
    for cls, color in colors.items():
        part = cells[cells["hotspot"] == cls]
        ax.scatter(part["lon"], part["lat"], s=8 + part["events"].clip(upper=200), c=color, label=cls, alpha=0.7)
    ax.set_title("Gi* hot and cold spots / Puntos calientes y fríos (Gi*)")
    ax.legend()
    return [_save(fig, out / "hotspots_gi.png")]


def _firearm_charts(result: dict[str, Any], out: Path) -> list[Path]:
    ttc = result["time_to_crime"]
    buckets = ttc[~ttc["bucket"].str.startswith("q")]
    return [_barh(buckets, "bucket", "traces", "Time to crime (days) / Tiempo al delito (días)",
                  out / "firearms_time_to_crime.png")]


def _network_charts(result: dict[str, Any], out: Path) -> list[Path]:
    players = result["players"].head(20)
    if players.empty:
        return []
    players = players.assign(name=players["label"].fillna(players["entity"]))
    return [_barh(players, "name", "betweenness", "Betweenness centrality / Centralidad de intermediación",
                  out / "networks_players.png")]


CHARTS = {"cbp": _cbp_charts, "corridors": _corridor_charts, "hotspots": _hotspot_charts,
          "firearms": _firearm_charts, "networks": _network_charts}
