"""The Azure CLI (Debian's azure-cli, 2.45) against the emulator, with
nothing set by hand but its own configuration directory:

- `az login --identity` uses the App Service protocol (api-version
  2017-09-01 with the secret header) because the block sets
  APPSETTING_WEBSITE_SITE_NAME, as App Service does, and parses the
  24-hour expires_on the fake sends, as App Service on Linux does;
- it then lists subscriptions from Azure Resource Manager: the CLI is pointed
  at the fake ARM (FAKEMSI_ARM_URL) by registering a cloud in a temporary
  AZURE_CONFIG_DIR (`az cloud register`, a documented command), never in
  ~/.azure;
- requests, under the CLI, trusts the emulator through REQUESTS_CA_BUNDLE.
"""

import json
import os
import shutil
import tempfile
import unittest

from azure.identity import ClientAssertionCredential

import fakemsi_env as fx

AZ = os.environ.get("AZ", "/usr/bin/az")


class AzureCLITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if fx.mode() != "appservice":
            raise AssertionError("run under `fakemsi exec --mode appservice`")
        arm = fx.env("FAKEMSI_ARM_URL").rstrip("/")
        cls.dir = tempfile.mkdtemp(prefix="az-config-")
        cls.env = dict(os.environ, AZURE_CONFIG_DIR=cls.dir, AZURE_CORE_COLLECT_TELEMETRY="no",
                       AZURE_CORE_NO_COLOR="yes", AZURE_CORE_SURVEY_MESSAGE="no")
        cls.az("cloud", "register", "--name", "FakeMSI",
               "--endpoint-resource-manager", arm + "/",
               "--endpoint-active-directory", fx.env("AZURE_AUTHORITY_HOST"),
               "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
               "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/")
        cls.az("cloud", "set", "--name", "FakeMSI")
        cls.login = json.loads(cls.az("login", "--identity", "--allow-no-subscriptions", "-o", "json"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def az(cls, *args):
        p = fx.run([AZ, *args], env=cls.env)
        if p.returncode != 0:
            raise AssertionError("az %s: exit %d\n%s" % (" ".join(args[:3]), p.returncode, fx.redact(p.stderr)))
        return p.stdout

    def test_login_with_the_managed_identity(self):
        self.assertGreater(len(self.login), 0, "az login listed nothing")
        for acct in self.login:
            self.assertEqual(acct["user"]["type"], "servicePrincipal")
            self.assertEqual(acct["user"]["name"], "systemAssignedIdentity")

    def test_subscriptions_listed(self):
        subs = json.loads(self.az("account", "list", "-o", "json"))
        self.assertTrue(any(s.get("id") and s.get("tenantId") for s in subs), json.dumps(subs))

    def test_access_token_for_token_exchange(self):
        out = json.loads(self.az("account", "get-access-token", "--resource", fx.TOKEN_EXCHANGE, "-o", "json"))
        c = fx.claims(out["accessToken"])
        self.assertEqual((c["aud"], c["sub"], c["tid"]), (fx.TOKEN_EXCHANGE, fx.SYSTEM_IDENTITY_OBJECT_ID, fx.HOME_TENANT))
        # The CLI's assertion is as good as any: trade it in the consented tenant.
        token = ClientAssertionCredential(fx.tenants()[0], fx.env("AZURE_CLIENT_ID"),
                                          lambda: out["accessToken"]).get_token(fx.GRAPH_SCOPE).token
        self.assertEqual(fx.claims(token)["tid"], fx.tenants()[0])

    def test_doc_recipe(self):
        # docs/fakemsi.md's recipe, as written, in a fresh configuration
        # directory of its own.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "az-login.sh")
            with open(path, "w") as f:
                f.write(fx.recipes()["az"] + "\n")
            env = dict(os.environ, PATH=os.path.dirname(AZ) + os.pathsep + os.environ.get("PATH", ""),
                       AZURE_CORE_COLLECT_TELEMETRY="no")
            p = fx.run(["bash", path], env=env, timeout=300)
            self.assertEqual(p.returncode, 0, fx.redact(p.stdout + p.stderr))
            lines = p.stdout.strip().splitlines()
            self.assertGreaterEqual(len(lines), 2, fx.redact(p.stdout))


if __name__ == "__main__":
    unittest.main()
