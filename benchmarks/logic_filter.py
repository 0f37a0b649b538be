"""Benchmark: filter 1M rows with a 5-clause REDCap expression vs. a hand-written lambda.

Why: report export calls ``CompiledLogic.matches`` once per row, so the compiled closures must
stay within a small factor of the best a Python programmer could write by hand. Both sides read
the same dict rows; the logic side re-points one :class:`RowContext` per row, as an export loop
would. Run: ``.venv/bin/python benchmarks/logic_filter.py [rows]``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

from localcap.logic import DictContext, FieldSpec, RowContext, compile_logic

EXPR = "[age] >= 18 and [sex] = '1' and [weight] < 100 and [country] <> 'US' and [email] <> ''"

FIELDS = {
    "record_id": FieldSpec("record_id", "text"),
    "age": FieldSpec("age", "text", "integer"),
    "sex": FieldSpec("sex", "radio", "", {"0": "Female", "1": "Male"}),
    "weight": FieldSpec("weight", "text", "number"),
    "country": FieldSpec("country", "text"),
    "email": FieldSpec("email", "text", "email"),
}


def make_rows(n: int, seed: int = 4) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    countries = ["US", "CA", "MX", "FR", "DE"]
    rows = []
    for i in range(n):
        rows.append(
            {
                "record_id": str(i),
                "age": "" if rnd.random() < 0.05 else str(rnd.randint(10, 90)),
                "sex": rnd.choice(["0", "1", "1", ""]),
                "weight": "" if rnd.random() < 0.05 else f"{rnd.uniform(40, 140):.1f}",
                "country": rnd.choice(countries),
                "email": "" if rnd.random() < 0.1 else f"p{i}@example.org",
            }
        )
    return rows


def baseline(r: dict[str, str]) -> bool:
    """The same filter as hand-written Python (blank-aware, numeric where REDCap is)."""
    age = r["age"]
    weight = r["weight"]
    return (
        age != ""
        and float(age) >= 18
        and r["sex"] == "1"
        and weight != ""
        and float(weight) < 100
        and r["country"] != "US"
        and r["email"] != ""
    )


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def main(n_rows: int = 1_000_000) -> dict[str, float]:
    rows = make_rows(n_rows)
    logic = compile_logic(EXPR, FIELDS)

    def run_baseline() -> int:
        f = baseline
        return sum(1 for r in rows if f(r))

    def run_logic() -> int:
        ctx = RowContext(record="1")
        m = logic.matches
        kept = 0
        for r in rows:
            ctx.row = r
            if m(ctx):
                kept += 1
        return kept

    def run_logic_dict_context() -> int:
        ctx = DictContext(record="1")
        m = logic.matches
        kept = 0
        for r in rows:
            ctx.rows = {(None, 1): r}
            if m(ctx):
                kept += 1
        return kept

    results: dict[str, float] = {}
    best: dict[str, tuple[float, int]] = {}
    for name, fn in (
        ("lambda baseline", run_baseline),
        ("logic (RowContext)", run_logic),
        ("logic (DictContext)", run_logic_dict_context),
    ):
        runs = [timed(fn) for _ in range(3)]
        best[name] = min(runs)
    counts = {v[1] for v in best.values()}
    assert len(counts) == 1, f"filters disagree: {best}"
    print(f"expression: {EXPR}")
    print(f"rows: {n_rows:,}  kept: {counts.pop():,}  (best of 3 runs)")
    base = best["lambda baseline"][0]
    for name, (secs, _) in best.items():
        rate = n_rows / secs
        results[name] = rate
        print(f"{name:22s} {secs:7.3f} s  {rate:13,.0f} rows/s  {secs / base:5.2f}x baseline")
    ratio = best["logic (RowContext)"][0] / base
    results["ratio"] = ratio
    print(f"ratio logic/baseline: {ratio:.2f}x (target <= 5x)")
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
