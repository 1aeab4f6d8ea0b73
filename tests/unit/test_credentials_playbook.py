"""playbooks/credentials.yml hides the credentials, never the reason a run failed.

Run by FQCN with ansible-playbook (-v, so results are printed) against the simulator: a mistyped registry,
with and without a Secret manifest, shows the module's message; a Secret manifest that cannot be written shows
copy's message, and the credentials issued just before appear nowhere in the output.
"""

import base64
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import playbook_env

TOKEN = "dop_v1_credentials-playbook-token-0123456789abcdef"
HIDDEN = "the output has been hidden"


def credentials_playbook(tmp_path, extra):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: %s\n" % sys.executable)
    env = playbook_env(None, TOKEN)
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-v", "-i", str(inventory),
         "dockyard.docr.credentials", "-e", json.dumps(extra)],
        cwd=str(tmp_path), env=env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
    out = proc.stdout.decode("utf-8", "replace")
    assert TOKEN not in out
    return proc.returncode, out


def task_output(out, name):
    """What ansible-playbook printed for one task."""
    start = out.index("TASK [%s]" % name)
    end = out.find("TASK [", start + 1)
    return out[start:end if end >= 0 else len(out)]


@pytest.fixture
def account(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1"}]})
    return sim


@pytest.mark.parametrize("with_secret", [False, True], ids=["config-only", "with-secret-manifest"])
def test_mistyped_registry_shows_the_message(account, tmp_path, with_secret):
    extra = {"docr_api_url": account.url, "docr_credentials_registry": "acmee",
             "docr_credentials_dest": str(tmp_path / "config.json")}
    if with_secret:
        extra.update(docr_credentials_secret_name="pull", docr_credentials_secret_file=str(tmp_path / "secret.yml"))
    rc, out = credentials_playbook(tmp_path, extra)
    assert rc != 0, out
    assert "Registry 'acmee' (option registry) does not exist." in out, out
    assert "fatal: [localhost]: FAILED!" in out and "failed=1" in out, out
    if not with_secret:
        assert HIDDEN not in out, out          # nothing secret in this result: nothing hidden
    assert not (tmp_path / "config.json").exists() and account.state()["credentials"] == []


def test_secret_manifest_failure_shows_the_message_not_the_credentials(account, tmp_path):
    dest = tmp_path / "config.json"
    extra = {"docr_api_url": account.url, "docr_credentials_registry": "acme", "docr_credentials_dest": str(dest),
             "docr_credentials_secret_name": "pull",
             "docr_credentials_secret_file": str(tmp_path / "no-such-dir" / "secret.yml")}
    rc, out = credentials_playbook(tmp_path, extra)
    assert rc != 0, out
    assert "Write the Secret manifest: " in out and "no-such-dir" in out, out
    auth = json.loads(dest.read_text())["auths"]["registry.digitalocean.com"]["auth"]
    password = base64.b64decode(auth).decode().partition(":")[2]
    assert auth not in out and password not in out


def test_success_prints_no_credentials(account, tmp_path):
    dest = tmp_path / "config.json"
    secret = tmp_path / "secret.yml"
    extra = {"docr_api_url": account.url, "docr_credentials_registry": "acme", "docr_credentials_dest": str(dest),
             "docr_credentials_secret_name": "pull", "docr_credentials_secret_file": str(secret)}
    rc, out = credentials_playbook(tmp_path, extra)
    assert rc == 0, out
    auth = json.loads(dest.read_text())["auths"]["registry.digitalocean.com"]["auth"]
    assert "kubernetes.io/dockerconfigjson" in secret.read_text()
    assert auth not in out and base64.b64decode(auth).decode().partition(":")[2] not in out
    # without a Secret manifest the result holds no credentials, and is shown
    extra = {"docr_api_url": account.url, "docr_credentials_registry": "acme", "docr_credentials_dest": str(dest)}
    rc, out = credentials_playbook(tmp_path, extra)
    assert rc == 0 and HIDDEN not in task_output(out, "Issue the credentials into the docker config"), out
    assert '"issued": false' in out, out
    assert auth not in out
