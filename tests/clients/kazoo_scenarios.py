#!/usr/bin/env python3
"""Drives a ZooKeeper server with kazoo (PyPI) through the scenarios below and
prints one deterministic line per checked step.  Every step is also asserted
here; the first failure prints "FAIL <scenario>: ..." with a traceback and the
script exits 1.  Used by tests/tests/kazoo.rs.

    python3 kazoo_scenarios.py HOST:PORT [scenario ...]

Waits are bounded (WAIT seconds) and done on events, never on sleeps.
"""

import logging
import queue
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    LockTimeout,
    NoNodeError,
    NodeExistsError,
    NotEmptyError,
    NoChildrenForEphemeralsError,
    RolledBackError,
)
from kazoo.protocol.states import KazooState

WAIT = 10.0

HOSTS = None
CLIENTS = []


def out(line):
    print(line, flush=True)


def client():
    c = KazooClient(hosts=HOSTS, timeout=10.0, connection_retry={"max_tries": 3})
    c.start(timeout=WAIT)
    assert c.state == KazooState.CONNECTED, c.state
    CLIENTS.append(c)
    return c


def stop(c):
    c.stop()
    c.close()
    if c in CLIENTS:
        CLIENTS.remove(c)


def until(pred, what):
    """Polls pred() until it is true, at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def take(q, what):
    try:
        return q.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError("timed out waiting for " + what)


def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        return type(e).__name__
    raise AssertionError("expected %s from %s%r" % (exc.__name__, fn.__name__, args))


# ---- scenarios ----------------------------------------------------------------


def s_crud():
    c = client()
    out("ensure_path /app/a/b -> %s" % c.ensure_path("/app/a/b"))
    out("ensure_path again -> %s" % c.ensure_path("/app/a/b"))
    out("create /app/n -> %s" % c.create("/app/n", b"v1"))
    out("create /app/n again -> %s" % raises(NodeExistsError, c.create, "/app/n", b"x"))
    out("create /missing/x -> %s" % raises(NoNodeError, c.create, "/missing/x"))
    data, stat = c.get("/app/n")
    out("get /app/n -> %r version=%d dataLength=%d" % (data, stat.version, stat.data_length))
    stat = c.set("/app/n", b"v2", version=0)
    out("set /app/n v0 -> version=%d" % stat.version)
    out("set /app/n v0 again -> %s" % raises(BadVersionError, c.set, "/app/n", b"v3", version=0))
    seq = c.create("/app/s-", b"", sequence=True)
    out("create sequence -> %s" % seq)
    eph = c.create("/app/e", b"", ephemeral=True)
    out("create ephemeral -> %s owner=%s" % (
        eph, "self" if c.exists(eph).owner_session_id == c.client_id[0] else "other"))
    out("create under ephemeral -> %s" % raises(
        NoChildrenForEphemeralsError, c.create, "/app/e/x"))
    created = c.create("/app/deep/er/node", b"d", makepath=True)
    out("create makepath -> %s" % created)
    out("get_children /app -> %s" % sorted(c.get_children("/app")))
    children, stat = c.get_children("/app", include_data=True)
    out("get_children include_data -> numChildren=%d" % stat.numChildren)
    out("exists /nope -> %s" % c.exists("/nope"))
    out("delete /app -> %s" % raises(NotEmptyError, c.delete, "/app"))
    out("delete /app/n v5 -> %s" % raises(BadVersionError, c.delete, "/app/n", version=5))
    out("delete /nope -> %s" % raises(NoNodeError, c.delete, "/nope"))
    c.delete("/app", recursive=True)
    out("delete /app recursive -> exists=%s" % c.exists("/app"))
    out("sync / -> %s" % c.sync("/"))
    stop(c)


def s_watches():
    c = client()
    other = client()
    c.ensure_path("/w")

    children = queue.Queue()

    @c.ChildrenWatch("/w")
    def on_children(names):
        children.put(sorted(names))

    out("ChildrenWatch initial -> %s" % take(children, "initial children"))
    other.create("/w/a")
    out("ChildrenWatch after create a -> %s" % take(children, "children [a]"))
    other.create("/w/b")
    out("ChildrenWatch after create b -> %s" % take(children, "children [a, b]"))
    other.delete("/w/a")
    out("ChildrenWatch after delete a -> %s" % take(children, "children [b]"))

    datas = queue.Queue()

    @c.DataWatch("/w/d")
    def on_data(data, stat, event=None):
        datas.put((data, stat.version if stat else None,
                   event.type if event else None))

    out("DataWatch initial -> %r" % (take(datas, "initial data"),))
    other.create("/w/d", b"1")
    out("DataWatch after create -> %r" % (take(datas, "data 1"),))
    other.set("/w/d", b"2")
    out("DataWatch after set -> %r" % (take(datas, "data 2"),))
    other.delete("/w/d")
    out("DataWatch after delete -> %r" % (take(datas, "deleted"),))

    # a plain one-shot watch callback
    events = queue.Queue()
    c.exists("/w/x", watch=events.put)
    other.create("/w/x", b"x")
    ev = take(events, "exists watch")
    out("exists watch -> %s %s" % (ev.type, ev.path))
    c.get("/w/x", watch=events.put)
    other.set("/w/x", b"y")
    ev = take(events, "get watch")
    out("get watch -> %s %s" % (ev.type, ev.path))
    c.get_children("/w", watch=events.put)
    other.delete("/w/x")
    ev = take(events, "children watch")
    out("get_children watch -> %s %s" % (ev.type, ev.path))
    stop(other)
    stop(c)


def s_transactions():
    c = client()
    c.create("/t", b"t")
    tx = c.transaction()
    tx.create("/t/a", b"a")
    tx.create("/t/s-", b"", sequence=True)
    tx.set_data("/t", b"tt", version=0)
    tx.check("/t", 1)
    tx.delete("/t/a")
    results = tx.commit()
    out("transaction ok -> %r" % [
        r if isinstance(r, (str, bool)) else "stat(version=%d)" % r.version for r in results])
    out("after ok -> %s %r" % (sorted(c.get_children("/t")), c.get("/t")[0]))

    tx = c.transaction()
    tx.create("/t/b", b"b")
    tx.set_data("/nope", b"x")
    tx.create("/t/c", b"c")
    results = tx.commit()
    out("transaction fail -> %s" % [type(r).__name__ for r in results])
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], NoNodeError)
    out("after fail -> /t/b exists=%s /t/c exists=%s" % (
        c.exists("/t/b") is not None, c.exists("/t/c") is not None))

    tx = c.transaction()
    tx.check("/t", 5)
    tx.delete("/t", version=-1)
    results = tx.commit()
    out("transaction check fail -> %s" % [type(r).__name__ for r in results])
    stop(c)


def s_lock():
    c1 = client()
    c2 = client()
    l1 = c1.Lock("/locks/l", "one")
    l2 = c2.Lock("/locks/l", "two")
    out("one acquire -> %s" % l1.acquire(timeout=WAIT))
    out("two acquire non-blocking -> %s" % l2.acquire(blocking=False))
    out("two acquire timeout 0.3 -> %s" % raises(LockTimeout, l2.acquire, timeout=0.3))

    got = queue.Queue()
    t = threading.Thread(target=lambda: got.put(l2.acquire(timeout=WAIT)), daemon=True)
    t.start()
    until(lambda: len(l1.contenders()) == 2, "two contenders")
    out("contenders -> %s" % l1.contenders())
    out("two holds before release -> %s" % (not got.empty()))
    l1.release()
    out("two acquire after release -> %s" % take(got, "the lock"))
    t.join(WAIT)
    out("contenders -> %s" % l2.contenders())
    l2.release()
    out("contenders after release -> %s" % l1.contenders())

    # a holder whose session ends releases the lock
    l1b = c1.Lock("/locks/m", "one")
    out("one acquire m -> %s" % l1b.acquire(timeout=WAIT))
    l2b = c2.Lock("/locks/m", "two")
    got2 = queue.Queue()
    t2 = threading.Thread(target=lambda: got2.put(l2b.acquire(timeout=WAIT)), daemon=True)
    t2.start()
    until(lambda: len(l2b.contenders()) == 2, "two contenders on m")
    stop(c1)
    out("two acquire m after one stopped -> %s" % take(got2, "lock m"))
    t2.join(WAIT)
    l2b.release()
    stop(c2)


def s_election():
    c1 = client()
    c2 = client()
    e1 = c1.Election("/election", "c1")
    e2 = c2.Election("/election", "c2")
    leaders = queue.Queue()
    release = {"c1": threading.Event(), "c2": threading.Event()}

    def lead(name):
        def fn():
            leaders.put(name)
            release[name].wait(WAIT)
        return fn

    t1 = threading.Thread(target=e1.run, args=(lead("c1"),), daemon=True)
    t1.start()
    out("first leader -> %s" % take(leaders, "first leader"))
    t2 = threading.Thread(target=e2.run, args=(lead("c2"),), daemon=True)
    t2.start()
    until(lambda: len(e1.contenders()) == 2, "two contenders")
    out("contenders -> %s" % e1.contenders())
    out("leader queue empty while c1 leads -> %s" % leaders.empty())
    release["c1"].set()
    out("next leader -> %s" % take(leaders, "second leader"))
    t1.join(WAIT)
    release["c2"].set()
    t2.join(WAIT)
    out("contenders at end -> %s" % e1.contenders())
    stop(c2)
    stop(c1)


def s_ephemeral_cleanup():
    watcher = client()
    owner = client()
    owner.create("/eph", b"e", ephemeral=True)
    owner.create("/ephs/n-", b"", ephemeral=True, sequence=True, makepath=True)
    events = queue.Queue()
    stat = watcher.exists("/eph", watch=events.put)
    out("exists /eph -> owner=%s" % (
        "owner" if stat.owner_session_id == owner.client_id[0] else "?"))
    out("children /ephs -> %s" % watcher.get_children("/ephs"))
    start = time.monotonic()
    stop(owner)
    ev = take(events, "NodeDeleted")
    out("after owner stop -> %s %s" % (ev.type, ev.path))
    assert time.monotonic() - start < 5, "stop() must delete ephemerals at once"
    out("exists /eph -> %s" % watcher.exists("/eph"))
    out("children /ephs -> %s" % watcher.get_children("/ephs"))
    stop(watcher)


def s_server_version():
    c = client()
    version = c.server_version()
    out("server_version -> %s" % (version[:2],))
    assert len(version) == 3 and all(isinstance(d, int) for d in version), version
    out("ruok -> %s" % c.command(b"ruok"))
    stop(c)


SCENARIOS = [
    ("crud", s_crud),
    ("watches", s_watches),
    ("transactions", s_transactions),
    ("lock", s_lock),
    ("election", s_election),
    ("ephemeral_cleanup", s_ephemeral_cleanup),
    ("server_version", s_server_version),
]


def main():
    global HOSTS
    if len(sys.argv) < 2:
        print("usage: kazoo_scenarios.py HOST:PORT [scenario ...]", file=sys.stderr)
        return 64
    HOSTS = sys.argv[1]
    wanted = sys.argv[2:] or [name for name, _ in SCENARIOS]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name, fn in SCENARIOS:
        if name not in wanted:
            continue
        out("== %s" % name)
        try:
            fn()
        except Exception as e:  # report and stop at the first failure
            out("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            traceback.print_exc()
            for c in list(CLIENTS):
                try:
                    stop(c)
                except Exception:
                    pass
            return 1
    out("== done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
