"""Python's CA variable. requests (azure-identity, MSAL Python, the Azure CLI)
never reads SSL_CERT_FILE: under `fakemsi exec` it trusts the emulator
through REQUESTS_CA_BUNDLE. Without it the handshake fails, and the
emulator's log says which variable this client reads."""

import os
import sys
import time
import unittest

import fakemsi_env as fx

PROBE = "import os, requests; requests.get(os.environ['AZURE_AUTHORITY_HOST'] + '/common/discovery/instance', timeout=10)"


class TLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = fx.env("INTEROP_FAKEMSI_LOG")  # set by run.sh

    def probe(self, env):
        return fx.run([sys.executable, "-c", PROBE], env=env, timeout=60)

    def test_requests_trusts_the_block(self):
        p = self.probe(dict(os.environ))
        self.assertEqual(p.returncode, 0, fx.redact(p.stderr))

    def test_requests_without_its_variables_fails_and_is_explained(self):
        env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        self.assertIn("SSL_CERT_FILE", env)  # which requests ignores
        p = self.probe(env)
        self.assertNotEqual(p.returncode, 0, "requests trusted the emulator without REQUESTS_CA_BUNDLE")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", p.stderr)
        deadline = time.monotonic() + 10  # the server logs after the client hung up
        while time.monotonic() < deadline:
            with open(self.log) as f:
                lines = [l for l in f if "TLS handshake refused" in l]
            if lines:
                break
            time.sleep(0.1)
        self.assertTrue(lines, "no warning in the emulator's log")
        self.assertIn("client_guess=Python", lines[-1])
        self.assertIn("REQUESTS_CA_BUNDLE", lines[-1])


if __name__ == "__main__":
    unittest.main()
