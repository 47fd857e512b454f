"""Podman for the image tests, set up for a machine like CI's: root, no systemd, no Docker
engine, no container registry.

Everything the tests build or run lives in a private store under a temporary directory
(``--root``/``--runroot``), removed afterwards, so nothing is cached between runs and the
host's own podman store is never touched. What this machine needs, found by trying:

- ``--cgroup-manager cgroupfs`` and ``--events-backend file``: there is no systemd to ask;
- ``--runtime runc`` with explicit ``--ulimit`` values: the default limits ask for more open
  files than the host's hard limit, and runc then refuses to create the container;
- ``--isolation chroot`` for builds (no nested OCI runtime inside a build step);
- ``--network host``: the broker and the simulator listen on the host's loopback;
- ``--health-interval disable``: podman would schedule health checks with systemd timers;
  ``podman healthcheck run`` still runs the image's check on demand;
- the overlay storage driver where the kernel allows it, vfs (slower, copies) where not.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# enough for the streamer (a few sockets per team and broker), capped at the host's hard limits
_NOFILE = 4096
_NPROC = 4096


def _ulimit(kind: int, wanted: int) -> int:
    _, hard = resource.getrlimit(kind)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


@dataclass(frozen=True)
class Podman:
    store: Path
    driver: str

    @property
    def command(self) -> list[str]:
        """``podman`` with the global options every call needs here."""
        return [
            "podman",
            "--root",
            str(self.store / "root"),
            "--runroot",
            str(self.store / "run"),
            "--storage-driver",
            self.driver,
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            "runc",
        ]

    @property
    def run_options(self) -> list[str]:
        nofile = _ulimit(resource.RLIMIT_NOFILE, _NOFILE)
        nproc = _ulimit(resource.RLIMIT_NPROC, _NPROC)
        return [
            "--network",
            "host",
            "--pull",
            "never",
            "--ulimit",
            f"nofile={nofile}:{nofile}",
            "--ulimit",
            f"nproc={nproc}:{nproc}",
            "--health-interval",
            "disable",
        ]

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.command, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def run(
        self, image: str, *args: str, options: Sequence[str] = (), timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``podman run --rm`` of ``image`` with ``args``; the caller checks the exit code."""
        return self("run", "--rm", *self.run_options, *options, image, *args, timeout=timeout,
                    check=False)  # fmt: skip


def unavailable() -> str | None:
    """Why the image tests cannot run here, or None when they can."""
    if shutil.which("podman") is None:
        return (
            "podman is not installed (.ci/run installs it: apt-get install podman runc mmdebstrap)"
        )
    if shutil.which("runc") is None:
        return "runc is not installed (apt-get install runc)"
    return None


def _works(store: Path, driver: str) -> bool:
    probe = Podman(store, driver)
    result = subprocess.run(
        [*probe.command, "info"], capture_output=True, text=True, timeout=120, check=False
    )
    return result.returncode == 0


@contextmanager
def private_podman() -> Iterator[Podman]:
    """Podman with a store of its own in a new temporary directory, deleted afterwards."""
    # short path: conmon's attach socket lives under it and UNIX socket paths are limited
    store = Path(tempfile.mkdtemp(prefix="streamer-podman-"))
    driver = "overlay"
    if not _works(store, driver):
        # a store remembers its driver: start the vfs one afresh
        shutil.rmtree(store)
        store.mkdir()
        driver = "vfs"
    podman = Podman(store, driver)
    try:
        yield podman
    finally:
        # removes the containers, images and layers (unmounting overlay layers first)
        podman("system", "reset", "--force", timeout=300, check=False)
        shutil.rmtree(store, ignore_errors=True)
