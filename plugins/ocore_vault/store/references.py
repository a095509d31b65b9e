"""Which rows of other tables refer to a credential, found through PostgreSQL's catalog.

The vault knows no plugin that uses it (the SSH plugin requires the vault, never the reverse):
the foreign keys pointing at the credentials table (``pg_constraint``) say which tables and
columns refer to it, and each such row is named by its table's ``name`` column when it has one.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ocore_vault.schema import TABLE_NAME

__all__ = ["MAX_NAMES", "referring_rows"]

MAX_NAMES = 20  # shown per table; the rest are counted

# Single-column foreign keys on the credentials table: the referring table and column, the
# referenced column, and whether the referring table has a ``name`` column to show.
_FOREIGN_KEYS = text(
    """
    SELECT c.conrelid::regclass::text AS referring_table,
           quote_ident(fa.attname) AS referring_column,
           quote_ident(ra.attname) AS referenced_column,
           EXISTS (SELECT 1 FROM pg_attribute n
                   WHERE n.attrelid = c.conrelid AND n.attname = 'name'
                     AND NOT n.attisdropped) AS has_name
    FROM pg_constraint c
    JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = c.conkey[1]
    JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.confrelid = to_regclass(:table)
      AND cardinality(c.conkey) = 1
    ORDER BY 1
    """
)


def referring_rows(engine: Engine, name: str) -> dict[str, list[str]]:
    """``{table: [row names]}`` of the rows referring to credential ``name``: at most
    ``MAX_NAMES`` names then ``"and N more"``, or ``["N row(s)"]`` for a table without a
    ``name`` column; empty when nothing is found or the catalog cannot be read."""
    found: dict[str, list[str]] = {}
    try:
        with engine.connect() as conn:
            for fk in conn.execute(_FOREIGN_KEYS, {"table": TABLE_NAME}).all():
                label = "name::text" if fk.has_name else "NULL"
                # Identifiers come from the catalog, quoted by PostgreSQL itself.
                query = text(
                    f"SELECT {label}, count(*) OVER () FROM {fk.referring_table} "
                    f"WHERE {fk.referring_column} IN (SELECT {fk.referenced_column} "
                    f"FROM {TABLE_NAME} WHERE name = :name) ORDER BY 1 LIMIT {MAX_NAMES}"
                )
                rows = conn.execute(query, {"name": name}).all()
                if not rows:
                    continue
                total = rows[0][1]
                if not fk.has_name:
                    found[fk.referring_table] = [f"{total} row(s)"]
                    continue
                names = [row[0] for row in rows]
                if total > len(names):
                    names.append(f"and {total - len(names)} more")
                found[fk.referring_table] = names
    except SQLAlchemyError:  # naming the users is a courtesy; the refusal stands without it
        return found
    return found
