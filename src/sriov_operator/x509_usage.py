"""X.509 pieces shared by every CA we make (the test control plane's and the webhook's)."""

from __future__ import annotations

from cryptography import x509

CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)
