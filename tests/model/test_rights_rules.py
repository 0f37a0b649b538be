"""The rights rules of the user and role methods (model/rights.py), in-process."""

from __future__ import annotations

import pytest

from localcap.model.errors import DomainError
from localcap.model.project import Field, Form, Project
from localcap.model.rights import (
    EXPORT_FLAGS,
    FLAG_RIGHTS,
    Rights,
    check_role_rights,
    expiration_of,
    may_change_users,
    rights_audit_pairs,
    rights_columns,
    rights_from_row,
)

PROJECT = Project(
    1,
    "P",
    False,
    {},
    fields=[Field("record_id", "demo", "text"), Field("dose", "visit", "text")],
    forms=[Form("demo", "Demo"), Form("visit", "Visit")],
)


def refused(call, *args) -> str:
    with pytest.raises(DomainError) as error:
        call(*args)
    return error.value.message


def test_only_full_user_rights_may_change_users():
    assert may_change_users(Rights(flags={"user_rights": 1}))
    assert not may_change_users(Rights(flags={"user_rights": 2}))  # read-only (REDCap 14+)
    assert not may_change_users(Rights(flags={"user_rights": 0}))
    assert not may_change_users(Rights())


def test_a_row_changes_what_it_names_and_whole_lists_reset_the_rest():
    base = Rights(flags={"design": 1}, forms={"demo": 1, "visit": 1}, forms_export={"visit": 1})
    row = {"design": "0", "logging": " 1 ", "forms": "demo:2", "forms_export": {"demo": 3}}
    merged = rights_from_row(row, PROJECT, base)
    assert (merged.flags["design"], merged.flags["logging"]) == (0, 1)
    assert merged.forms == {"demo": 2, "visit": 1}
    assert merged.forms_export == {"visit": 1, "demo": 3}
    whole = rights_from_row(row, PROJECT, base, whole_lists=True)
    assert whole.forms == {"demo": 2, "visit": 0}  # left out: No Access (Import Users)
    assert whole.forms_export == {"demo": 3, "visit": 0}
    assert base.flags == {"design": 1}  # the base is not changed


def test_data_export_sets_every_instrument():
    rights = rights_from_row({"data_export": "2"}, PROJECT, None)
    assert (rights.data_export, rights.forms_export) == (2, {"demo": 2, "visit": 2})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"design": "7"}, "The value '7' of the right 'design' is not valid (use 0 or 1)"),
        ({"data_export": "4"}, "The value '4' of 'data_export' is not valid (use 0-3)"),
        ({"forms": "demo"}, "The value of 'forms' is not valid: use form_name:level"),
        ({"forms": "{nope"}, "The value of 'forms' is not valid"),
        ({"forms": "demo:x"}, "The level 'x' for 'demo' in 'forms' is not valid"),
        (
            {"forms_export": "ghost:1"},
            "The following values in the parameter \"forms_export\" are not valid: 'ghost'",
        ),
        ({"forms_export": "demo:4"}, "The export level '4' for 'demo' is not valid (0-3)"),
    ],
)
def test_invalid_rights_are_refused_in_redcaps_words(row, message):
    assert refused(rights_from_row, row, PROJECT, None) == message


def test_a_user_in_a_role_keeps_the_roles_rights():
    role = Rights(flags={"design": 1}, forms={"demo": 1, "visit": 1})
    user = {"username": "bob", "unique_role_name": "U-1", "rights": role}
    exported = rights_columns(PROJECT, role, FLAG_RIGHTS, as_objects=True)
    check_role_rights(user, {**exported, "email": "b@x.org"}, PROJECT)  # exported, imported back
    assert refused(check_role_rights, user, {"design": "0"}, PROJECT).startswith(
        "The user 'bob' is in the user role 'U-1' and has that role's rights"
    )


def test_rights_as_columns_and_as_the_log_shows_them():
    rights = Rights(flags={"design": 1}, forms={"demo": 1}, data_export=2)
    text = rights_columns(PROJECT, rights, ("design",), str, as_objects=False)
    assert text == {"design": "1", "forms": "demo:1,visit:0", "forms_export": "demo:2,visit:2"}
    objects = rights_columns(PROJECT, rights, ("design",), as_objects=True)
    assert objects["forms"] == {"demo": 1, "visit": 0}
    pairs = rights_audit_pairs(PROJECT, rights)
    assert [name for name, _ in pairs] == [*EXPORT_FLAGS, "forms", "forms_export"]
    assert pairs[-1] == ("forms_export", "demo:2,visit:2")
    assert rights_audit_pairs(PROJECT, None) == []


def test_expiration_must_be_a_date():
    assert expiration_of({"expiration": " 2030-01-31 "}, "bob", "") == "2030-01-31"
    assert expiration_of({}, "bob", "2029-05-01") == "2029-05-01"  # kept when not given
    assert expiration_of({"expiration": ""}, "bob", "2029-05-01") == ""  # blank: never
    for bad in ("2030-1-31", "31/01/2030", "2030-02-30"):
        assert refused(expiration_of, {"expiration": bad}, "bob", "") == (
            "The expiration date of the user 'bob' must be in YYYY-MM-DD format"
        )
