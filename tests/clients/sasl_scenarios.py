"""SASL DIGEST-MD5 scenarios through kazoo (pure-sasl) against a server whose JAAS
`Server` section has users bob/bobpw and admin/adminpw, admin being the super user.

Usage: sasl_scenarios.py HOST:PORT (basic|required)

Prints one line per step; the Rust test compares them with what ZooKeeper 3.8 printed.
"""

import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, make_acl


def say(step, result):
    print(f"{step} -> {result}", flush=True)


def client(hosts, user=None, password=None):
    options = None
    if user is not None:
        options = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
    return KazooClient(hosts=hosts, sasl_options=options, timeout=10)


def attempt(zk, what):
    """Starts `zk` and runs `what(zk)`; the outcome or the exception's class."""
    try:
        zk.start(timeout=10)
        return what(zk)
    except Exception as e:  # the class is what is compared
        return type(e).__name__
    finally:
        zk.stop()
        zk.close()


def basic(hosts):
    bob = client(hosts, "bob", "bobpw")
    bob.start(timeout=15)
    say("bob connects", bob.state)
    say("bob creates /sasl for sasl:bob", bob.create("/sasl", b"v", acl=[ACL(31, Id("sasl", "bob"))]))
    say("bob reads /sasl", bob.get("/sasl")[0])
    bob.create("/auth", b"a", acl=[make_acl("auth", "", all=True)])
    acls, _ = bob.get_acls("/auth")
    say("auth ACL expands to", [f"{a.id.scheme}:{a.id.id}" for a in acls])
    bob.stop()
    bob.close()

    def read(zk):
        try:
            return zk.get("/sasl")[0]
        except NoAuthError:
            return "NoAuthError"

    say("anonymous reads /sasl", attempt(client(hosts), read))
    say("admin (super user) reads /sasl", attempt(client(hosts, "admin", "adminpw"), read))
    say("bob with a wrong password", attempt(client(hosts, "bob", "wrong"), read))
    say("an unknown user", attempt(client(hosts, "eve", "evepw"), read))


def required(hosts):
    say("bob with SASL required", attempt(client(hosts, "bob", "bobpw"), lambda zk: zk.exists("/") is not None))
    say("anonymous with SASL required", attempt(client(hosts), lambda zk: zk.exists("/") is not None))


if __name__ == "__main__":
    {"basic": basic, "required": required}[sys.argv[2]](sys.argv[1])
