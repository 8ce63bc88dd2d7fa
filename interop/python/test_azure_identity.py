"""azure-identity (Debian's python3-azure, 1.13) against the emulator, with
nothing set by hand: ManagedIdentityCredential finds the platform from the
environment block, ClientAssertionCredential trades its assertion in the
remote tenants, plain requests lists devices from the fake Graph.

Each TestCase class is one mode; run.sh runs each under `fakemsi exec
--mode` of its own.
"""

import os
import unittest

from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential, ManagedIdentityCredential

import fakemsi_env as fx


class _Flow:
    """The cross-tenant flow, for any way of getting an assertion."""

    MODE = ""

    def assertion(self):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        if fx.mode() != cls.MODE:
            raise AssertionError("environment is %r mode, this class tests %r: run it under `fakemsi exec --mode %s`"
                                 % (fx.mode(), cls.MODE, cls.MODE))

    def credential(self, tenant):
        # AZURE_AUTHORITY_HOST (the fake Entra) is read by azure-identity
        # itself; the CA comes from REQUESTS_CA_BUNDLE.
        return ClientAssertionCredential(tenant, fx.env("AZURE_CLIENT_ID"), self.assertion)

    def test_assertion_is_for_token_exchange(self):
        c = fx.claims(self.assertion())
        self.assertEqual(c["aud"], fx.TOKEN_EXCHANGE)

    def test_consented_tenant_lists_devices(self):
        consented = fx.tenants()[0]
        token = self.credential(consented).get_token(fx.GRAPH_SCOPE).token
        c = fx.claims(token)
        self.assertEqual((c["tid"], c["appid"] if "appid" in c else c["azp"]), (consented, fx.APP_CLIENT_ID))
        self.assertIn("Device.Read.All", c.get("roles", []))
        status, body = fx.graph_devices(token)
        self.assertEqual(status, 200, fx.redact(str(body)))
        self.assertGreater(len(body["value"]), 0)

    def test_unconsented_tenant_is_700016(self):
        with self.assertRaises(ClientAuthenticationError) as cm:
            self.credential(fx.tenants()[1]).get_token(fx.GRAPH_SCOPE)
        self.assertIn("AADSTS700016", str(cm.exception))


class AppServiceTest(_Flow, unittest.TestCase):
    """App Service / Functions: IDENTITY_ENDPOINT + IDENTITY_HEADER."""

    MODE = "appservice"
    mi = None

    def assertion(self):
        if AppServiceTest.mi is None:
            AppServiceTest.mi = ManagedIdentityCredential()
        return self.mi.get_token(fx.TOKEN_EXCHANGE + "/.default").token

    def test_managed_identity_is_the_system_assigned_one(self):
        c = fx.claims(self.assertion())
        self.assertEqual((c["sub"], c["tid"]), (fx.SYSTEM_IDENTITY_OBJECT_ID, fx.HOME_TENANT))
        self.assertEqual(c["iss"], fx.env("AZURE_AUTHORITY_HOST") + "/" + fx.HOME_TENANT + "/v2.0")


class IMDSTest(_Flow, unittest.TestCase):
    """A VM's IMDS. azure-identity 1.13 honours
    AZURE_POD_IDENTITY_AUTHORITY_HOST (azidentity does not): without it the
    request would go to 169.254.169.254 and this test could not pass."""

    MODE = "imds"
    mi = None

    def assertion(self):
        if IMDSTest.mi is None:
            IMDSTest.mi = ManagedIdentityCredential()
        return self.mi.get_token(fx.TOKEN_EXCHANGE + "/.default").token

    def test_no_app_service_variables(self):
        for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
            self.assertNotIn(name, os.environ)

    def test_managed_identity_is_the_system_assigned_one(self):
        c = fx.claims(self.assertion())
        self.assertEqual((c["sub"], c["tid"]), (fx.SYSTEM_IDENTITY_OBJECT_ID, fx.HOME_TENANT))


class WorkloadTest(_Flow, unittest.TestCase):
    """AKS workload identity: the assertion is the projected token file."""

    MODE = "workload"

    def assertion(self):
        with open(fx.env("AZURE_FEDERATED_TOKEN_FILE")) as f:
            return f.read().strip()

    def test_managed_identity_credential_exchanges_the_file(self):
        # azure-identity 1.13's ManagedIdentityCredential, given
        # AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID,
        # trades the file for a token of the app in its home tenant.
        token = ManagedIdentityCredential().get_token(fx.GRAPH_SCOPE).token
        c = fx.claims(token)
        self.assertEqual(c["tid"], fx.HOME_TENANT)
        self.assertEqual(c.get("appid", c.get("azp")), fx.APP_CLIENT_ID)


if __name__ == "__main__":
    unittest.main()
