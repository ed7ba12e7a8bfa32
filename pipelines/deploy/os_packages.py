"""Debian packages the local stack and the browser tests need, installed when missing.

The same machine kinds run CI and development (root, Debian, apt reachable), so the stack
installs what it lacks instead of asking for a manual step. Where that is impossible (not
root, no apt), the error says which package and why.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)


class MissingPackageError(RuntimeError):
    """An OS package is missing and could not be installed."""


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<ver>/bin`` holding ``initdb``, else ``pg_config``'s."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _present(package: str) -> bool:
    if package == "postgresql":
        return postgres_bindir() is not None
    binary = {"redis-server": "redis-server", "chromium": "chromium",
              "chromium-driver": "chromedriver"}.get(package, package)
    return shutil.which(binary) is not None


def ensure_debian_packages(packages: list[str], why: str) -> None:
    """Install the Debian ``packages`` that are missing, with apt-get.

    Args:
        packages: Debian package names (postgresql, redis-server, chromium, chromium-driver).
        why: What needs them, for the error message.

    Raises:
        MissingPackageError: A package is missing and this process cannot install it
            (not root, no apt-get) or apt-get failed; the message carries apt's output.
    """
    missing = [p for p in packages if not _present(p)]
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise MissingPackageError(
            f"ensure_debian_packages: {why} needs the Debian packages {missing}; they are "
            f"missing and cannot be installed here ({'not root' if apt else 'no apt-get'}). "
            f"Install them: apt-get install -y {' '.join(missing)}")
    logger.info("installing Debian packages %s for %s", missing, why)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = ([apt, "update", "-q"],
             [apt, "install", "-y", "-q", "--no-install-recommends", *missing])
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise MissingPackageError(
                f"ensure_debian_packages: {why} needs {missing}; `{' '.join(step)}` exited "
                f"with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    still = [p for p in missing if not _present(p)]
    if still:
        raise MissingPackageError(
            f"ensure_debian_packages: apt-get installed {missing} for {why}, but {still} "
            "still provide no binary on PATH")
