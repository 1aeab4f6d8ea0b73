"""AWX / Automation Controller: the execution environment definition, the credential type, and
playbooks/site.yml run through ansible-runner with a private data dir laid out as AWX lays it out.

- ``ansible-builder create`` turns execution-environment.yml (with a collection tarball built from this
  tree) into a build context: no container runtime needed, nothing downloaded.
- docs/awx/credential_type.yml injects the token as DIGITALOCEAN_ACCESS_TOKEN, a variable the modules read.
- ansible-runner runs site.yml against the simulator with the token only in env/envvars (rendered
  from that credential type's injectors, as AWX does); the layout is checked in the simulator, the second
  run changes nothing, and the token appears in no file under artifacts/.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys

import ansible_runner
import jinja2
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "dockyard", "docr")
BIN = os.path.dirname(sys.executable)
CREDENTIAL_TYPE = os.path.join(REPO, "docs", "awx", "credential_type.yml")
TOKEN = "dop_v1_awx-runner-test-token-5f1e0c2b9a8d7e6f"


def expose_collection():
    if not os.path.exists(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        try:
            os.symlink(os.path.relpath(REPO, os.path.dirname(LINK)), LINK)
        except FileExistsError:
            pass


def galaxy_version():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["version"]


# ---- the execution environment --------------------------------------------------------------

def test_execution_environment_build_context(tmp_path):
    """ansible-builder create: a Containerfile that installs the collection tarball, pydo and requests."""
    with open(os.path.join(REPO, "execution-environment.yml")) as handle:
        definition = yaml.safe_load(handle)
    assert definition["version"] == 3
    wanted = "collections/dockyard-docr-%s.tar.gz" % galaxy_version()
    names = [c["name"] for c in definition["dependencies"]["galaxy"]["collections"]]
    assert names == [wanted], "execution-environment.yml must install the tarball of galaxy.yml's version (%s)" % wanted

    # the EE file and what it refers to, in a folder of their own (the tree's build/ is left alone)
    shutil.copy(os.path.join(REPO, "execution-environment.yml"), str(tmp_path))
    shutil.copy(os.path.join(REPO, "requirements.txt"), str(tmp_path))
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(tmp_path / "build" / "ee"), REPO], check=True, capture_output=True, timeout=120)
    context = tmp_path / "context"
    proc = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(tmp_path / "execution-environment.yml"),
                           "-c", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No matches" not in proc.stdout + proc.stderr      # the tarball was found and copied

    containerfile = (context / "Containerfile").read_text()
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert (context / "_build" / wanted).is_file()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": wanted, "type": "file"}]
    python = (context / "_build" / "requirements.txt").read_text()
    assert re.search(r"^pydo", python, re.M) and re.search(r"^requests", python, re.M)
    assert "ansible-core" in containerfile and "ansible-runner" in containerfile


# ---- the credential type -------------------------------------------------------------------

def load_credential_type():
    with open(CREDENTIAL_TYPE) as handle:
        return yaml.safe_load(handle)


def inject(credential_type, values):
    """What AWX puts in the job's environment for a credential of this type (its ``env`` injectors, rendered)."""
    fields = dict((f["id"], f.get("default", "")) for f in credential_type["inputs"]["fields"])
    fields.update(values)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return dict((key, env.from_string(template).render(**fields)) for key, template in credential_type["injectors"]["env"].items())


def test_credential_type_injects_the_token_the_modules_read():
    credential_type = load_credential_type()
    fields = dict((f["id"], f) for f in credential_type["inputs"]["fields"])
    assert fields["token"]["secret"] is True and fields["token"]["type"] == "string"
    assert credential_type["inputs"]["required"] == ["token"]
    assert credential_type["kind"] == "cloud"
    assert inject(credential_type, {"token": "abc"}) == {
        "DIGITALOCEAN_ACCESS_TOKEN": "abc", "DIGITALOCEAN_API_URL": "https://api.digitalocean.com"}
    # the variables are the ones the modules fall back to
    with open(os.path.join(REPO, "plugins", "module_utils", "_client.py")) as handle:
        client = handle.read()
    assert re.search(r'TOKEN_ENV_VARS = \("DIGITALOCEAN_ACCESS_TOKEN"', client)
    assert 'API_URL_ENV_VAR = "DIGITALOCEAN_API_URL"' in client


# ---- site.yml through ansible-runner, as an AWX job ------------------------------------------

LAYOUT = {
    "subscription_tier": "professional",
    "registries": [
        {"name": "awx-nyc3", "region": "nyc3", "clusters": ["awx-nyc3-a", "awx-nyc3-b"]},
        {"name": "awx-ams3", "region": "ams3", "clusters": ["awx-ams3-a"]},
    ],
}


