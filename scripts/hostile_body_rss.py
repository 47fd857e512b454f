#!/usr/bin/env python3
"""Peak memory of the client when an API answer is huge (docs/reliability.md, hostile answers).

    .venv/bin/python scripts/hostile_body_rss.py            # a 1 GiB body, default limit
    .venv/bin/python scripts/hostile_body_rss.py --gib 2

Starts ``streamer simulate`` in a subprocess (so its memory is not counted), has it answer the
next ``team/get_info`` with a body of that size (the ``huge_next`` fault, streamed a MiB at a
time without a Content-Length), sends the request through ``AiohttpTransport`` as the client
does, and prints the peak RSS of this process before and after, and what the call returned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamer.dropbox import AiohttpTransport  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_json(url: str, body: object, headers: dict[str, str] | None = None) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def token(url: str) -> str:
    form = b"grant_type=refresh_token&refresh_token=sim-refresh-token"
    request = urllib.request.Request(f"{url}/oauth2/token", data=form)
    request.add_header("Authorization", "Basic c2ltLWFwcC1rZXk6c2ltLWFwcC1zZWNyZXQ=")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["access_token"])


async def fetch(url: str, access_token: str) -> str:
    transport = AiohttpTransport()
    headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
    try:
        response = await transport.post(
            f"{url}/2/team/get_info", headers=headers, data=b"null", timeout=600
        )
        return f"HTTP {response.status}, {len(response.body):,} bytes read"
    except Exception as exc:  # noqa: BLE001 - whatever the outcome, this script reports it
        return f"{type(exc).__name__}: {exc}"
    finally:
        await transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="body size in GiB")
    size = int(parser.parse_args().gib * (1 << 30))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "streamer.cli", "simulate", "--port", str(port), "--members", "5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/admin/counters", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        access_token = token(url)
        post_json(f"{url}/admin/faults", {"huge_next": 1, "huge_bytes": size})
        before = peak_mib()
        started = time.monotonic()
        outcome = asyncio.run(fetch(url, access_token))
        seconds = time.monotonic() - started
        after = peak_mib()
    finally:
        simulator.terminate()
        simulator.wait(10)
    print(f"body: {size:,} bytes; outcome: {outcome}")
    print(f"peak RSS: {before:.0f} MiB before, {after:.0f} MiB after ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
