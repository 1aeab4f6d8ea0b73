"""Secrets: every module and every playbook of the collection run with -vvv against the simulator; all the
output, the Ansible log, the files the runs generated (summaries, systemd units, the Kubernetes manifest,
the wrapper) and the crontab are scanned for the API token and for the docker credentials the runs issued.
Nothing may match, except the files whose purpose is to hold them (the docker config files and the Secret
manifest asked for, and gc_schedule's token env file, which must be mode 0600)."""

import base64
import json
import os
import shutil
import stat
import subprocess
import sys

from faults_support import COLLECTIONS, REPO, TOKEN, playbook_env  # pylint: disable=import-error

STEP = 30.0   # simulated seconds the stopped clock moves per API request
REGIONS = ("nyc3", "sfo3", "ams3")

PLAYBOOK = """
- name: Layout
  ansible.builtin.import_playbook: dockyard.docr.site

- name: Every module
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Registry
      dockyard.docr.docr_registry:
        name: acme-nyc3
        region: nyc3
        subscription_tier: professional
    - name: Registry info
      dockyard.docr.docr_registry_info:
        repositories: true
    - name: Integration
      dockyard.docr.docr_doks_integration:
        integrations:
          - {registry: acme-nyc3, clusters: [prod-nyc3-a]}
    - name: Integration info
      dockyard.docr.docr_doks_integration_info:
    - name: Credentials into a docker config
      dockyard.docr.docr_credentials:
        registry: acme-nyc3
        read_write: true
        dest: "{{ base }}/docker/config.json"
    - name: Credentials returned, hidden by no_log
      dockyard.docr.docr_credentials:
        registry: acme-nyc3
        return_docker_config: true
        kubernetes_secret: {name: pull}
      no_log: true
    - name: Retention, check mode and diff
      dockyard.docr.docr_retention:
        registry: acme-nyc3
        keep_last: 1
      check_mode: true
      diff: true
    - name: GC, started and waited on
      dockyard.docr.docr_gc:
        registry: acme-nyc3
        poll_interval: 0.05
        history: 3
    - name: GC info
      dockyard.docr.docr_gc_info:
        registry: acme-nyc3
    - name: GC cancel (nothing active)
      dockyard.docr.docr_gc:
        registry: acme-nyc3
        state: cancelled
    - name: A failing API call
      dockyard.docr.docr_credentials:
        registry: nope
      ignore_errors: true
    - name: A failing argument check
      dockyard.docr.docr_credentials:
        registry: acme-nyc3
        kubernetes_secret: pull
      ignore_errors: true
    - name: A failing module with a bad URL
      dockyard.docr.docr_registry_info:
        api_url: "http://example.com"
      ignore_errors: true

- name: GC playbook
  ansible.builtin.import_playbook: dockyard.docr.gc

- name: Retention playbook
  ansible.builtin.import_playbook: dockyard.docr.retention

- name: Credentials playbook
  ansible.builtin.import_playbook: dockyard.docr.credentials

- name: Scheduled GC, deployed into a directory
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply gc_schedule (systemd units only written; Kubernetes manifest only rendered)
      ansible.builtin.include_role:
        name: dockyard.docr.gc_schedule
      vars:
        gc_schedule_backend: "{{ backend }}"
        gc_schedule_registries: [acme-nyc3, {name: acme-sfo3, retention: {keep_last: 2}}]
        gc_schedule_token: "{{ lookup('ansible.builtin.env', 'DIGITALOCEAN_ACCESS_TOKEN') }}"
        gc_schedule_api_url: "{{ lookup('ansible.builtin.env', 'DIGITALOCEAN_API_URL') }}"
        gc_schedule_base_dir: "{{ base }}/docr-gc"
        gc_schedule_install: false
        gc_schedule_python: "{{ ansible_playbook_python }}"
        gc_schedule_collections_path: "{{ collections }}"
        gc_schedule_systemd_dir: "{{ base }}/systemd"
        gc_schedule_systemd_manage: false
        gc_schedule_k8s_apply: never
        gc_schedule_k8s_image: registry.example/docr-gc:1
        gc_schedule_k8s_manifest_path: "{{ base }}/k8s/cronjobs.yml"
      loop: [systemd, kubernetes]
      loop_control:
        loop_var: backend
"""


def cluster_id(name):
    import hashlib
    return "c0ffee00-5e1e-4205-a714-%s" % hashlib.md5(name.encode()).hexdigest()[:12]


def secrets_of(config_path):
    """The issued credentials in a docker config file: the auth value and the password inside it."""
    config = json.loads(config_path.read_text())
    found = set()
    for entry in config["auths"].values():
        auth = entry["auth"]
        found.add(auth)
        user, _sep, password = base64.b64decode(auth).decode().partition(":")
        found.add(password)
        if len(user) >= 12:
            found.add(user)
    return found


