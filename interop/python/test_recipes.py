"""Every client recipe of docs/fakemsi.md, run as written under `fakemsi
exec` (appservice mode): each must exit 0 and report the consented tenant's
devices. The Azure CLI's recipe needs the fake ARM and runs in
test_azure_cli."""

import os
import re
import shutil
import sys
import tempfile
import unittest

import fakemsi_env as fx

DEVICES = re.compile(r"^(\d+) devices$", re.M)


class RecipesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if fx.mode() != "appservice":
            raise AssertionError("run under `fakemsi exec --mode appservice`")
        cls.recipes = fx.recipes()

    def check(self, name, args, cwd=None):
        p = fx.run(args, cwd=cwd, timeout=300)
        out = fx.redact(p.stdout + p.stderr)
        self.assertEqual(p.returncode, 0, "recipe %s failed:\n%s" % (name, out))
        m = DEVICES.search(p.stdout)
        self.assertTrue(m and int(m.group(1)) > 0, "recipe %s printed no devices:\n%s" % (name, out))

    def write(self, dir, name, code):
        path = os.path.join(dir, name)
        with open(path, "w") as f:
            f.write(code + "\n")
        return path

    def test_every_client_has_a_recipe(self):
        self.assertEqual(sorted(self.recipes), ["az", "curl", "go", "msal", "node", "python"])

    def test_python(self):
        with tempfile.TemporaryDirectory() as d:
            self.check("python", [sys.executable, self.write(d, "devices.py", self.recipes["python"])])

    def test_msal(self):
        with tempfile.TemporaryDirectory() as d:
            self.check("msal", [sys.executable, self.write(d, "devices_msal.py", self.recipes["msal"])])

    def test_curl(self):
        with tempfile.TemporaryDirectory() as d:
            self.check("curl", ["bash", self.write(d, "devices.sh", self.recipes["curl"])])

    def test_go(self):
        # Inside the interop module, whose go.mod resolves tenantbridge to
        # this tree; a directory starting with _ is outside ./... patterns.
        interop = os.path.join(fx.ROOT, "interop")
        d = tempfile.mkdtemp(prefix="_recipe", dir=interop)
        try:
            self.write(d, "main.go", self.recipes["go"])
            self.check("go", ["go", "run", "./" + os.path.basename(d)], cwd=interop)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_node(self):
        js = os.path.join(fx.ROOT, "interop", "js")
        self.assertTrue(os.path.isdir(os.path.join(js, "node_modules", "@azure", "identity")),
                        "interop/js/node_modules lacks @azure/identity: run make interop-deps")
        fd, path = tempfile.mkstemp(prefix=".recipe-", suffix=".mjs", dir=js)  # resolves @azure/identity there
        os.close(fd)
        try:
            with open(path, "w") as f:
                f.write(self.recipes["node"] + "\n")
            self.check("node", ["node", path], cwd=js)
        finally:
            os.remove(path)


if __name__ == "__main__":
    unittest.main()
