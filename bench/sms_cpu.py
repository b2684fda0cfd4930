"""Where the CPU of one SMS goes: ``uv run bench/sms_cpu.py [--messages N] [--rounds N]``.

Sends N messages through phonegate's Twilio sender (notifier/twilio.py: the official SDK's
async client with phonegate's HTTP transport) to the bench's Twilio double, which runs in
a process of its own so that its CPU is not counted, and, alternating with it in the same
run, through the same SDK client with the SDK's stock ``AsyncTwilioHttpClient`` (its base
URL pointed at the double). Prints the CPU of this process per message for each (median
of the rounds) and their ratio, then for phonegate's sender the share of the CPU spent in
each part (cProfile over one more pass): the SDK's request building and parsing, the HTTP
client (aiohttp), the event loop, our own code. One JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.http.async_http_client import AsyncTwilioHttpClient  # noqa: E402
from twilio.rest import Client  # noqa: E402

from notifier.twilio import TwilioSender  # noqa: E402 - after the path is set

ACCOUNT = "AC" + "0" * 32
DOUBLE = """
import asyncio, sys
sys.path.insert(0, {here!r})
from twilio_double import TwilioDouble
async def main():
    double = await TwilioDouble().start()
    print(double.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

PARTS = {  # where a function's file lies -> the part it belongs to
    "twilio/http": "SDK HTTP wrapper",
    "twilio/base": "SDK request building and parsing",
    "twilio/rest": "SDK request building and parsing",
    "aiohttp": "HTTP client (aiohttp)",
    "yarl": "HTTP client (aiohttp)",
    "multidict": "HTTP client (aiohttp)",
    "json": "JSON",
    "asyncio": "event loop",
    "selectors": "event loop",
    "notifier": "phonegate sender",
}


async def send_all(sender: TwilioSender, count: int, concurrency: int) -> float:
    """CPU seconds of this process per message."""
    queue = iter(range(count))

    async def one_lane() -> None:
        for index in queue:
            await sender.send(
                f"+1415555{index % 10000:04d}",
                f"Your phonegate code is {index:06d}",
                action="verify_signup",
                status_callback="https://example.test/twilio/status",
            )

    started = time.process_time()
    await asyncio.gather(*(one_lane() for _ in range(concurrency)))
    return (time.process_time() - started) / count


def shares(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    own: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        part = next((p for key, p in PARTS.items() if key in filename), "other (C calls)")
        own[part] = own.get(part, 0.0) + tottime
    total = sum(own.values())
    return {part: round(t / total, 3) for part, t in sorted(own.items(), key=lambda x: -x[1])}


async def make_sender(port: int, *, stock: bool) -> TwilioSender:
    base_url = f"http://127.0.0.1:{port}"
    sender = TwilioSender(
        account_sid=ACCOUNT, auth_token="token", from_number="+15005550006", base_url=base_url
    )
    if stock:  # the SDK's own HTTP client, set up as the SDK documents it
        await sender.http.close()
        sender.http = AsyncTwilioHttpClient()
        sender.client = Client(ACCOUNT, "token", http_client=sender.http)
        sender.client.api.base_url = base_url
        sender.messages = sender.client.messages
    return sender


async def measure(args: argparse.Namespace, port: int) -> dict[str, object]:
    senders = {
        "stock": await make_sender(port, stock=True),
        "phonegate": await make_sender(port, stock=False),
    }
    runs: dict[str, list[float]] = {name: [] for name in senders}
    try:
        for sender in senders.values():
            await send_all(sender, 50, args.concurrency)  # warm-up: connections, imports
        for _ in range(args.rounds):
            for name, sender in senders.items():
                runs[name].append(await send_all(sender, args.messages, args.concurrency))
        profile = cProfile.Profile()
        profile.enable()
        await send_all(senders["phonegate"], args.messages, args.concurrency)
        profile.disable()
    finally:
        for sender in senders.values():
            await sender.close()
    medians = {name: statistics.median(values) * 1000 for name, values in runs.items()}
    return {
        "messages": args.messages,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "cpu_ms_per_message": {name: round(ms, 3) for name, ms in medians.items()},
        "phonegate_over_stock": round(medians["phonegate"] / medians["stock"], 3),
        "shares": shares(profile),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    double = subprocess.Popen(  # noqa: S603 - our own code
        [sys.executable, "-c", DOUBLE.format(here=str(Path(__file__).parent))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert double.stdout is not None
        port = int(double.stdout.readline())
        result = asyncio.run(measure(args, port))
    finally:
        double.terminate()
        double.wait(10)
    for name, ms in result["cpu_ms_per_message"].items():  # type: ignore[attr-defined]
        print(f"CPU per message, {name} HTTP client: {ms} ms")
    print(f"phonegate / stock: {result['phonegate_over_stock']}")
    for part, share in result["shares"].items():  # type: ignore[attr-defined]
        print(f"  {part:<36} {share:6.1%}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
