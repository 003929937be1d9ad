"""kazoo across a cut-over from ZooKeeper to ferrokeeper (tests/tests/zk_cutover.rs).

    python3 kazoo_cutover.py HOSTS DONE_FILE

Connects to HOSTS (ZooKeeper's servers and ferrokeeper), creates an ephemeral, sets a
DataWatch, prints "READY <session hex>", then waits for DONE_FILE (the test creates it
once ferrokeeper has taken over and ZooKeeper is gone) and prints what survived:
"AFTER same_session=<bool> ephemeral=<bool> lost=<bool>", then the DataWatch's event for
a change the test makes through ferrokeeper after that: "WATCH <data>".
"""

import os
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState

hosts, done_file = sys.argv[1], sys.argv[2]
zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "max_delay": 0.5})
lost = threading.Event()
zk.add_listener(lambda s: lost.set() if s == KazooState.LOST else None)
zk.start(timeout=30)
session = zk.client_id[0]
zk.create("/kazoo-eph", b"k", ephemeral=True)
seen = []
changed = threading.Event()


@zk.DataWatch("/kazoo-watched")
def watcher(data, stat, event=None):
    seen.append(data)
    if event is not None and data == b"after":
        changed.set()


print("READY %x" % session, flush=True)
deadline = time.time() + 120
while not os.path.exists(done_file):
    if time.time() > deadline:
        print("TIMEOUT waiting for the cut-over", flush=True)
        sys.exit(1)
    time.sleep(0.05)
# Reconnection may still be under way: give it up to the session timeout.
for _ in range(200):
    if zk.connected:
        break
    time.sleep(0.05)
same = zk.client_id is not None and zk.client_id[0] == session
eph = zk.exists("/kazoo-eph") is not None
print("AFTER same_session=%s ephemeral=%s lost=%s" % (same, eph, lost.is_set()), flush=True)
got = changed.wait(30)
print("WATCH %s" % (seen[-1].decode() if got and seen[-1] else "none"), flush=True)
zk.stop()
