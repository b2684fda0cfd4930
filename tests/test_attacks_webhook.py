"""The attacker's suite, webhook (issue 11, item 4): POST /twilio/status refuses a body over
64 KiB with 413 before parsing it. A 1 MB form of 150,000 junk fields cost 0.86 s of
event-loop CPU before its 403; now it costs no parsing at all."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from server import callbacks

CAP = 64 * 1024


def junk_form(size: int) -> bytes:
    """``size`` bytes of form fields no Twilio callback has: a=1&b=1&..."""
    fields = b"&".join(b"f%d=1" % i for i in range(size // 4 + 1))
    return fields[:size]


@pytest.fixture
def parses(monkeypatch):
    """How many forms the callback route parsed."""
    calls = []

    def counting(*args, **kw):
        calls.append(len(args[0]))
        return parse_qsl(*args, **kw)

    monkeypatch.setattr(callbacks, "parse_qsl", counting)
    return calls


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_a_one_megabyte_junk_form_is_refused_with_413_unparsed(api, parses):
    # given
    body = junk_form(1_000_000)
    # when
    answer = await api.http.post("/twilio/status", content=body, headers=FORM)
    # then
    assert answer.status_code == 413
    assert parses == []


async def test_a_large_body_without_content_length_is_cut_off_unparsed(api, parses):
    # given: a chunked body, so no Content-Length tells its size in advance
    async def chunks():
        for _ in range(16):
            yield junk_form(CAP // 4)
        yield b"&x=1"

    # when
    answer = await api.http.post("/twilio/status", content=chunks(), headers=FORM)
    # then
    assert answer.status_code == 413
    assert parses == []


async def test_a_lying_content_length_is_refused(api, parses):
    answer = await api.http.post(
        "/twilio/status", content=b"a=1", headers={**FORM, "Content-Length": "x3"}
    )
    assert answer.status_code in {400, 413}
    assert parses == []


async def test_up_to_64_kib_is_parsed_and_one_byte_more_is_not(api, parses):
    # when
    at_cap = await api.http.post("/twilio/status", content=junk_form(CAP), headers=FORM)
    over = await api.http.post("/twilio/status", content=junk_form(CAP + 1), headers=FORM)
    # then: the unsigned form at the cap is read and refused by its signature (403)
    assert at_cap.status_code == 403 and parses == [CAP]
    assert over.status_code == 413 and parses == [CAP]
