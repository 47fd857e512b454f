"""Command-line entry point: ``streamer run | check | auth | simulate``.

Every failure an operator can cause (configuration, credentials, flags, Kafka) surfaces as one
line on stderr and a documented exit code (see ``streamer.errors.EXIT_CODES``), never a traceback.
"""

from __future__ import annotations

import sys

import click

from streamer import __version__
from streamer.errors import StreamerError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="streamer")
def cli() -> None:
    """Stream Dropbox Business security telemetry into Apache Kafka."""


def _register_commands() -> None:
    # Imported here so that `streamer --help` stays fast and each command lives in its own module.
    from streamer.auth_command import auth
    from streamer.run_command import check, run, tail
    from streamer.simulator.command import simulate

    cli.add_command(run)
    cli.add_command(check)
    cli.add_command(tail)
    cli.add_command(auth)
    cli.add_command(simulate)


def main(argv: list[str] | None = None) -> None:
    _register_commands()
    try:
        cli.main(args=argv, prog_name="streamer", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # one line like every other error (not click's usage block): what is wrong, where to look
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except StreamerError as exc:
        from streamer.logs import scrub  # the log lines' redaction, for this line too

        click.echo(f"error: {scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":
    main()
