"""Registry names: DigitalOcean's documented rule, in one place, refused before any API call.

The rule (https://docs.digitalocean.com/products/container-registry/details/limits/): at most 63
characters, lowercase letters, digits and '-', beginning with a letter and ending with a letter or
digit. The spec's own pattern (^[a-z0-9-]{1,63}$) is looser: 9reg, -x and reg- pass it.
"""

import os

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _registry as reg
from ansible_collections.dockyard.docr.plugins.modules import (
    docr_credentials,
    docr_doks_integration,
    docr_gc,
    docr_gc_info,
    docr_registry,
    docr_registry_info,
    docr_retention,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOOD = ["a", "a1", "acme", "acme-nyc3", "a-b-c", "x" * 63, "r" + "0" * 62]
BAD = ["", "9reg", "-x", "reg-", "Acme", "ac_me", "ac.me", "x" * 64, "acme\n", "acme\r\n", " acme", "acme ", "0"]


@pytest.mark.parametrize("name", GOOD)
def test_good_names(name):
    assert reg.check_name(name) is None


@pytest.mark.parametrize("name", BAD + [None, 7, ["acme"]], ids=repr)
def test_bad_names(name):
    problem = reg.check_name(name, "registry")
    assert problem and problem.startswith("registry ") and "beginning with a letter" in problem


def _read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return handle.read()


def test_every_copy_of_the_rule_is_the_same_rule():
    """The rule is written once in module_utils; the few places that cannot import it repeat its exact text."""
    rule = reg.NAME_RULE
    copies = {
        "roles/gc_schedule/files/docr_gc_run.py": rule,
        "tests/simulator/model.py": rule,
    }
    for path, text in copies.items():
        assert text in _read(path), path
    # and no older, looser copy is left anywhere in the product
    for folder in ("plugins", "roles", "playbooks"):
        for root, _dirs, files in os.walk(os.path.join(REPO, folder)):
            for name in files:
                content = _read(os.path.relpath(os.path.join(root, name), REPO))
                assert "[a-z0-9-]{1,63}" not in content, os.path.join(root, name)


def test_simulator_refuses_what_the_rule_refuses(sim):
    """The simulator answers 422 (before any other check) for names the documented rule refuses."""
    import requests  # pylint: disable=import-outside-toplevel
    http = requests.Session()
    http.trust_env = False
    headers = {"Authorization": "Bearer t"}
    for name in ("9reg", "-x", "reg-", "0"):  # all valid for the spec's pattern
        response = http.post(sim.url + "/v2/registries/validate-name", json={"name": name}, headers=headers, timeout=10)
        assert response.status_code == 422 and "beginning with a letter" in response.json()["message"], name
    assert http.post(sim.url + "/v2/registries/validate-name", json={"name": "a0"}, headers=headers, timeout=10).status_code == 204


# (module, args with the bad name, the option the message must name)
MODULES = [
    (docr_registry, lambda n: dict(name=n, region="nyc3", subscription_tier="basic"), "name"),
    (docr_registry, lambda n: dict(name=n, state="absent"), "name"),
    (docr_registry_info, lambda n: dict(name=n), "name"),
    (docr_gc, lambda n: dict(registry=n), "registry"),
    (docr_gc_info, lambda n: dict(registry=n), "registry"),
    (docr_credentials, lambda n: dict(registry=n), "registry"),
    (docr_retention, lambda n: dict(registry=n, keep_last=1), "registry"),
    (docr_doks_integration, lambda n: dict(clusters=["c"], registries=[n]), "registries"),
    (docr_doks_integration, lambda n: dict(integrations=[dict(registry=n, clusters=["c"])]), "integrations[0].registry"),
]


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
@pytest.mark.parametrize("name", ["9reg", "-x", "reg-", "acme\n"], ids=repr)
@pytest.mark.parametrize("module, make, option", MODULES,
                         ids=["%s-%s" % (m.__name__.rsplit(".", 1)[-1], o) for m, _mk, o in MODULES])
def test_refused_before_any_api_call(sim, api, run_module, module, make, option, name, check_mode):
    sim.clear_requests()
    res = run_module(module, dict(api, **make(name)), check_mode=check_mode)
    assert res["failed"], res
    assert res["msg"].startswith(option + " "), res["msg"]
    assert "beginning with a letter" in res["msg"]
    assert sim.requests() == []
