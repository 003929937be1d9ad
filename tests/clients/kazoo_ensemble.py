"""kazoo against a 3-server ensemble while the server it uses is killed.

Usage: kazoo_ensemble.py <connect string>. Prints `using <port>` once connected and
set up, then waits for a line on stdin (the test kills that server and says `go`).
Then checks that the session survived on another server (same id, its ephemeral
still there) and that its DataWatch sees a change made after the move. Exits non-zero on any failure; prints one line per step.
"""

import sys
import threading

from kazoo.client import KazooClient, KazooState

hosts = sys.argv[1]
client = KazooClient(hosts=hosts, timeout=10.0, randomize_hosts=False)
states = []
reconnected = threading.Event()


def on_state(state):
    states.append(state)
    if state == KazooState.CONNECTED and KazooState.SUSPENDED in states:
        reconnected.set()


client.add_listener(on_state)
client.start(timeout=20)
session = client.client_id[0]
client.create("/e", b"mine", ephemeral=True)
client.ensure_path("/w")
seen = []
changed = threading.Event()


# kazoo's DataWatch recipe: what applications use to follow a node across reconnects.
@client.DataWatch("/w")
def watch(data, stat):
    seen.append(data)
    if data == b"changed":
        changed.set()


port = client._connection._socket.getpeername()[1]
print(f"using {port}", flush=True)

sys.stdin.readline()
assert reconnected.wait(30), f"no reconnect within 30 s: {states}"
print("reconnected", flush=True)
new_port = client._connection._socket.getpeername()[1]
assert new_port != port, "still on the killed server"
assert client.client_id[0] == session, "a new session"
print("same session", flush=True)
data, stat = client.get("/e")
assert data == b"mine" and stat.ephemeralOwner == session
print("ephemeral kept", flush=True)

other = KazooClient(hosts=hosts, timeout=10.0)
other.start(timeout=20)
other.set("/w", b"changed")
assert changed.wait(20), f"the DataWatch did not see the change: {seen}"
print(f"data watch saw {seen[-1]!r}", flush=True)
other.stop()
client.stop()
client.close()
print("done", flush=True)
