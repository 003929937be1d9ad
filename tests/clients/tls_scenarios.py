"""TLS client scenarios against a server with a plain and a TLS client port.

Usage: tls_scenarios.py PLAIN_HOST:PORT TLS_HOST:PORT PKI_DIR

PKI_DIR holds ca.pem, client.pem/client.key (signed by ca) and intruder.pem/
intruder.key (signed by another CA). Prints one line per step; the Rust test compares
them with what ZooKeeper 3.8 printed.
"""

import socket
import ssl
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, make_acl

SUBJECT = "CN=client,O=ferrokeeper tests"


def say(step, result):
    print(f"{step} -> {result}", flush=True)


def context(pki, name):
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.pem")
    if name:
        ctx.load_cert_chain(f"{pki}/{name}.pem", f"{pki}/{name}.key")
    return ctx


def four_letter(addr, word, pki, cert):
    """A four-letter word over TLS with `cert` (or none); 'refused' if the server
    ends the connection without an answer."""
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with context(pki, cert).wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(word.encode())
                answer = b""
                while True:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
    except (ssl.SSLError, ConnectionError, OSError):
        return "refused"
    return answer.decode().strip() or "refused"


def plain_on_tls_port(addr):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"ruok")
        try:
            answer = raw.recv(4096)
        except OSError:
            return "refused"
    return "imok" if answer == b"imok" else "refused"


def main():
    plain_addr, tls_addr, pki = sys.argv[1:4]
    tls = KazooClient(
        hosts=tls_addr,
        use_ssl=True,
        verify_certs=True,
        ca=f"{pki}/ca.pem",
        certfile=f"{pki}/client.pem",
        keyfile=f"{pki}/client.key",
        timeout=10,
    )
    tls.start(timeout=15)
    say("connect over TLS", tls.state)
    mine = [ACL(31, Id("x509", SUBJECT))]
    say("create /secure for the client's subject", tls.create("/secure", b"v", acl=mine))
    say("get /secure over TLS", tls.get("/secure")[0])
    tls.create("/auth", b"a", acl=[make_acl("auth", "", all=True)])
    acls, _ = tls.get_acls("/auth")
    say("auth ACL expands to", [f"{a.id.scheme}:{a.id.id}" for a in acls])

    plain = KazooClient(hosts=plain_addr, timeout=10)
    plain.start(timeout=15)
    try:
        plain.get("/secure")
        say("get /secure in plain text", "allowed")
    except NoAuthError:
        say("get /secure in plain text", "NoAuthError")
    plain.stop()
    plain.close()
    tls.stop()
    tls.close()

    say("ruok over TLS", four_letter(tls_addr, "ruok", pki, "client"))
    say("ruok over TLS without a certificate", four_letter(tls_addr, "ruok", pki, None))
    say("ruok over TLS from another CA", four_letter(tls_addr, "ruok", pki, "intruder"))
    say("ruok with a version 1 certificate", four_letter(tls_addr, "ruok", pki, "v1client"))
    say(
        "ruok with a version 1 certificate from another CA",
        four_letter(tls_addr, "ruok", pki, "v1intruder"),
    )
    say("ruok in plain text on the TLS port", plain_on_tls_port(tls_addr))


if __name__ == "__main__":
    main()
