"""Row locks that other threads and processes respect: the token refresh, unlinking and account
deletion each take one before they read a row again and change it.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm.interfaces import LoaderOption

from extensions import db

Model = TypeVar("Model", bound=db.Model)


def lock(model: type[Model], row_id: int, *options: LoaderOption) -> Model | None:
    """The row, read again after taking a lock held until the transaction ends; None when another
    request deleted it meanwhile (an unlink or a deletion that won the race). `options` reload
    relationships too (a separate SELECT: FOR UPDATE does not mix with outer joins).

    PostgreSQL (and other servers) lock just the row with SELECT ... FOR UPDATE. SQLite has no
    row locks; its equivalent is the database's write lock, taken up front with BEGIN IMMEDIATE,
    so a second process waits here instead of going ahead in parallel.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    return db.session.execute(
        select(model)
        .options(*options)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def release() -> None:
    """End the transaction and its locks when nothing was changed under them.

    A commit, not a rollback: a rollback expires every object the request loaded, the signed-in
    user among them, and reading one that a competing request deleted would then fail.
    """
    db.session.commit()
