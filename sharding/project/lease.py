"""One `rebalance` at a time: a lease in ``default``, with an owner and an expiry.

A second run, started by a second operator or a retried cron job, is refused
while the first holds the lease. A run renews it before every step it records,
and a run that finds it taken by another stops at that step. A killed run
cannot hand it back: another run takes it once it has expired, or at once
when its owner was a process of this machine that no longer exists. Expiry
is read in the database's clock, so two machines' clocks never compare.
"""

import os
import socket
from datetime import timedelta

from django.db import transaction
from django.db.models.functions import Now

from .models import RebalanceLease

LEASE_SECONDS = 60


class LeaseHeld(RuntimeError):
    """Another run holds the lease."""


class LeaseLost(RuntimeError):
    """The lease was taken over: this run must stop."""


class Lease:
    def __init__(self, owner: str | None = None, seconds: float = LEASE_SECONDS):
        self.owner = owner or this_process()
        self.seconds = seconds

    def acquire(self) -> None:
        """Take the lease, or raise LeaseHeld naming who holds it until when."""
        with transaction.atomic(using="default"):
            RebalanceLease.objects.bulk_create(
                [RebalanceLease()], ignore_conflicts=True
            )
            lease = RebalanceLease.objects.select_for_update().get()
            expired = RebalanceLease.objects.filter(expires__lt=Now()).exists()
            held = lease.owner not in ("", self.owner)
            if held and not expired and is_alive(lease.owner):
                raise LeaseHeld(
                    f"Another rebalance is running ({lease.owner}, lease until "
                    f"{lease.expires:%Y-%m-%d %H:%M:%S} UTC). Wait for it to end; "
                    "if it was killed on another machine, its lease expires then."
                )
            RebalanceLease.objects.filter(pk=lease.pk).update(
                owner=self.owner, expires=Now() + timedelta(seconds=self.seconds)
            )

    def renew(self) -> None:
        """Push the expiry on, or raise LeaseLost if another run took the lease."""
        renewed = RebalanceLease.objects.filter(owner=self.owner).update(
            expires=Now() + timedelta(seconds=self.seconds)
        )
        if renewed != 1:
            raise LeaseLost(f"Another rebalance took the lease from {self.owner}.")

    def release(self) -> None:
        RebalanceLease.objects.filter(owner=self.owner).update(owner="", expires=None)


def this_process() -> str:
    """host:pid:start time, so that a pid used again is not taken for us."""
    return f"{socket.gethostname()}:{os.getpid()}:{started(os.getpid())}"


def started(pid: int) -> str:
    """When a process started, in clock ticks since boot ('' if unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def is_alive(owner: str) -> bool:
    """Whether the lease's owner may still be running; only a process of this
    machine can be known to be gone."""
    host, pid, start = [*owner.split(":"), "", "", ""][:3]
    if host != socket.gethostname() or not pid.isdigit() or not start:
        return True
    return started(int(pid)) == start
