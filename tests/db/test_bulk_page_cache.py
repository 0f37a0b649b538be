"""A streamed import runs with a bigger SQLite page cache (db/bulk.py); the connection gets
its own back afterwards, whatever happened in the block."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from localcap.db.bulk import BULK_CACHE_KIB, bulk_page_cache
from localcap.db.engine import open_database


def cache_size(conn) -> int:
    return int(conn.execute(text("PRAGMA cache_size")).scalar_one())


def test_the_cache_is_bigger_in_the_block_only(tmp_path):
    engine = open_database(tmp_path)
    try:
        with engine.connect() as conn:
            default = cache_size(conn)
            with bulk_page_cache(conn):
                assert cache_size(conn) == -BULK_CACHE_KIB != default
            assert cache_size(conn) == default
            with pytest.raises(ZeroDivisionError), bulk_page_cache(conn):
                assert cache_size(conn) == -BULK_CACHE_KIB
                1 / 0  # noqa: B018
            assert cache_size(conn) == default
    finally:
        engine.dispose()
