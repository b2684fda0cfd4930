"""phonegate's command line: parse, check, then dispatch. The server itself is server/.

uv run main.py                 serve (migrating the database first outside production)
uv run main.py migrate         apply migrations (the production step)
uv run main.py outbox          recent messages; ``outbox --retry`` re-queues abandoned ones
uv run main.py export-schema   print the GraphQL SDL (schema.graphql)
uv run main.py disable-totp --phone P --reason R   TOTP off for one who lost both factors

Every failure to start is one line on stderr and a non-zero exit: 2 for the command line
and the settings (every mistake listed), 1 for what the start-up checks find.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from core import settings as config
from core.settings import SettingsError
from server.logs import configure_logging
from server.memory import one_malloc_arena

PROG = "main.py"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the usage of every option."""
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


class SecretFlag(argparse.Action):
    """A secret given as a flag is refused, without repeating its value."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        env = self.dest.upper()
        parser.error(f"{env} is a secret: set it in the environment or in {env}_FILE, not a flag")

    @classmethod
    def refused_by(cls, parser: argparse.ArgumentParser) -> None:
        """Every secret's flag refused by this parser (the top one and each command's)."""
        for flag in sorted(f"--{name.replace('_', '-')}" for name in config.SECRETS):
            parser.add_argument(
                flag, nargs="?", action=cls, default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )


def version() -> str:
    project = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())["project"]
    return f"phonegate {project['version']}"


def build_parser() -> Parser:
    secrets = ", ".join(sorted(config.env_name(n) for n in config.SECRETS))
    parser = Parser(
        prog=PROG,
        usage="%(prog)s [--version] [--SETTING VALUE ...] [COMMAND] [command flags]",
        description="phonegate: GraphQL API for phone-number accounts. Every setting is an "
        "environment variable (shown in capitals) and a flag given before the command.",
        epilog=f"Secrets are never flags: {secrets} come only from the environment or from "
        f"a file named by <NAME>_FILE (e.g. JWT_SECRET_FILE=/run/secrets/jwt).",
    )
    parser.add_argument("--version", action="version", version=version())
    group = parser.add_argument_group("settings")
    SecretFlag.refused_by(parser)
    for name, field in config.options():
        if name in config.SECRETS:
            continue
        default = f" (default: {field.default!r})" if field.default not in ("", None) else ""
        group.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar=config.env_name(name),
            help=f"{field.description}{default}",
        )
    # prog: a command's usage and errors say "main.py outbox", not the whole usage line
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", prog=PROG)
    commands.add_parser(
        "serve",
        help="serve the API (the default)",
        description="Serve the API; outside production the database is migrated first.",
    )
    commands.add_parser(
        "migrate",
        help="apply the database migrations",
        description="Apply the database migrations (the production step before serving).",
    )
    outbox = commands.add_parser(
        "outbox",
        help="list recent messages, or re-queue abandoned ones",
        description="The outbox, newest first. Settings (DATABASE_URL, ...) come from the "
        "environment or flags before the command (main.py --help).",
    )
    outbox.add_argument("--retry", action="store_true", help="re-queue abandoned messages")
    outbox.add_argument("--limit", type=int, default=50, help="how many messages to list")
    disable_totp = commands.add_parser(
        "disable-totp",
        help="turn TOTP off for a person who lost every second factor",
        description="Turn TOTP off, end the recovery codes and every session of the account "
        "with this phone (after checking the person's identity outside phonegate; README "
        '"Lost both factors"). Logged with the reason; the phone gets a notice.',
    )
    disable_totp.add_argument("--phone", required=True, help="the account's phone")
    disable_totp.add_argument(
        "--reason", required=True, help="who checked the identity, and how (logged)"
    )
    commands.add_parser(
        "export-schema",
        help="print the GraphQL SDL",
        description="Print the GraphQL SDL (schema.graphql); reads no settings.",
    )
    for command in commands.choices.values():
        SecretFlag.refused_by(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    one_malloc_arena()
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command or "serve"
    if command == "export-schema":
        from schema.graphql import export

        sys.stdout.write(export())
        return 0
    # Workers read the same settings from the environment.
    os.environ.update(
        {
            config.env_name(name): value
            for name, _ in config.options()
            if (value := getattr(args, name, None)) is not None
        }
    )
    try:
        settings = config.load()
    except SettingsError as e:
        for problem in e.problems:
            print(f"phonegate: configuration error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    from server import startup

    try:
        if command == "migrate":
            asyncio.run(startup.migrate(settings))  # its log line says what it applied
            return 0
        if command == "disable-totp":
            from server.operator import run_disable_totp

            startup.check_templates(settings)
            asyncio.run(startup.check_database(settings))
            return asyncio.run(run_disable_totp(settings, phone=args.phone, reason=args.reason))
        if command == "outbox":
            from notifier.admin import run_outbox_command

            asyncio.run(startup.check_database(settings))
            return asyncio.run(run_outbox_command(settings, retry=args.retry, limit=args.limit))
        settings = config.with_local_secret(settings, announce=True)
        startup.check_before_serving(settings)
        if not settings.production:
            asyncio.run(startup.migrate(settings))
        else:
            asyncio.run(startup.check_database(settings))
    except startup.StartupError as e:
        print(f"phonegate: cannot start: {e}", file=sys.stderr)
        return 1
    from server.supervisor import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
