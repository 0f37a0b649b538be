"""Process-wide settings for long-running work (the server, big imports from the command line)."""

from __future__ import annotations

import gc

#: Container allocations between two young-generation collections (Python's default: 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Let the cyclic garbage collector look at young objects less often, and never again at
    the objects of start-up.

    Why: a bulk import or export allocates millions of short-lived containers (a row's dict,
    its values' tuples) and creates no reference cycles; with Python's default threshold the
    collector examined each batch of rows many times while it was alive, some 13-15 % of an
    import's CPU (measured in-process on 5,000 records x 228 columns). Freed by reference
    counting, those objects now mostly die before a collection sees them. Cycles are still
    collected, a little later."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
