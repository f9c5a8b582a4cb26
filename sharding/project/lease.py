"""One `rebalance` at a time: a lease in ``default``, with an owner and an expiry.

A second run, started by a second operator, a retried cron job or another
thread, is refused while the first holds the lease. A run renews it before
every step it records, and a run that finds it taken by another stops at
that step. A killed run cannot hand it back: another run takes it once it
has expired, or at once when its owner was a process of this machine that
no longer exists. Expiry is read in the database's clock, so two machines'
clocks never compare.

Each run that takes the lease gets the next ``epoch``, and marks what it
freezes or copies on the shards with it (``LogicalShard.epoch``): a run that
lost the lease while paused, and goes on when it wakes, cannot change what a
later run holds (a fencing token).
"""

import os
import socket
import uuid
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
    def __init__(self, process: str | None = None, seconds: float = LEASE_SECONDS):
        # This run, not only this process: two runs in one process are two.
        self.owner = f"{process or this_process()}:{uuid.uuid4().hex[:8]}"
        self.seconds = seconds
        self.epoch = 0

    def acquire(self) -> None:
        """Take the lease, or raise LeaseHeld naming who holds it until when."""
        with transaction.atomic(using="default"):
            RebalanceLease.objects.bulk_create(
                [RebalanceLease()], ignore_conflicts=True
            )
            lease = RebalanceLease.objects.select_for_update().get()
            expired = RebalanceLease.objects.filter(expires__lt=Now()).exists()
            if lease.owner and not expired and is_alive(lease.owner):
                raise LeaseHeld(
                    f"Another rebalance is running ({lease.owner}, lease until "
                    f"{lease.expires:%Y-%m-%d %H:%M:%S} UTC). Wait for it to end; "
                    "if it was killed on another machine, its lease expires then."
                )
            self.epoch = lease.epoch + 1
            RebalanceLease.objects.filter(pk=lease.pk).update(
                owner=self.owner,
                epoch=self.epoch,
                expires=Now() + timedelta(seconds=self.seconds),
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
    """host:boot:pid namespace:pid:start time. A pid is only known in its own
    namespace and boot, and may be used again: the start time tells."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{boot()}:{namespace()}:{pid}:{started(pid)}"


def boot() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot_id:
            return boot_id.read().strip()[:8]
    except OSError:
        return ""


def namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return ""


def started(pid: int) -> str:
    """When a process started, in clock ticks since boot ('' if unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def is_alive(owner: str) -> bool:
    """Whether the lease's owner may still be running: only a process of this
    machine, boot and pid namespace can be known to be gone."""
    host, boot_id, pid_namespace, pid, start, *_ = [*owner.split(":"), *[""] * 5]
    here = [socket.gethostname(), boot(), namespace()]
    if [host, boot_id, pid_namespace] != here or not pid.isdigit() or not start:
        return True
    return started(int(pid)) == start
