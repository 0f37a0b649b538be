"""The importer's warning list: everything localcap could not bring over is named once.

Every stage (design, project creation, reports, clinical data) adds to the same list, and a
repeated message (one per record, say) must appear only once in the answer.
"""

from __future__ import annotations


class Warnings:
    """An ordered, de-duplicated warning list."""

    def __init__(self) -> None:
        self.items: dict[str, None] = {}

    def add(self, message: str) -> None:
        self.items.setdefault(message, None)

    def as_list(self) -> list[str]:
        return list(self.items)
