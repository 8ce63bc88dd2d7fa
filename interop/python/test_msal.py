"""MSAL Python (Debian's python3-msal, 1.21): ConfidentialClientApplication
with a client assertion from the fake managed identity.

instance_discovery=False is required: for an authority it does not know,
MSAL Python first asks https://login.microsoftonline.com/common/discovery/instance
(a fixed public host, whatever the authority) and fails offline. It is a
documented client option, not a variable set by hand.
"""

import unittest

import msal
from azure.identity import ManagedIdentityCredential

import fakemsi_env as fx


class MSALTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if fx.mode() != "appservice":
            raise AssertionError("run under `fakemsi exec --mode appservice`")
        cls.mi = ManagedIdentityCredential()

    def app(self, tenant):
        return msal.ConfidentialClientApplication(
            fx.env("AZURE_CLIENT_ID"),
            authority=fx.env("AZURE_AUTHORITY_HOST") + "/" + tenant,
            client_credential={"client_assertion": lambda: self.mi.get_token(fx.TOKEN_EXCHANGE + "/.default").token},
            instance_discovery=False,
        )

    def test_consented_tenant(self):
        consented = fx.tenants()[0]
        result = self.app(consented).acquire_token_for_client([fx.GRAPH_SCOPE])
        self.assertIn("access_token", result, result.get("error_description"))
        c = fx.claims(result["access_token"])
        self.assertEqual(c["tid"], consented)
        self.assertIn("Device.Read.All", c.get("roles", []))
        status, body = fx.graph_devices(result["access_token"])
        self.assertEqual(status, 200, fx.redact(str(body)))
        self.assertGreater(len(body["value"]), 0)

    def test_cached_token_with_acquire_token_silent(self):
        # MSAL Python before 1.23 does not look in its cache in
        # acquire_token_for_client; acquire_token_silent(account=None) does.
        app = self.app(fx.tenants()[0])
        self.assertTrue(app.acquire_token_silent([fx.GRAPH_SCOPE], account=None) is None,
                        "a new app had a token in its cache")  # never print the result: it would hold the token
        first = app.acquire_token_for_client([fx.GRAPH_SCOPE])
        self.assertIn("access_token", first, first.get("error_description"))
        second = app.acquire_token_silent([fx.GRAPH_SCOPE], account=None)
        self.assertTrue(second and second.get("access_token") == first["access_token"],
                        "acquire_token_silent did not return the cached token")

    def test_unconsented_tenant_is_700016(self):
        result = self.app(fx.tenants()[1]).acquire_token_for_client([fx.GRAPH_SCOPE])
        self.assertFalse("access_token" in result, "the unconsented tenant issued a token")
        self.assertEqual(result.get("error_codes"), [700016], result.get("error_description"))


if __name__ == "__main__":
    unittest.main()
