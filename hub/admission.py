"""Admission and leasing decisions for the supervisor: who runs now, who waits, which warm
actor a run gets. Plain objects, so the policies are unit-tested without Ray."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

H = TypeVar("H")


class AdmissionQueue:
    """At most ``limit`` executions run at once; the rest wait in FIFO order."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_concurrent_executions must be at least 1")
        self.limit = limit
        self.running: set[str] = set()
        self.waiting: OrderedDict[str, None] = OrderedDict()
        # A parent waiting for its children lends its slot to one of them at a time.
        self.borrower: dict[str, str] = {}  # lender (parent) -> the child on its slot
        self.lender: dict[str, str] = {}  # child -> its lender, while the child is known

    def submit(self, execution_id: str) -> bool:
        """True when the execution may start now; otherwise it is queued."""
        if len(self.running) < self.limit and not self.waiting:
            self.running.add(execution_id)
            return True
        self.waiting[execution_id] = None
        return False

    def lend(self, execution_id: str, lender: str) -> bool:
        """A child whose parent (``lender``) waits for it: it runs now on the parent's slot,
        even beyond the limit, unless another child of that parent has the slot; then it
        queues, and gets the slot when that child ends (or a free slot first). A runtime full of
        waiting parents so always runs their children, one per parent at least."""
        self.lender[execution_id] = lender
        if lender in self.borrower or (len(self.running) < self.limit and not self.waiting):
            return self.submit(execution_id)
        self.borrower[lender] = execution_id
        self.running.add(execution_id)
        return True

    def finished(self, execution_id: str) -> list[str]:
        """Mark an execution done; returns the queued executions that may start now."""
        self.running.discard(execution_id)
        self.waiting.pop(execution_id, None)
        started = []
        lender = self.lender.pop(execution_id, None)
        if lender is not None and self.borrower.get(lender) == execution_id:
            del self.borrower[lender]
            heir = next((w for w in self.waiting if self.lender.get(w) == lender), None)
            if heir is not None:  # the parent's next waiting child takes its slot
                del self.waiting[heir]
                self.borrower[lender] = heir
                self.running.add(heir)
                started.append(heir)
        return started + self.admit()

    def admit(self) -> list[str]:
        started = []
        while self.waiting and len(self.running) < self.limit:
            execution_id, _ = self.waiting.popitem(last=False)
            self.running.add(execution_id)
            started.append(execution_id)
        return started

    def withdraw(self, execution_id: str) -> bool:
        """Remove a queued execution (cancelled before it started)."""
        if execution_id not in self.waiting:
            return False
        del self.waiting[execution_id]
        self.lender.pop(execution_id, None)
        return True

    def position(self, execution_id: str) -> int | None:
        for i, queued in enumerate(self.waiting):
            if queued == execution_id:
                return i
        return None


class WarmPool(Generic[H]):
    """Idle actors kept warm so a run never waits for a process to start.

    ``lease`` hands out an idle actor or makes a new one; ``release`` keeps it warm while
    fewer than ``size`` are idle, else returns False so the caller destroys it.
    """

    def __init__(self, size: int, make: Callable[[], H]) -> None:
        self.size = size
        self.make = make
        self.idle: list[H] = []
        self.created = 0

    def fill(self) -> None:
        while len(self.idle) < self.size:
            self.idle.append(self._new())

    def lease(self) -> tuple[H, bool]:
        """An actor and whether it was warm."""
        if self.idle:
            return self.idle.pop(), True
        return self._new(), False

    def release(self, handle: H) -> bool:
        if len(self.idle) < self.size:
            self.idle.append(handle)
            return True
        return False

    def renew(self, make: Callable[[], H] | None = None) -> list[H]:
        """Make every idle actor anew (with ``make``, say to place them on nodes that joined
        since) and answer the old ones, for the caller to destroy."""
        old = self.idle
        self.idle = [self._new(make) for _ in old]
        return old

    def _new(self, make: Callable[[], H] | None = None) -> H:
        self.created += 1
        return (make or self.make)()


class LoadBalancer(Generic[H]):
    """Pick the least-loaded actor of a node pool; say when the pool should grow.

    Members are told apart by ``key`` (the actor's id for Ray handles): a pool that hands out
    its members anew (after one is replaced) gives new handle objects for the same actors, and
    their calls in flight must still count."""

    def __init__(self, concurrency: int, max_size: int, key: Callable[[H], Hashable] = id) -> None:
        self.concurrency = concurrency
        self.max_size = max_size
        self.key = key
        self.members: list[H] = []
        self.in_flight: dict[Hashable, int] = {}

    def set_members(self, members: list[H]) -> None:
        self.members = list(members)
        self.in_flight = {self.key(m): self.in_flight.get(self.key(m), 0) for m in self.members}

    def load(self, member: H) -> int:
        return self.in_flight.get(self.key(member), 0)

    def pick(self) -> H | None:
        """The least-busy member with spare capacity, or None when all are saturated."""
        best = min(self.members, key=self.load, default=None)
        if best is None or self.load(best) >= self.concurrency:
            return None
        return best

    def should_grow(self) -> bool:
        return self.pick() is None and len(self.members) < self.max_size

    def least_loaded(self) -> H:
        return min(self.members, key=self.load)

    def acquire(self, member: H) -> None:
        self.in_flight[self.key(member)] = self.load(member) + 1

    def release(self, member: H) -> None:
        if self.key(member) in self.in_flight:  # never below zero, even released twice
            self.in_flight[self.key(member)] = max(0, self.in_flight[self.key(member)] - 1)

    def remove(self, member: H) -> None:
        gone = self.key(member)
        self.members = [m for m in self.members if self.key(m) != gone]
        self.in_flight.pop(gone, None)


class SharedPool(Generic[H]):
    """The ExecutionActors of the ``shared`` isolation mode, each carrying many executions: a
    node pool's balancing with one run a member before it counts as busy. A run goes to an
    idle member, else a new one (up to ``size``), else the least loaded, so light load stays
    on one process. ``remove`` drops a member lost for good; the next lease makes another."""

    def __init__(self, size: int, make: Callable[[], H], key: Callable[[H], Hashable] = id) -> None:
        self.make = make
        self.balancer: LoadBalancer[H] = LoadBalancer(concurrency=1, max_size=size, key=key)

    @property
    def size(self) -> int:
        return self.balancer.max_size

    @size.setter
    def size(self, size: int) -> None:
        self.balancer.max_size = size

    @property
    def members(self) -> list[H]:
        return self.balancer.members

    def load(self, member: H) -> int:
        return self.balancer.load(member)

    def lease(self) -> H:
        member = self.balancer.pick()
        if member is None and self.balancer.should_grow():
            member = self.make()
            self.balancer.set_members([*self.balancer.members, member])
        if member is None:
            member = self.balancer.least_loaded()
        self.balancer.acquire(member)
        return member

    def release(self, member: H) -> None:
        self.balancer.release(member)

    def remove(self, member: H) -> bool:
        """Drop a lost member; False if it was not one (already removed)."""
        before = len(self.balancer.members)
        self.balancer.remove(member)
        return len(self.balancer.members) < before

    def carried(self) -> int:
        return sum(self.balancer.in_flight.values())
