"""`streamer simulate`: placeholder until the simulator lands."""

import click


@click.command()
def simulate() -> None:
    """Serve the Dropbox API simulator."""
    raise click.UsageError("not implemented yet")
