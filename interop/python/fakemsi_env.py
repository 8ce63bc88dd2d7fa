"""What the Python interop tests share: the environment block that
`fakemsi exec` sets, and helpers that never print a token.

The tests run under `fakemsi exec --mode MODE -- /usr/bin/python3 -m
unittest ...` (see run.sh): they read only the variables an Azure host would
set, plus FAKEMSI_TENANTS and FAKEMSI_GRAPH_URL to know where to look.
"""

import base64
import json
import logging
import os
import re
import subprocess

TOKEN_EXCHANGE = "api://AzureADTokenExchange"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"

# The default scenario's IDs (fakeidp.Default...).
HOME_TENANT = "11111111-1111-1111-1111-111111111111"
CONSENTED_TENANT = "22222222-2222-2222-2222-222222222222"
UNCONSENTED_TENANT = "33333333-3333-3333-3333-333333333333"
APP_CLIENT_ID = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
SYSTEM_IDENTITY_OBJECT_ID = "bbbbbbbb-0000-0000-0000-000000000001"
SYSTEM_IDENTITY_CLIENT_ID = "bbbbbbbb-0000-0000-0000-000000000002"

# azure-identity logs every failed get_token at WARNING through Python's
# last-resort handler; the tests that expect AADSTS700016 would fill the
# output with it. Failures still reach the tests as exceptions.
logging.getLogger("azure").addHandler(logging.NullHandler())
logging.getLogger("azure").propagate = False

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def env(name):
    """The variable's value; a missing one is a failure, not a skip."""
    value = os.environ.get(name)
    if not value:
        raise AssertionError(name + " is not set: run under `fakemsi exec`")
    return value


def mode():
    """The mode of the block, from the variables it sets."""
    if os.environ.get("IDENTITY_ENDPOINT"):
        return "appservice"
    if os.environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        return "imds"
    if os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        return "workload"
    return ""


def tenants():
    """Remote tenants: consented first."""
    return env("FAKEMSI_TENANTS").split(",")


def claims(token):
    """The claims of a JWT, unverified (the fakes verify; we only look)."""
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def redact(text):
    """Text with anything shaped like a JWT replaced, for failure messages."""
    return _JWT.sub("[jwt redacted]", text or "")


def graph_devices(token, tenant_hint=""):
    """GET {FAKEMSI_GRAPH_URL}/devices with plain requests, as any Python
    program would call Graph; requests trusts the emulator through
    REQUESTS_CA_BUNDLE. Returns (status, body)."""
    import requests

    r = requests.get(env("FAKEMSI_GRAPH_URL") + "/devices",
                     headers={"Authorization": "Bearer " + token}, timeout=30)
    return r.status_code, r.json()


def run(args, timeout=120, **kw):
    """Runs a program; returns CompletedProcess with text output. The caller
    reports failures through redact()."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_RECIPE = re.compile(r"<!-- recipe: ([a-z-]+) -->\n```[a-z]*\n(.*?)\n```", re.S)


def recipes():
    """The blocks of docs/fakemsi.md marked <!-- recipe: NAME -->, by name."""
    with open(os.path.join(ROOT, "docs", "fakemsi.md")) as f:
        return dict(_RECIPE.findall(f.read()))
