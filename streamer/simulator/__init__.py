"""Dropbox API simulator: an aiohttp server that speaks the real Dropbox wire format.

Public surface (see ``server.py`` for the in-process API, ``http_admin.py`` for admin endpoints)::

    from streamer.simulator import SimulatorServer, SimulatorConfig, Faults, Credentials

    async with SimulatorServer(SimulatorConfig(members=100)).running(port=0) as sim:
        ...

``streamer simulate`` (``command.py``) serves the same thing from the command line.
"""

from streamer.simulator.faults import Faults, TokenBucket
from streamer.simulator.oauth import Credentials
from streamer.simulator.server import DEFAULT_SCOPES, Counters, SimulatorConfig, SimulatorServer

__all__ = [
    "DEFAULT_SCOPES",
    "Counters",
    "Credentials",
    "Faults",
    "SimulatorConfig",
    "SimulatorServer",
    "TokenBucket",
]
