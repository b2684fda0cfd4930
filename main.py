"""phonegate's command line: parse, then dispatch. The server itself is server/.

uv run main.py                 serve (migrating the database first outside production)
uv run main.py migrate         apply migrations (the production step)
uv run main.py outbox          recent messages; ``outbox --retry`` re-queues abandoned ones
uv run main.py export-schema   print the GraphQL SDL (schema.graphql)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from core import settings as config
from core.settings import SettingsError
from server.logs import configure_logging
from server.memory import one_malloc_arena


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    parser = argparse.ArgumentParser(
        prog="main.py",
        allow_abbrev=False,  # --jwt-private-key must not pass for --jwt-private-key-file
        description="phonegate: GraphQL API for phone-number accounts. Every option can also "
        "be set by the environment variable shown.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "outbox", "export-schema"],
        help="what to do (default: serve)",
    )
    parser.add_argument("--retry", action="store_true", help="outbox: re-queue abandoned messages")
    parser.add_argument("--limit", type=int, default=50, help="outbox: how many messages to list")
    for name, opt in config.flag_options():
        default = f" (default: {opt.default!r})" if opt.default not in ("", None) else ""
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar=opt.env,
            help=f"{opt.help} [env {opt.env}]{default}",
        )
    args = parser.parse_args(argv)
    overrides = {
        opt.env: getattr(args, name)
        for name, opt in config.flag_options()
        if getattr(args, name) is not None
    }
    return args, overrides


def main(argv: Sequence[str] | None = None) -> int:
    one_malloc_arena()
    args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.update(overrides)  # workers read the same settings from the environment
    try:
        settings = config.load()
    except (SettingsError, ValueError) as e:
        print(f"phonegate: configuration error: {e}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if args.command == "export-schema":
        from schema.graphql import export

        sys.stdout.write(export())
        return 0
    from server.app import migrate

    if args.command == "migrate":
        asyncio.run(migrate(settings))
        print("migrations applied")
        return 0
    if args.command == "outbox":
        from notifier.admin import run_outbox_command

        return asyncio.run(run_outbox_command(settings, retry=args.retry, limit=args.limit))
    if not settings.production:
        asyncio.run(migrate(settings))
    from server.supervisor import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
