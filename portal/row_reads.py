"""One row by equality on its own columns, for the reads every page, socket and TMI call makes.

Neither a QuerySet nor `Manager.raw()`: building the query (lookups resolved, a WHERE tree compiled) or
mapping a raw query's columns costs several times the database's work for these rows (a session read 270 µs
through the ORM, 30 µs here), and every socket's connect makes five of them (`bench live`). The statement and
each column's converters (the field's and the backend's, as the ORM applies them: aware datetimes, decrypted
tokens) are worked out once per model, lookup and connection; values are bound, never spliced.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, router
from django.db.models import Model


class MultipleRows(Exception):
    pass


def row_get(model: type[Model], **equal: Any) -> Model | None:
    """The one row of `model` whose fields equal `equal` (names, attnames such as `user_id=`, or `pk=`), or None.

    For lookups a unique constraint answers; two rows raise MultipleRows, as get() would."""
    database = router.db_for_read(model)
    connection = connections[database]
    sql, attnames, converters = _reader(model, connection, tuple(equal))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value.pk if isinstance(value, Model) else value for value in equal.values()])
        rows = cursor.fetchmany(2)
    if len(rows) > 1:
        raise MultipleRows(f"{len(rows)} {model._meta.label} rows for {sorted(equal)}")
    if not rows:
        return None
    values = list(rows[0])
    for index, column, column_converters in converters:
        for convert in column_converters:
            values[index] = convert(values[index], column, connection)
    return model.from_db(database, attnames, values)


# Keyed by the connection object: Django keeps one per thread, and a converter may read its own connection.
@functools.lru_cache(maxsize=256)
def _reader(model: type[Model], connection, names: tuple[str, ...]):
    meta = model._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    columns = [field.get_col(meta.db_table) for field in fields]
    lookup = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
    where = " AND ".join(f"{quote(field.column)} = %s" for field in lookup)
    sql = f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)} WHERE {where}"
    converters = []
    for index, column in enumerate(columns):
        column_converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if column_converters:
            converters.append((index, column, tuple(column_converters)))
    return sql, [field.attname for field in fields], tuple(converters)
