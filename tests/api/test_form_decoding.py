"""Form values are decoded exactly as Starlette decodes them (``unquote_plus`` of the value
read as latin-1), also on the fast path that big bodies take: a CSV import has one escape
per comma, so the body is decoded in one C-level pass (``codecs.escape_decode``), and any
input that pass cannot decode exactly (a stray ``%``, backslashes, an escape that decodes to
``%``, non-ASCII bytes) must still come out as ``unquote_plus`` gives it."""

from __future__ import annotations

import random
from urllib.parse import quote_plus, unquote_plus

import pytest

from localcap.api.request import _unquote_plus

PIECES = ["%", "%%", "2", "5", "A", "f", "+", "a", " ", ",", "%25", "%2C", "%2c", "%41",
          "%e2%82%ac", "%e2%82", "%G1", "%zz", "%4", "é", "\n", "\\", "\\x41", "\\n",
          "%5C", "%5Cx41"]  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        "a%2Cb+c%0Ad",  # the usual CSV escapes
        "%2541",  # an escaped % before hex digits: "%41", not "A"
        "%34%%341",  # a stray % that a replacement would turn into an escape
        "100%",  # a stray % at the end
        "%e2%82%ac+%E2%82%AC",  # UTF-8 in either case
        "%ff%fe",  # bytes that are not UTF-8
        "a\\x41%5Cx41\\n",  # backslashes, as sent and escaped: never read as escapes
    ],
)
def test_the_tricky_cases_decode_as_unquote_plus_does(raw: str) -> None:
    assert _unquote_plus(raw.encode()) == unquote_plus(raw)


def test_random_mixes_of_escapes_and_stray_percents_decode_as_unquote_plus_does() -> None:
    rnd = random.Random(17)
    for _ in range(20_000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 12)))
        raw = text.encode()
        assert _unquote_plus(raw) == unquote_plus(raw.decode("latin-1")), text


def test_an_encoded_csv_body_round_trips() -> None:
    text = 'record_id,name,notes\n1,"Ann, B",50% of "x"\n2,Zoë,a+b=c & d\n'
    assert _unquote_plus(quote_plus(text).encode()) == text
