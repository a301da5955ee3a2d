"""peer_verify: a listener that lets any client certificate complete the handshake and tells afterwards whether
it chained to the truststore of the context SNI chose; where it cannot install itself, the handshake judges."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from apigate.control.local_ca import LocalCa
from apigate.server import peer_verify
from apigate.server.tls import Site, TlsSites, server_context


@dataclass
class End:
    """One end of a TLS connection over memory BIOs."""

    tls: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO


def _end(context: ssl.SSLContext, server_name: str | None = None) -> End:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    side = server_name is None
    return End(context.wrap_bio(incoming, outgoing, side, server_name), incoming, outgoing)


def _handshake(server: End, client: End) -> None:
    """Pass each end's bytes to the other until both handshakes are done (or one fails)."""
    done: set[int] = set()
    for _ in range(20):
        for end in (client, server):
            if id(end) not in done:
                try:
                    end.tls.do_handshake()
                    done.add(id(end))
                except ssl.SSLWantReadError:
                    pass
        server.incoming.write(client.outgoing.read())
        client.incoming.write(server.outgoing.read())
        if len(done) == 2:
            return
    raise AssertionError("the handshake did not finish")


class Listener:
    """A listener's TlsSites with one mutual TLS domain (mtls.test) and one without (open.test)."""

    def __init__(self, folder: Path) -> None:
        servers = LocalCa(folder / "servers")
        self.clients, self.strangers = LocalCa(folder / "clients"), LocalCa(folder / "strangers")
        default = servers.issue(["localhost"])
        bundle = folder / "default.pem"
        bundle.write_text(default.private_key + default.certificate)
        self.sites = TlsSites(folder / "tls", server_context(bundle))
        mtls, plain = servers.issue(["mtls.test"]), servers.issue(["open.test"])
        self.sites.install(
            {
                "mtls.test": Site(mtls.certificate, mtls.private_key, None, self.clients.root_pem),
                "open.test": Site(plain.certificate, plain.private_key),
            }
        )
        self.folder = folder

    def connect(self, server_name: str, issuer: LocalCa | None) -> ssl.SSLObject:
        """A completed handshake's server end; the client presents a certificate ``issuer`` issued."""
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        if issuer is not None:
            issued = issuer.issue(["client"], client=True)
            path = self.folder / "client.pem"
            path.write_text(issued.private_key + issued.certificate)
            client.load_cert_chain(path)
        server = _end(self.sites.context)
        _handshake(server, _end(client, server_name))
        return server.tls


def test_untrusted_certificates_complete_the_handshake_unverified(tmp_path: Path) -> None:
    listener = Listener(tmp_path)
    trusted = listener.connect("mtls.test", listener.clients)
    assert trusted.getpeercert(True) and peer_verify.verified(trusted)
    untrusted = listener.connect("mtls.test", listener.strangers)
    assert untrusted.getpeercert(True) and not peer_verify.verified(untrusted)
    assert peer_verify.verified(listener.connect("mtls.test", None))  # no certificate: nothing failed
    # elsewhere no truststore applies: a certificate offered there is never a verified one
    for server_name in ("open.test", "localhost"):
        assert not peer_verify.verified(listener.connect(server_name, listener.clients))


def test_where_it_cannot_install_the_handshake_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An OpenSSL other than ssl's (the first check of the layout) leaves the listener as ssl makes it: the
    reason is logged and an untrusted certificate fails the handshake."""
    monkeypatch.setattr(peer_verify.ssl, "OPENSSL_VERSION_NUMBER", 0)
    with caplog.at_level(logging.WARNING, logger="apigate.server"):
        listener = Listener(tmp_path)
    assert "not the one ssl uses" in caplog.text
    assert peer_verify.verified(listener.connect("mtls.test", listener.clients))
    with pytest.raises(ssl.SSLError):
        listener.connect("mtls.test", listener.strangers)
