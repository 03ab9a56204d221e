"""A throwaway certificate authority and a server certificate for the simulators, and the HTTPS server
the simulators and the tests' other fake endpoints (hostile answers, AWX, the EDA source) serve with.

The CA is self-signed, so a client rejects the simulator unless it is given ``ca_path``:
that is how tests prove ``validate_certs`` is really on by default.
"""

import datetime
import ipaddress
import os
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject, issuer, public_key, now):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_tls(directory):
    """Write ca.pem, server.pem and server-key.pem into ``directory``; return their paths.

    Files already there are reused, so a simulator restarted with the same directory keeps
    the CA its clients were given. The server certificate names 127.0.0.1 and localhost
    (subjectAltName IP and DNS). Keys are EC P-256: fast to make, accepted everywhere.
    """
    os.makedirs(directory, exist_ok=True)
    ca_path = os.path.join(directory, CA_FILE)
    cert_path = os.path.join(directory, CERT_FILE)
    key_path = os.path.join(directory, KEY_FILE)
    if all(os.path.exists(p) for p in (ca_path, cert_path, key_path)):
        return ca_path, cert_path, key_path

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("ispsystem.dcimanager test CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    # Strict verifiers (Python 3.13's default context) want the AKI and a critical basicConstraints.
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value)
    cert = (
        _builder(_name("127.0.0.1"), ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(aki, critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    # The CA file is written last: its presence marks a complete set for the reuse check above.
    with open(ca_path, "wb") as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    return ca_path, cert_path, key_path


def server_context(directory):
    """``make_tls`` in ``directory``, and a server-side SSL context with its certificate: (CA file path, context)."""
    ca_path, cert_path, key_path = make_tls(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return ca_path, context


class TLSHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that speaks TLS with ``context`` (plain HTTP when it is None).

    It keeps its open connections (``close_connections()`` cuts the keep-alive ones, so a stopped
    server really stops answering) and counts the clients that refused its certificate.
    """

    daemon_threads = True

    def __init__(self, address, handler, context):
        self.context = context
        self.connections = set()
        self.connections_lock = threading.Lock()
        self.failed_handshakes = 0
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        if self.context is None:
            super().finish_request(request, client_address)
            return
        # The TLS handshake happens here, in the connection's own thread, so a slow or
        # rejecting client never blocks accept().
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError is one
            with self.connections_lock:
                self.failed_handshakes += 1
            return
        with self.connections_lock:
            self.connections.add(tls)
        try:
            super().finish_request(tls, client_address)
        except OSError:
            pass  # the client hung up mid-answer, as a size limit does
        finally:
            with self.connections_lock:
                self.connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def close_connections(self):
        """Cut every open keep-alive connection."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
