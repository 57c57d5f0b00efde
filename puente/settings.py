"""Settings: each with a name, a default and help (the Datasette lesson).

Values come from, in order: an explicit argument, the environment (``PUENTE_<NAME>``),
the node's ``node.toml``, then the default. Secrets (keys, passwords) are never
settings: they live in files under the node's ``keys/`` directory or in environment
variables, never in the repository.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help_en: str
    help_es: str

    @property
    def env(self) -> str:
        return "PUENTE_" + self.name.upper()

    def value(self, configured: str | None = None) -> str:
        return os.environ.get(self.env) or configured or self.default


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("home", "puente-node", "Node directory (config, keys, default store).",
                "Directorio del nodo (configuración, llaves, almacén por omisión)."),
        Setting("lang", "", "Language of messages: en or es (default: from the locale).",
                "Idioma de los mensajes: en o es (por omisión: el de la configuración regional)."),
        Setting("store", "", "Store URL: duckdb:///path/file.duckdb or postgresql://user@host/db.",
                "URL del almacén: duckdb:///ruta/archivo.duckdb o postgresql://usuario@host/bd."),
        Setting("batch_rows", "50000", "Rows buffered per write during ingest.",
                "Filas acumuladas por escritura durante la ingesta."),
        Setting("max_row_bytes", "1048576", "Rows longer than this are quarantined whole.",
                "Las filas más largas que esto se ponen en cuarentena completas."),
        Setting("columnar_min_bytes", "2000000",
                "CSV files at least this large take the columnar ingest path (same results; smaller files "
                "take the row path, whose fixed cost is lower).",
                "Los CSV de al menos este tamaño toman la ruta columnar de ingesta (mismos resultados; los "
                "más pequeños toman la ruta por filas, de costo fijo menor)."),
        Setting("host", "127.0.0.1", "Address `puente serve` listens on.", "Dirección de escucha de `puente serve`."),
        Setting("port", "8765", "Port `puente serve` listens on.", "Puerto de escucha de `puente serve`."),
        Setting("session_minutes", "480", "Minutes a dashboard/API login session lasts.",
                "Minutos que dura una sesión iniciada en el tablero o la API."),
        Setting("login_attempts", "5", "Failed logins in a row that lock an account.",
                "Inicios de sesión fallidos seguidos que bloquean una cuenta."),
        Setting("lockout_minutes", "15", "Minutes a locked account stays locked.",
                "Minutos que una cuenta bloqueada permanece bloqueada."),
        Setting("rate_limit", "600", "API requests per minute per client (token or address); 0 turns it off.",
                "Solicitudes por minuto a la API por cliente (token o dirección); 0 lo desactiva."),
        Setting("pool_size", "10", "Store connections the API holds at most per worker process (PostgreSQL: pooled "
                "connections, so workers x pool_size must stay under max_connections; DuckDB: cursors of the one "
                "database).", "Conexiones al almacén que la API mantiene como máximo por proceso (PostgreSQL: "
                "conexiones del pool, así que procesos x pool_size debe quedar bajo max_connections; DuckDB: "
                "cursores de la única base)."),
        Setting("pool_timeout", "30", "Seconds a request waits for a free store connection before a 503.",
                "Segundos que una solicitud espera una conexión libre al almacén antes de un 503."),
        Setting("count_exact_limit", "100000", "Record lists count matches exactly up to this many; past it the "
                "total is this lower bound and the answer says total_exact=false.",
                "Las listas cuentan las coincidencias con exactitud hasta este número; más allá el total es esta "
                "cota inferior y la respuesta dice total_exact=false."),
        Setting("api_cache_mb", "64", "Memory for the API's response cache per worker (MiB); 0 turns it off.",
                "Memoria de la caché de respuestas de la API por proceso (MiB); 0 la desactiva."),
        Setting("api_epoch", "true", "Cached API answers trust the change epoch file beside the store (no store query "
                "per request). Set false when any process on another host writes to a shared PostgreSQL store (a second "
                "API host, an admin CLI): that host cannot announce its changes in this host's file.",
                "Las respuestas en caché de la API confían en el archivo de época junto al almacén (sin consulta por "
                "solicitud). Póngalo en false si algún proceso en otro host escribe en un almacén PostgreSQL compartido "
                "(otro host de la API, una CLI de administración): ese host no puede anunciar sus cambios en este archivo."),
        Setting("csv_raw", "false", "CSV exports keep cells as stored: no quote before =, +, -, @ (formula cells).",
                "Las exportaciones CSV dejan las celdas tal cual: sin comilla ante =, +, -, @ (fórmulas)."),
        Setting("bundle_max_bytes", "536870912", "Largest bundle accepted (file or HTTP push, bytes); pushes stream "
                "to disk and stop at this size.", "Paquete más grande aceptado (archivo o envío HTTP, bytes); los envíos "
                "se escriben a disco y se detienen en este tamaño."),
        Setting("bundle_max_decoded_bytes", "1073741824", "Largest decompressed size of a bundle's records (bytes), "
                "checked while streaming before they are loaded.", "Tamaño descomprimido máximo de los registros de "
                "un paquete (bytes), comprobado en flujo antes de cargarlos."),
        Setting("bundle_max_rows", "5000000", "Most records one bundle may carry.",
                "Máximo de registros que puede llevar un paquete."),
    ]
}


def setting(name: str, configured: str | None = None) -> str:
    return SETTINGS[name].value(configured)


_DECIMAL = {"pool_timeout", "api_cache_mb"}  # the numeric settings read as decimals; the others are whole numbers


def malformed() -> list[tuple[str, str]]:
    """The numeric settings set in the environment to something that is not a number (``PUENTE_PORT=abc``):
    ``(variable, value)`` pairs. The command checks them before it runs, so a typo is one clear line, not a
    traceback from deep inside (or a 500 from the API at its first request)."""
    bad = []
    for s in SETTINGS.values():
        raw = os.environ.get(s.env)
        if raw and _is_number(s.default) and (not _is_number(raw) or (s.name not in _DECIMAL
                                                                        and not raw.strip().isdigit())):
            bad.append((s.env, raw))
    return bad


def _is_number(text: str) -> bool:
    try:
        value = float(text.strip())
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0


def enabled(name: str) -> bool:
    """A true/false setting: 1, true, yes or on."""
    return setting(name).strip().lower() in ("1", "true", "yes", "on")
