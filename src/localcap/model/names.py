"""Names a request gives (fields, forms, events, arms, DAGs, roles, users) checked against
the names the project knows, with REDCap's wording for the ones it does not."""

from __future__ import annotations

from collections.abc import Collection

from localcap.model.errors import DomainError


def invalid_values(param: str, values: list[str]) -> DomainError:
    """REDCap's refusal of unknown names given in ``param`` (all of them, quoted)."""
    joined = ", ".join(f"'{v}'" for v in values)
    return DomainError(f'The following values in the parameter "{param}" are not valid: {joined}')


def check_names(param: str, requested: list[str] | None, known: Collection[str]) -> None:
    """Refuse the names in ``requested`` that are not in ``known`` (none given: nothing to
    check; exports then mean all)."""
    if requested:
        bad = [name for name in requested if name not in known]
        if bad:
            raise invalid_values(param, bad)


def required_names(param: str, names: list[str] | None, known: Collection[str]) -> list[str]:
    """The names of a required array parameter (the deletes): refused when none is given or
    any is unknown."""
    if not names:
        raise DomainError(f"The parameter '{param}' is missing")
    check_names(param, names, known)
    return names
