"""The README's examples, found by their first line, so the tests run them exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```$", re.M | re.S)


def readme_block(first_line: str) -> str:
    """The README code block whose first line starts with ``first_line``."""
    blocks = [b for b in _BLOCK.findall(README.read_text()) if b.startswith(first_line)]
    assert len(blocks) == 1, f"expected one README block starting {first_line!r}"
    return blocks[0]
