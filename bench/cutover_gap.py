"""One client's view of the cut-over (bench/follow.sh): reads a node every 10 ms through
HOSTS until STOP_FILE exists, and prints the longest gap between two successful reads
(and when it began, in ms since the Unix epoch), and whether the session survived.

    python3 bench/cutover_gap.py HOSTS PATH STOP_FILE
"""

import os
import sys
import time

from kazoo.client import KazooClient

hosts, path, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "max_delay": 0.2})
zk.start(timeout=60)
session = zk.client_id[0]
last_ok = time.time()
longest, longest_at, failures = 0.0, 0.0, 0
while not os.path.exists(stop_file):
    try:
        zk.exists(path)
        now = time.time()
        if now - last_ok > longest:
            longest, longest_at = now - last_ok, last_ok
        last_ok = now
    except Exception:
        failures += 1
    time.sleep(0.01)
same = zk.client_id is not None and zk.client_id[0] == session
print('{"kind":"gap","longest_ms":%.0f,"began_ms":%.0f,"failed_reads":%d,"same_session":%s}'
      % (longest * 1000, longest_at * 1000, failures, "true" if same else "false"), flush=True)
zk.stop()
