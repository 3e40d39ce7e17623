"""hub.admission: who runs now, who waits, which warm actor a run gets."""

from __future__ import annotations

import itertools

import pytest

from hub.admission import AdmissionQueue, LoadBalancer, SharedPool, WarmPool

# --- AdmissionQueue -------------------------------------------------------------------------------


def test_runs_up_to_the_limit_then_queues() -> None:
    q = AdmissionQueue(limit=2)
    assert q.submit("a") is True
    assert q.submit("b") is True
    assert q.submit("c") is False
    assert q.submit("d") is False
    assert q.running == {"a", "b"}
    assert list(q.waiting) == ["c", "d"]
    assert q.position("c") == 0
    assert q.position("d") == 1
    assert q.position("a") is None  # running, not waiting


def test_finished_admits_the_next_in_fifo_order() -> None:
    q = AdmissionQueue(limit=1)
    assert q.submit("a")
    for name in "bcd":
        assert not q.submit(name)
    assert q.finished("a") == ["b"]
    assert q.running == {"b"}
    assert q.finished("b") == ["c"]
    assert q.finished("c") == ["d"]
    assert q.finished("d") == []
    assert q.running == set()
    assert not q.waiting


def test_a_new_submit_never_jumps_the_queue() -> None:
    q = AdmissionQueue(limit=2)
    q.submit("a")
    q.submit("b")
    q.submit("c")  # queued
    # a slot frees up without the queue being served yet (e.g. a crashed run removed directly)
    q.running.discard("a")
    assert q.submit("late") is False
    assert q.admit() == ["c"]
    assert list(q.waiting) == ["late"]


def test_finishing_several_admits_several() -> None:
    q = AdmissionQueue(limit=3)
    for name in "abcdef":
        q.submit(name)
    assert q.finished("a") == ["d"]
    q.running.discard("b")
    q.running.discard("c")
    assert q.admit() == ["e", "f"]
    assert q.running == {"d", "e", "f"}


def test_withdraw_removes_a_queued_execution() -> None:
    q = AdmissionQueue(limit=1)
    q.submit("a")
    q.submit("b")
    q.submit("c")
    q.withdraw("b")
    assert list(q.waiting) == ["c"]
    assert q.position("b") is None
    assert q.position("c") == 0
    assert q.withdraw("a") is False  # running executions are not withdrawn
    assert q.running == {"a"}
    assert q.finished("a") == ["c"]  # "b" never starts


def test_withdraw_says_whether_it_removed_something() -> None:
    q = AdmissionQueue(limit=1)
    q.submit("a")
    q.submit("b")
    assert q.withdraw("b") is True
    assert q.withdraw("b") is False


def test_finished_for_a_queued_execution_drops_it() -> None:
    q = AdmissionQueue(limit=1)
    q.submit("a")
    q.submit("b")
    q.submit("c")
    assert q.finished("b") == []  # "a" still holds the only slot
    assert list(q.waiting) == ["c"]


def test_finished_for_an_unknown_execution_is_harmless() -> None:
    q = AdmissionQueue(limit=1)
    q.submit("a")
    assert q.finished("nope") == []
    assert q.running == {"a"}


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError):
        AdmissionQueue(limit)


def test_limit_is_never_exceeded_under_churn() -> None:
    q = AdmissionQueue(limit=3)
    started: list[str] = []
    names = [f"e{i}" for i in range(20)]
    for name in names:
        if q.submit(name):
            started.append(name)
        assert len(q.running) <= 3
    while q.running:
        done = sorted(q.running)[0]
        started.extend(q.finished(done))
        assert len(q.running) <= 3
    assert started == names  # everyone ran, in submission order


# --- WarmPool -------------------------------------------------------------------------------------


def make_counter() -> tuple[WarmPool[int], list[int]]:
    made: list[int] = []
    counter = itertools.count(1)

    def make() -> int:
        value = next(counter)
        made.append(value)
        return value

    return WarmPool(2, make), made


def test_fill_makes_size_idle_actors() -> None:
    pool, made = make_counter()
    pool.fill()
    assert len(pool.idle) == 2
    assert pool.created == 2
    pool.fill()  # already full
    assert pool.created == 2
    assert made == [1, 2]


def test_lease_prefers_a_warm_actor() -> None:
    pool, _ = make_counter()
    pool.fill()
    handle, warm = pool.lease()
    assert warm is True
    assert handle in (1, 2)
    assert len(pool.idle) == 1
    assert pool.created == 2


def test_renew_makes_every_idle_actor_anew_and_hands_back_the_old_ones() -> None:
    pool, made = make_counter()
    pool.fill()
    leased, _ = pool.lease()
    old = pool.renew()
    assert old == [h for h in (1, 2) if h != leased]  # the idle one, not the leased one
    assert pool.idle == [3] and made == [1, 2, 3] and pool.created == 3
    assert pool.renew() == [3] and pool.idle == [4]
    assert pool.renew(lambda: 99) == [4] and pool.idle == [99] and pool.created == 5


def test_lease_from_an_empty_pool_makes_a_cold_actor() -> None:
    pool, made = make_counter()
    handle, warm = pool.lease()
    assert warm is False
    assert handle == 1
    assert made == [1]
    assert pool.created == 1


