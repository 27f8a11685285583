"""Pooled connections are pinged only after sitting idle, and replaced when the ping fails.
(On PostgreSQL with real dead connections: tests/e2e/test_postgres_deployment.py.)"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text

from ops import pooled_connections


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """A pooled SQLite engine with the idle check, whose pings are recorded."""
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}")
    pooled_connections.check_after_idle(engine)
    engine.pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", engine.pings.append)
    yield engine
    engine.dispose()


def raw_connection(engine):
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        return connection.connection.dbapi_connection


def test_a_connection_back_from_a_request_moments_ago_is_used_without_a_ping(engine):
    first = raw_connection(engine)
    again = raw_connection(engine)

    assert again is first
    assert engine.pings == []


def test_a_connection_that_sat_idle_is_pinged_before_use(engine, monkeypatch):
    first = raw_connection(engine)
    monkeypatch.setattr(pooled_connections, "TRUSTED_FOR_SECONDS", 0.0)

    assert raw_connection(engine) is first
    assert engine.pings == [first]


def test_a_connection_whose_ping_fails_is_replaced_before_use(engine, monkeypatch):
    first = raw_connection(engine)
    monkeypatch.setattr(pooled_connections, "TRUSTED_FOR_SECONDS", 0.0)

    def dead(dbapi_connection):
        if dbapi_connection is first:
            raise sqlite3.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(engine.dialect, "do_ping", dead)

    assert raw_connection(engine) is not first
