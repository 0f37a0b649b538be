"""SQLite durability and transaction mode (issue 20 item 14; issue 14's design).

An acknowledged write must survive power loss: SQLite runs ``synchronous=FULL`` unless the
operator explicitly chooses NORMAL. And a write transaction holds the write lock from its
first statement, before it reads anything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from localcap.cli import main
from localcap.db.engine import open_database
from localcap.db.transactions import read_snapshot, write_transaction

FULL, NORMAL = 2, 1  # PRAGMA synchronous answers


def synchronous(data_dir: Path) -> int:
    engine = open_database(data_dir)
    try:
        with read_snapshot(engine) as conn:
            return int(conn.execute(text("PRAGMA synchronous")).scalar_one())
    finally:
        engine.dispose()


def test_sqlite_is_fully_synchronous_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCALCAP_SQLITE_SYNCHRONOUS", raising=False)
    assert synchronous(tmp_path) == FULL


def test_normal_is_an_explicit_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALCAP_SQLITE_SYNCHRONOUS", "normal")
    assert synchronous(tmp_path) == NORMAL
    monkeypatch.setenv("LOCALCAP_SQLITE_SYNCHRONOUS", "off")
    with pytest.raises(ValueError, match="must be one of full, normal"):
        open_database(tmp_path)


def test_serve_refuses_an_unknown_setting(tmp_path):
    result = CliRunner().invoke(
        main, ["serve", "--data-dir", str(tmp_path), "--sqlite-synchronous", "off"]
    )
    assert result.exit_code == 2
    assert "'off' is not one of 'full', 'normal'" in result.output


def test_a_write_transaction_holds_the_lock_before_it_reads(tmp_path):
    engine = open_database(tmp_path)
    try:
        with write_transaction(engine, 1) as conn:
            conn.execute(text("SELECT 1"))  # a read only: the lock is already held
            other = sqlite3.connect(tmp_path / "localcap.sqlite3", timeout=0.1)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        with read_snapshot(engine) as conn:  # a reader takes no write lock
            conn.execute(text("SELECT 1"))
            other = sqlite3.connect(tmp_path / "localcap.sqlite3", timeout=0.1)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
    finally:
        engine.dispose()