def test_release_keeps_up_to_size_idle() -> None:
    pool, _ = make_counter()
    leased = [pool.lease()[0] for _ in range(3)]
    assert pool.release(leased[0]) is True
    assert pool.release(leased[1]) is True
    assert pool.release(leased[2]) is False  # the caller destroys it
    assert sorted(pool.idle) == sorted(leased[:2])
    handle, warm = pool.lease()
    assert warm and handle in leased[:2]


def test_zero_size_pool_keeps_nothing() -> None:
    pool: WarmPool[object] = WarmPool(0, object)
    pool.fill()
    assert pool.idle == []
    handle, warm = pool.lease()
    assert warm is False
    assert pool.release(handle) is False


# --- LoadBalancer ---------------------------------------------------------------------------------


class Actor:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def test_pick_least_loaded() -> None:
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=3, max_size=4)
    a, b, c = Actor("a"), Actor("b"), Actor("c")
    lb.set_members([a, b, c])
    lb.acquire(a)
    lb.acquire(a)
    lb.acquire(b)
    assert lb.pick() is c
    lb.acquire(c)
    lb.acquire(c)
    assert lb.pick() is b
    assert lb.least_loaded() is b


def test_saturation_returns_none_and_release_frees_capacity() -> None:
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=1, max_size=2)
    a, b = Actor("a"), Actor("b")
    lb.set_members([a, b])
    first = lb.pick()
    assert first is not None
    lb.acquire(first)
    second = lb.pick()
    assert second is not None and second is not first
    lb.acquire(second)
    assert lb.pick() is None
    lb.release(second)
    assert lb.pick() is second


def test_empty_pool_picks_nothing_and_should_grow() -> None:
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=2, max_size=1)
    assert lb.pick() is None
    assert lb.should_grow() is True


def test_should_grow_only_when_saturated_and_below_max() -> None:
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=1, max_size=2)
    a = Actor("a")
    lb.set_members([a])
    assert lb.should_grow() is False  # a has capacity
    lb.acquire(a)
    assert lb.should_grow() is True  # saturated, room for another
    b = Actor("b")
    lb.set_members([a, b])
    assert lb.should_grow() is False
    assert lb.pick() is b
    lb.acquire(b)
    assert lb.pick() is None
    assert lb.should_grow() is False  # saturated but at max_size


def test_set_members_keeps_existing_load() -> None:
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=2, max_size=4)
    a, b = Actor("a"), Actor("b")
    lb.set_members([a])
    lb.acquire(a)
    lb.acquire(a)
    lb.set_members([a, b])
    assert lb.in_flight[id(a)] == 2
    assert lb.pick() is b


def test_remove_forgets_a_member() -> None:
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=1, max_size=4)
    a, b = Actor("a"), Actor("b")
    lb.set_members([a, b])
    lb.acquire(b)
    lb.remove(a)
    assert lb.members == [b]
    assert lb.pick() is None
    lb.release(a)  # releasing a removed member is harmless
    assert id(a) not in lb.in_flight


def test_a_pool_handed_out_anew_keeps_the_load_of_its_members() -> None:
    """Regression: after a member was replaced the pool's members come back as new handle
    objects; keyed by object identity, the calls still running on the others were forgotten and
    the next call could queue behind a busy one-call-at-a-time actor."""
    lb: LoadBalancer[Actor] = LoadBalancer(concurrency=1, max_size=2, key=lambda m: m.name)
    busy, idle = Actor("busy"), Actor("idle")
    lb.set_members([busy, idle])
    lb.acquire(busy)
    lb.set_members([Actor("busy"), Actor("idle")])  # the same actors, new handles
    picked = lb.pick()
    assert picked is not None and picked.name == "idle"
    lb.release(busy)  # the old handle's call ends: it frees the same member
    assert lb.load(Actor("busy")) == 0


# --- SharedPool: the actors of the shared isolation mode -------------------------------------


def shared_pool(size: int) -> tuple[SharedPool[str], list[str]]:
    made: list[str] = []

    def make() -> str:
        made.append(f"a{len(made) + 1}")
        return made[-1]

    return SharedPool(size, make), made


def test_light_load_stays_on_one_shared_actor() -> None:
    pool, made = shared_pool(3)
    first = pool.lease()
    pool.release(first)
    assert pool.lease() == first and made == ["a1"]  # idle again: no second process


def test_a_shared_actor_is_added_only_when_every_one_carries_a_run() -> None:
    pool, made = shared_pool(2)
    leases = [pool.lease() for _ in range(5)]
    assert made == ["a1", "a2"]  # never more than size
    assert sorted(leases) == ["a1", "a1", "a1", "a2", "a2"]  # spread, least loaded first
    assert pool.carried() == 5


def test_release_frees_the_slot_it_took_and_never_goes_below_zero() -> None:
    pool, _ = shared_pool(2)
    a, b = pool.lease(), pool.lease()
    pool.release(a)
    pool.release(a)  # a second release of the same run is harmless
    assert pool.load(a) == 0 and pool.load(b) == 1
    assert pool.lease() == a  # the least loaded


def test_a_lost_shared_actor_is_replaced_on_the_next_lease() -> None:
    pool, made = shared_pool(1)
    lost = pool.lease()
    pool.lease()
    assert pool.remove(lost) is True
    assert pool.remove(lost) is False  # its other runs find it gone already
    pool.release(lost)  # a release after the removal changes nothing
    assert pool.lease() == "a2" and made == ["a1", "a2"] and pool.carried() == 1
