"""AWX / Automation Controller: the execution environment definition, the credential type, and the
documented project run through ansible-runner with a private data dir laid out as AWX lays it out.

- ``ansible-builder create`` turns execution-environment.yml (with a collection tarball built from this
  tree) into a build context: no container runtime needed, nothing downloaded.
- docs/awx/credential_type.yml injects the token as DIGITALOCEAN_ACCESS_TOKEN, a variable the modules read.
  Its injectors are rendered as AWX renders them (``inject``): only the inputs the credential has (a field
  left empty or unset is not in the namespace; field defaults are a form hint, not an input), in a Jinja
  sandbox with the default ``Undefined``.
- The collection is installed from the tarball ``ansible-galaxy collection build`` makes, as the execution
  environment installs it; the project is the one docs/awx.md shows (its playbooks and inventory are read
  from the page), whose site.yml imports ``dockyard.docr.site``.
- ansible-runner runs that project against the simulator with the token only in env/envvars; the layout
  is checked in the simulator, the second run changes nothing, and the token appears in no file under
  artifacts/.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys

import ansible_runner
import pytest
import yaml
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
CREDENTIAL_TYPE = os.path.join(REPO, "docs", "awx", "credential_type.yml")
AWX_DOC = os.path.join(REPO, "docs", "awx.md")
TOKEN = "dop_v1_awx-runner-test-token-5f1e0c2b9a8d7e6f"
TOKEN_VARS = ("DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_API_TOKEN", "DO_API_KEY", "DO_OAUTH_TOKEN",
              "OAUTH_TOKEN")


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    """The collection as the execution environment has it: built into a tarball, installed from it."""
    root = tmp_path_factory.mktemp("ee")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(root / "dist"), REPO], check=True, capture_output=True, timeout=300)
    tarball = root / "dist" / ("dockyard-docr-%s.tar.gz" % galaxy_version())
    assert tarball.is_file()
    collections = root / "collections"
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p",
                           str(collections), str(tarball)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = collections / "ansible_collections" / "dockyard" / "docr"
    with open(str(installed / "MANIFEST.json")) as handle:
        assert json.load(handle)["collection_info"]["version"] == galaxy_version()
    assert not os.path.islink(str(installed)) and (installed / "playbooks" / "site.yml").is_file()
    return str(collections)


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
    # the base image's digest is given at build time (EE_BASE_IMAGE), which the Containerfile takes
    assert re.search(r"^ARG EE_BASE_IMAGE=", containerfile, re.M)


def test_execution_environment_pins_exact_versions():
    """Every package of the image at one exact version, within the ranges of requirements.txt."""
    from packaging.requirements import Requirement

    with open(os.path.join(REPO, "execution-environment.yml")) as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    pins = [dependencies["ansible_core"]["package_pip"], dependencies["ansible_runner"]["package_pip"]]
    pins += dependencies["python"]
    exact = {}
    for pin in pins:
        requirement = Requirement(pin)
        [spec] = list(requirement.specifier)
        assert spec.operator == "==" and re.match(r"^\d+\.\d+\.\d+$", spec.version), pin
        exact[requirement.name] = spec.version
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        ranges = [Requirement(line) for line in handle.read().splitlines() if line.strip() and not line.startswith("#")]
    assert ranges
    for requirement in ranges:
        assert requirement.name in exact, "execution-environment.yml does not pin %s" % requirement.name
        assert requirement.specifier.contains(exact[requirement.name]), (str(requirement), exact[requirement.name])
        assert any(s.operator == "<" for s in requirement.specifier), "%s has no upper bound" % requirement
    # the ansible-core the image gets is inside the range the collection declares
    with open(os.path.join(REPO, "meta", "runtime.yml")) as handle:
        requires = yaml.safe_load(handle)["requires_ansible"]
    assert all(Requirement("ansible-core" + part.strip()).specifier.contains(exact["ansible-core"])
               for part in requires.split(",")), requires


# ---- the credential type -------------------------------------------------------------------

def load_credential_type():
    with open(CREDENTIAL_TYPE) as handle:
        return yaml.safe_load(handle)


def inject(credential_type, inputs):
    """What AWX puts in the job's environment for a credential with these ``inputs`` (its ``env`` injectors).

    As AWX's ``inject_credential`` builds it: the namespace holds the credential's inputs that are set (a
    boolean field, even false; any other only when not empty), booleans missing from the credential as false,
    and ``tower``; a field's ``default`` is not in it (in AWX it only pre-fills the form). Templates render in
    an immutable Jinja sandbox with the default ``Undefined``, so a missing input renders as "".
    """
    namespace = {"tower": {}}
    for name, value in inputs.items():
        if isinstance(value, bool) or value:
            namespace[name] = value
    for field in credential_type["inputs"]["fields"]:
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
    sandbox = ImmutableSandboxedEnvironment()
    return dict((key, sandbox.from_string(template).render(**namespace))
                for key, template in credential_type["injectors"]["env"].items())


def test_credential_type_injects_the_token_the_modules_read():
    credential_type = load_credential_type()
    fields = dict((f["id"], f) for f in credential_type["inputs"]["fields"])
    assert fields["token"]["secret"] is True and fields["token"]["type"] == "string"
    assert credential_type["inputs"]["required"] == ["token"]
    assert credential_type["kind"] == "cloud"
    default_url = {"DIGITALOCEAN_ACCESS_TOKEN": "abc", "DIGITALOCEAN_API_URL": "https://api.digitalocean.com"}
    # a credential made as docs/awx.md shows (token only), or with the URL field cleared: the public API
    assert inject(credential_type, {"token": "abc"}) == default_url
    assert inject(credential_type, {"token": "abc", "api_url": ""}) == default_url
    assert inject(credential_type, {"token": "abc", "api_url": "http://127.0.0.1:8080"}) == {
        "DIGITALOCEAN_ACCESS_TOKEN": "abc", "DIGITALOCEAN_API_URL": "http://127.0.0.1:8080"}
    # the field's default says the same as the injector's fallback
    assert fields["api_url"]["default"] == "https://api.digitalocean.com"
    # AWX checks the injectors on save: every field defined (as "EXAMPLE"), undefined names are errors
    strict = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    for template in credential_type["injectors"]["env"].values():
        strict.from_string(template).render(**dict((f, "EXAMPLE") for f in fields))
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


def documented_project():
    """The project and inventory docs/awx.md tells the user to create: {file name: content}, inventory line."""
    with open(AWX_DOC) as handle:
        page = handle.read()
    playbooks = dict(re.findall(r"```yaml\n# (\w+\.yml)\n(.*?)```", page, re.S))
    assert sorted(playbooks) == ["gc.yml", "retention.yml", "site.yml"], sorted(playbooks)
    for name, text in playbooks.items():
        assert yaml.safe_load(text)[0]["ansible.builtin.import_playbook"] == "dockyard.docr." + name[:-4]
    [inventory] = re.findall(r"```ini\n(localhost .*?)\n```", page, re.S)
    return playbooks, inventory


def private_data_dir(root, inputs):
    """The layout AWX gives ansible-runner: env/ (envvars, extravars, settings), inventory/, project/."""
    for folder in ("env", "inventory", "project"):
        (root / folder).mkdir(parents=True)
    envvars = inject(load_credential_type(), inputs)
    envvars.update(
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    (root / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (root / "env" / "extravars").write_text(yaml.safe_dump({"docr_layout": LAYOUT}))
    (root / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 300, "suppress_ansible_output": True}))
    playbooks, inventory = documented_project()
    (root / "inventory" / "hosts").write_text(inventory + "\n")
    for name, text in playbooks.items():
        (root / "project" / name).write_text(text)


def run_job(root, ident, monkeypatch, collections):
    # The execution environment: ansible-playbook from PATH (the one next to this Python) and the collection
    # where the image installed it (here through ANSIBLE_COLLECTIONS_PATH, set in the image, not by the job).
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", collections)
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


def test_site_playbook_through_ansible_runner(sim, tmp_path, monkeypatch, installed_collection):
    for name in TOKEN_VARS + ("DIGITALOCEAN_API_URL",):
        monkeypatch.delenv(name, raising=False)   # the token reaches the job through env/envvars only
    sim.seed({"subscription_tier": "basic", "clusters": [
        {"name": name, "region": name.split("-")[1], "registries": []}
        for name in ("awx-nyc3-a", "awx-nyc3-b", "awx-ams3-a", "other-fra1")]})
    root = tmp_path / "pdd"
    private_data_dir(root, {"token": TOKEN, "api_url": sim.url})

    first = run_job(root, "job-1", monkeypatch, installed_collection)
    stdout = first.stdout.read()
    assert (first.status, first.rc) == ("successful", 0), stdout[-4000:]
    assert first.stats["changed"].get("localhost", 0) > 0
    # the project's site.yml imported the collection's playbook, and its tasks ran from the installed tarball
    assert "PLAY [Apply a DOCR registry layout]" in stdout, stdout[-4000:]
    task_paths = set(e["event_data"].get("task_path", "").split(":")[0] for e in first.events
                     if e.get("event") == "playbook_on_task_start")
    assert task_paths and all(path.startswith(installed_collection + os.sep) for path in task_paths), task_paths

    state = sim.state()
    registries = dict((r["name"], r["region"]) for r in state["registries"])
    assert registries == {"awx-nyc3": "nyc3", "awx-ams3": "ams3"}
    assert state["subscription"]["tier_slug"] == "professional"
    clusters = dict((c["name"], sorted(c["registries"])) for c in state["clusters"])
    assert clusters == {"awx-nyc3-a": ["awx-nyc3"], "awx-nyc3-b": ["awx-nyc3"], "awx-ams3-a": ["awx-ams3"],
                        "other-fra1": []}

    # a scheduled re-run of the job: no change, no write
    sim.clear_requests()
    second = run_job(root, "job-2", monkeypatch, installed_collection)
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


def test_runner_job_without_a_token_fails_clearly(sim, tmp_path, monkeypatch, installed_collection):
    """A job template whose credential is missing: the play fails naming the token, before any write."""
    for name in TOKEN_VARS:
        monkeypatch.delenv(name, raising=False)
    sim.seed({"subscription_tier": "basic", "clusters": [{"name": "awx-nyc3-a", "region": "nyc3"}]})
    root = tmp_path / "pdd"
    private_data_dir(root, {"token": "", "api_url": sim.url})     # the credential has no token
    assert "DIGITALOCEAN_ACCESS_TOKEN: ''" in (root / "env" / "envvars").read_text()
    job = run_job(root, "job-1", monkeypatch, installed_collection)
    assert job.status == "failed" and job.rc != 0
    assert "No DigitalOcean API token" in job.stdout.read()
    assert sim.requests() == []
