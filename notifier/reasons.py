"""What went wrong with a message, in plain words, from Twilio's error code (issue 16).

Codes from Twilio's error reference: 30003-30008 are carrier delivery failures reported by
status callbacks; 21211, 21217, 13224 a number Twilio cannot reach (messages, calls); 21610
a recipient who replied STOP; 21614 a number that takes no SMS; 63003 a number WhatsApp does
not know. A call that was busy or not answered fails without a code. Everything else gets
the general text. The texts are English; resolvers/messages.py has them in other languages.
"""

from __future__ import annotations

OFF = "The phone is switched off or out of reach."
NO_NUMBER = "That number does not exist or is no longer in service."
NO_TEXTS = "That number cannot receive texts."
CARRIER = "The phone company did not deliver it."
UNREACHABLE = "That number cannot be reached."
STOPPED = "That number has blocked our messages."
NOT_ON_WHATSAPP = "That number is not on WhatsApp."
NOT_ANSWERED = "Nobody answered the call."
FAILED = "It could not be sent."

BY_CODE: dict[int, str] = {
    30003: OFF,
    30005: NO_NUMBER,
    30006: NO_TEXTS,
    21614: NO_TEXTS,
    30004: STOPPED,
    21610: STOPPED,
    30007: CARRIER,
    30008: CARRIER,
    21211: UNREACHABLE,
    21217: UNREACHABLE,
    21612: UNREACHABLE,
    13224: UNREACHABLE,
    63003: NOT_ON_WHATSAPP,
}
TEXTS = (
    OFF,
    NO_NUMBER,
    NO_TEXTS,
    CARRIER,
    UNREACHABLE,
    STOPPED,
    NOT_ON_WHATSAPP,
    NOT_ANSWERED,
    FAILED,
)


def reason(error_code: int | None, channel: str) -> str:
    """The plain-words reason of a failed message."""
    if error_code is None:
        return NOT_ANSWERED if channel == "voice" else FAILED
    return BY_CODE.get(error_code, FAILED)
