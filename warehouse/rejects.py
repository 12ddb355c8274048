"""Rejected cells: a summary by file and reason, and acknowledging a reason a user accepts.

An acknowledged reject stays in raw.rejects and is listed by `geopanel rejects` and reported by
`geopanel check`, but no longer fails the check (warehouse/quality/rejects.py reads raw.reject_acks).
Acknowledgements are per reason code and file; unloading the file removes them with its rejects.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd

from warehouse.db import table_exists, transaction
from warehouse.errors import IngestError
from warehouse.variables import ensure_tables

ACKED = """exists (select 1 from raw.reject_acks a where a.reason_code = r.reason_code
                   and a._content_hash = r._content_hash)"""


def rejects_summary(con: duckdb.DuckDBPyConnection, file: str | None = None) -> pd.DataFrame:
    """One row per file and reason code: count, acknowledged or not, and one example."""
    if not table_exists(con, "raw.rejects"):
        return pd.DataFrame()
    acked = ACKED if table_exists(con, "raw.reject_acks") else "false"
    code = "coalesce(reason_code, 'other')" if "reason_code" in _columns(con, "raw.rejects") else "'other'"
    return con.execute(
        f"""select _source_file as file, table_name, {code} as reason_code, count(*) as cells,
                   bool_and({acked}) as acknowledged, min(reason) as example
            from raw.rejects as r
            where ? is null or _source_file like '%' || ? || '%'
            group by all order by file, cells desc""", [file, file]).df()


def acknowledge_rejects(con: duckdb.DuckDBPyConnection, reason_code: str, file: str | None = None,
                        note: str = "") -> int:
    """Acknowledge every reject with this reason code (of files whose name contains `file`); returns the count."""
    with transaction(con):
        ensure_tables(con)
        codes = [r[0] for r in con.execute("select distinct coalesce(reason_code, 'other') from raw.rejects")
                 .fetchall()]
        if reason_code not in codes:
            raise IngestError(f"no rejects with reason code {reason_code!r}; codes present: "
                              f"{', '.join(sorted(codes)) or 'none'} (see geopanel rejects)")
        hashes = con.execute(
            """select distinct _content_hash from raw.rejects r
               where coalesce(reason_code, 'other') = ? and (? is null or _source_file like '%' || ? || '%')
                 and not """ + ACKED, [reason_code, file, file]).fetchall()
        if not hashes and file:
            raise IngestError(f"no unacknowledged {reason_code} rejects in files matching {file!r}")
        at = datetime.now(UTC).replace(tzinfo=None)
        for (digest,) in hashes:
            con.execute("insert into raw.reject_acks values (?, ?, ?, ?)", [reason_code, digest, note, at])
        return con.execute(
            f"select count(*) from raw.rejects r where coalesce(reason_code, 'other') = ? and {ACKED}",
            [reason_code]).fetchone()[0]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {c[0] for c in con.execute(f"describe {table}").fetchall()}