def private_data_dir(root, sim_url):
    """The layout AWX gives ansible-runner: env/ (envvars, extravars, settings), inventory/, project/."""
    for folder in ("env", "inventory", "project"):
        (root / folder).mkdir(parents=True)
    envvars = inject(load_credential_type(), {"token": TOKEN, "api_url": sim_url})
    envvars.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (root / "env" / "extravars").write_text(yaml.safe_dump({"docr_layout": LAYOUT}))
    (root / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 300, "suppress_ansible_output": True}))
    (root / "inventory" / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    shutil.copy(os.path.join(REPO, "playbooks", "site.yml"), str(root / "project" / "site.yml"))


def run_job(root, ident, monkeypatch):
    # ansible-runner starts `ansible-playbook` from PATH: the one next to this Python
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
    return ansible_runner.run(private_data_dir=str(root), playbook="site.yml", ident=ident, quiet=True,
                              suppress_env_files=True)  # as AWX runs it (AWX_RUNNER_OMIT_ENV_FILES)


def files_containing(folder, needle):
    found = []
    for dirpath, _dirnames, filenames in os.walk(str(folder)):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                if needle.encode("utf-8") in handle.read():
                    found.append(os.path.relpath(path, str(folder)))
    return found


def test_site_playbook_through_ansible_runner(sim, tmp_path, monkeypatch):
    expose_collection()
    for name in ("DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_API_TOKEN", "DO_API_KEY", "DO_OAUTH_TOKEN",
                 "OAUTH_TOKEN", "DIGITALOCEAN_API_URL"):
        monkeypatch.delenv(name, raising=False)   # the token reaches the job through env/envvars only
    sim.seed({"subscription_tier": "basic", "clusters": [
        {"name": name, "region": name.split("-")[1], "registries": []}
        for name in ("awx-nyc3-a", "awx-nyc3-b", "awx-ams3-a", "other-fra1")]})
    root = tmp_path / "pdd"
    private_data_dir(root, sim.url)

    first = run_job(root, "job-1", monkeypatch)
    stdout = first.stdout.read()
    assert (first.status, first.rc) == ("successful", 0), stdout[-4000:]
    assert first.stats["changed"].get("localhost", 0) > 0

    state = sim.state()
    registries = dict((r["name"], r["region"]) for r in state["registries"])
    assert registries == {"awx-nyc3": "nyc3", "awx-ams3": "ams3"}
    assert state["subscription"]["tier_slug"] == "professional"
    clusters = dict((c["name"], sorted(c["registries"])) for c in state["clusters"])
    assert clusters == {"awx-nyc3-a": ["awx-nyc3"], "awx-nyc3-b": ["awx-nyc3"], "awx-ams3-a": ["awx-ams3"],
                        "other-fra1": []}

    # a scheduled re-run of the job: no change, no write
    sim.clear_requests()
    second = run_job(root, "job-2", monkeypatch)
    assert (second.status, second.rc) == ("successful", 0), second.stdout.read()[-4000:]
    assert second.stats["changed"].get("localhost", 0) == 0
    assert [r for r in sim.requests() if r["method"] != "GET"] == []

    artifacts = root / "artifacts"
    assert (artifacts / "job-1" / "stdout").is_file() and os.listdir(str(artifacts / "job-1" / "job_events"))
    for ident in ("job-1", "job-2"):
        assert_token_only_in_runner_env_dump(artifacts / ident)
    # nothing the job wrote holds the token: only what it was handed (env/envvars) and runner's env dump
    assert sorted(files_containing(root, TOKEN)) == sorted(
        [os.path.join("artifacts", "job-1", "command"), os.path.join("artifacts", "job-2", "command"),
         os.path.join("env", "envvars")])


def assert_token_only_in_runner_env_dump(folder):
    """Everything the job produced (stdout, stderr, events, status) is free of the token.

    ansible-runner itself (2.4) always writes ``command``: the command line, the cwd and its whole process
    environment, which holds the variables of env/envvars and so the token (mode 0600, as env/envvars). The
    token may be there only as the value of DIGITALOCEAN_ACCESS_TOKEN, nowhere else in it.
    """
    assert [name for name in files_containing(folder, TOKEN) if name != "command"] == []
    command_file = folder / "command"
    assert stat.S_IMODE(os.stat(str(command_file)).st_mode) == 0o600
    command = json.loads(command_file.read_text())
    assert command["env"].pop("DIGITALOCEAN_ACCESS_TOKEN") == TOKEN
    assert TOKEN not in json.dumps(command)


def test_runner_job_without_a_token_fails_clearly(sim, tmp_path, monkeypatch):
    """A job template whose credential is missing: the play fails naming the token, before any write."""
    expose_collection()
    for name in ("DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_API_TOKEN", "DO_API_KEY", "DO_OAUTH_TOKEN",
                 "OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    sim.seed({"subscription_tier": "basic", "clusters": [{"name": "awx-nyc3-a", "region": "nyc3"}]})
    root = tmp_path / "pdd"
    private_data_dir(root, sim.url)
    envvars = yaml.safe_load((root / "env" / "envvars").read_text())
    envvars["DIGITALOCEAN_ACCESS_TOKEN"] = ""     # the job template lost its credential
    (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    job = run_job(root, "job-1", monkeypatch)
    assert job.status == "failed" and job.rc != 0
    assert "No DigitalOcean API token" in job.stdout.read()
    assert sim.requests() == []