def test_nothing_secret_in_any_output(sim, tmp_path):
    now = sim.now()[:19] + "Z"
    sim.seed(dict(
        subscription_tier="basic",
        registries=[dict(name="acme-nyc3", region="nyc3", repositories=[dict(name="web", manifests=[
            dict(size_bytes=100 + n, tags=["b%d" % n], updated_at=now) for n in range(3)] + [dict(size_bytes=50, tags=[])])])],
        clusters=[dict(id=cluster_id("prod-%s-%s" % (r, s)), name="prod-%s-%s" % (r, s), region=r, registries=[])
                  for r in REGIONS for s in ("a", "b")],
    ))
    sim.step_clock(STEP)
    base = tmp_path / "out"
    base.mkdir()
    (base / "systemd").mkdir()
    play = tmp_path / "every.yml"
    play.write_text(PLAYBOOK)
    variables = dict(
        base=str(base), collections=COLLECTIONS, ansible_python_interpreter=sys.executable,
        docr_layout=dict(subscription_tier="professional", registries=[
            dict(name="acme-%s" % r, region=r, clusters=["prod-%s-a" % r, "prod-%s-b" % r]) for r in REGIONS]),
        docr_gc_registries=["acme-sfo3"], docr_gc_poll_interval=0.05, docr_gc_summary_file=str(base / "gc.jsonl"),
        docr_retention_registries=[dict(name="acme-nyc3", keep_last=1)],
        docr_retention_summary_file=str(base / "retention.jsonl"),
        docr_credentials_registry="acme-nyc3", docr_credentials_dest=str(base / "docker2" / "config.json"),
        docr_credentials_secret_file=str(base / "secret.yml"), docr_credentials_secret_name="pull",
    )
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(variables))
    log = base / "ansible.log"
    env = playbook_env(sim.url, TOKEN, base, ANSIBLE_REMOTE_TMP=str(base / ".remote-tmp"), ANSIBLE_LOG_PATH=str(log))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-vvv", "-i", "localhost,", str(play),
         "-e", "@" + str(vars_file)],
        env=env, capture_output=True, text=True, timeout=240, cwd=str(tmp_path), check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    assert "PLAY RECAP" in output and "failed=0" in output

    # what the runs did (so the scan below scans real output)
    state = sim.state()
    assert sorted(r["name"] for r in state["registries"]) == ["acme-ams3", "acme-nyc3", "acme-sfo3"]
    assert len(state["credentials"]) >= 3 and len(state["gcs"]) == 2

    # the secrets: the token, and every credential issued (from the files meant to hold them)
    intended = [base / "docker" / "config.json", base / "docker2" / "config.json", base / "secret.yml",
                base / "docr-gc" / "etc" / "token.env"]
    secrets = {TOKEN}
    secrets |= secrets_of(intended[0]) | secrets_of(intended[1])
    assert len(secrets) >= 5
    for path in intended:
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600, path
    assert TOKEN in intended[3].read_text()

    def leaks(text):
        return sorted(secret[:6] + "..." for secret in secrets if secret in text)

    assert leaks(output) == [], "secret in the -vvv output"
    assert log.exists() and leaks(log.read_text()) == [], "secret in the Ansible log"
    scanned = []
    for path in sorted(base.rglob("*")):
        if path.is_file() and path not in intended:
            scanned.append(path.relative_to(base).as_posix())
            assert leaks(path.read_text(errors="replace")) == [], "secret in %s" % path
    for expected in ("gc.jsonl", "retention.jsonl", "ansible.log", "k8s/cronjobs.yml", "docr-gc/bin/docr-gc-run"):
        assert expected in scanned, scanned
    assert any(name.startswith("systemd/") for name in scanned), scanned
    if shutil.which("crontab"):
        crontab = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
        assert leaks(crontab.stdout) == []
    # the process list: no argument of a running process holds the token (none of ours should still run)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False)
    assert leaks(ps.stdout) == []
    assert REPO  # the collection under test is the working tree


# ---- a token with surrounding whitespace (a YAML block scalar, a file lookup): never in a failure message --------

WRAPPED_PLAY = """
- name: Failures with a whitespace-wrapped token
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/dockyard.docr.docr:
      token: "{{ wrapped_token }}"
      http_retries: 1
      http_timeout: 1
  tasks:
    - name: A registry that does not exist (404 message)
      dockyard.docr.docr_credentials:
        registry: nope
      ignore_errors: true
    - name: A 503 storm (API error message)
      dockyard.docr.docr_registry_info:
      ignore_errors: true
    - name: A dropped connection (exception text)
      dockyard.docr.docr_gc_info:
        registry: acme
      ignore_errors: true
    - name: Nothing listens there (connection refused, exception text)
      dockyard.docr.docr_registry_info:
        api_url: "http://127.0.0.1:9"
        http_retries: 0
      ignore_errors: true
    - name: A bad option next to the token
      dockyard.docr.docr_gc:
        registry: acme
        poll_interval: nan
      ignore_errors: true
    - name: A success, for contrast (the stripped token works)
      dockyard.docr.docr_registry:
        name: acme
"""


def test_whitespace_wrapped_token_never_in_failure_messages(sim, playbook, tmp_path):
    path = tmp_path / "wrapped.yml"
    path.write_text(WRAPPED_PLAY)
    for number, wrapped in enumerate(("%s\n" % TOKEN, "  %s \t\n" % TOKEN)):
        sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1")], tokens=[dict(token=TOKEN)]))
        sim.fault(method="GET", path_regex="^/v2/registries$", status=503, times=2)
        sim.fault(method="GET", path_regex="garbage-collections?$", drop=True, times=4)
        log = tmp_path / ("ansible-%d.log" % number)
        run = playbook(path, dict(wrapped_token=wrapped), verbosity=3, log=log)
        output = run.out + run.err + log.read_text()
        for needle in (TOKEN, TOKEN[:20], TOKEN[-16:], repr(wrapped)[1:-1]):
            assert needle not in output, "token in the output: %s" % output[output.find(needle) - 300:][:600]
        assert "Bearer" not in output, run
        assert run.rc == 0, run
        assert "ignored=5" in run.out, run
        assert "failed=0" in run.out and "changed=0" in run.out, run
