"""The gc_schedule role, run by ansible-playbook into a temporary directory (systemd units only written,
the Kubernetes manifest only rendered; cron is covered by the molecule scenario), and its wrapper run
by hand against the simulator."""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
BIN = os.path.dirname(sys.executable)
TOKEN = "dop_v1_gc-schedule-secret-token-fedcba9876543210"

PLAY = """
- name: gc_schedule under test
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply the role
      ansible.builtin.include_role:
        name: dockyard.docr.gc_schedule
      vars:
        gc_schedule_base_dir: "{{ base }}/docr-gc"
        gc_schedule_install: false
        gc_schedule_python: "{{ ansible_playbook_python }}"
        gc_schedule_collections_path: "{{ collections }}"
        gc_schedule_systemd_dir: "{{ base }}/systemd"
        gc_schedule_systemd_manage: false
        gc_schedule_k8s_apply: never
        gc_schedule_k8s_manifest_path: "{{ base }}/k8s/cronjobs.yml"
"""

BAD = """
- name: gc_schedule refuses bad settings before deploying anything
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Try each bad setting
      ansible.builtin.include_tasks: one_bad.yml
      loop: "{{ cases }}"
      loop_control:
        loop_var: case
    - name: Save the outcomes
      ansible.builtin.copy:
        content: "{{ outcomes | to_json }}"
        dest: "{{ base }}/outcomes.json"
        mode: "0644"
"""

ONE_BAD = """
- name: Try one
  block:
    - name: Apply the role
      ansible.builtin.include_role:
        name: dockyard.docr.gc_schedule
      vars:
        gc_schedule_base_dir: "{{ case.base_dir | default(base ~ '/docr-gc') }}"
        gc_schedule_state: "{{ case.state | default('present') }}"
        gc_schedule_install: false
        gc_schedule_python: "{{ ansible_playbook_python }}"
        gc_schedule_systemd_dir: "{{ base }}/systemd"
        gc_schedule_systemd_manage: false
        gc_schedule_registries: "{{ case.registries | default(['acme']) }}"
        gc_schedule_token: "{{ case.token | default('x') }}"
        gc_schedule_backend: "{{ case.backend | default('systemd') }}"
        gc_schedule_weekday: "{{ case.weekday | default(0) }}"
        gc_schedule_hour: "{{ case.hour | default(3) }}"
        gc_schedule_timezone: "{{ case.timezone | default('') }}"
        gc_schedule_k8s_image: "{{ case.image | default('') }}"
        gc_schedule_k8s_apply: "{{ case.k8s_apply | default('never') }}"
    - name: Record an unexpected success
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | default([]) + ['accepted'] }}"
  rescue:
    - name: Record the refusal
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | default([]) + [ansible_failed_result.msg] }}"
"""


def playbook(tmp_path, extra, play=PLAY, check=True, flags=()):
    (tmp_path / "play.yml").write_text(play)
    (tmp_path / "one_bad.yml").write_text(ONE_BAD)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"), ANSIBLE_HOME=str(tmp_path / ".ansible"))
    variables = dict(base=str(tmp_path), collections=COLLECTIONS, ansible_python_interpreter=sys.executable)
    variables.update(extra)
    proc = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-e", json.dumps(variables), "play.yml"] + list(flags),
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:]
    return proc


def recap_changed(output):
    line = [l for l in output.splitlines() if l.startswith("localhost") and "changed=" in l][-1]
    return int(line.split("changed=")[1].split()[0])


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


REGISTRIES = ["acme", {"name": "acme-eu", "min_interval": "7d", "retention": {"keep_last": 2}}]


def test_kubernetes_backend_renders_cronjobs(tmp_path):
    yaml = pytest.importorskip("yaml")
    args = dict(gc_schedule_backend="kubernetes", gc_schedule_registries=REGISTRIES,
                gc_schedule_k8s_image="ghcr.io/acme/docr-gc:1", gc_schedule_timezone="Europe/Paris")
    playbook(tmp_path, args)
    docs = [d for d in yaml.safe_load_all((tmp_path / "k8s" / "cronjobs.yml").read_text()) if d]
    # valid CronJobs for a current Kubernetes (strict: no unknown field), checked offline against its schema
    from k8s_schema import manifest_problems  # pylint: disable=import-outside-toplevel
    assert manifest_problems(docs) == []
    broken = json.loads(json.dumps(docs[0]))
    broken["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["envv"] = []
    broken["spec"]["concurrencyPolicy"] = 3
    assert len(manifest_problems([broken])) == 1
    assert docs[0]["metadata"]["labels"]["dockyard.docr/deployment"] == "docr-gc"
    assert [d["metadata"]["name"] for d in docs] == ["docr-gc-acme", "docr-gc-acme-eu"]
    spec = docs[1]["spec"]
    assert spec["schedule"] == "5 3 * * 0" and spec["timeZone"] == "Europe/Paris"
    assert spec["concurrencyPolicy"] == "Forbid"
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = dict((e["name"], e) for e in container["env"])
    assert env["DIGITALOCEAN_ACCESS_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "docr-gc-token", "key": "token"}
    assert json.loads(env["DOCR_RETENTION_VARS"]["value"])["docr_retention_registries"][0]["keep_last"] == 2
    assert json.loads(env["DOCR_GC_VARS"]["value"])["docr_gc_registries"][0]["name"] == "acme-eu"
    assert recap_changed(playbook(tmp_path, args).stdout) == 0
    playbook(tmp_path, dict(args, gc_schedule_state="absent"))
    assert not (tmp_path / "k8s" / "cronjobs.yml").exists()


def test_bad_settings_fail_before_anything_is_deployed(tmp_path):
    unmarked = tmp_path / "someone-elses"
    unmarked.mkdir()
    (unmarked / "keep").write_text("not the role's")
    cases = [
        dict(backend="anacron"),
        dict(weekday=7),
        dict(hour=24),
        dict(registries=["Bad_Name"]),
        dict(registries=["acme", "acme"]),
        dict(registries=[{"name": "acme", "retention": {"protect": ["^v"]}}]),
        dict(token=""),
        dict(timezone="Mars/Olympus_Mons"),
        dict(backend="kubernetes"),
        dict(registries=[{"name": "acme", "type": "bogus", "min_interval": "1 week", "quiet_period": "soon"},
                         {"name": "eu", "retention": {"keep_last": 2, "protect": ["("]}}]),
        dict(base_dir="/tmp/.", state="absent"),
        dict(base_dir="/etc/.", state="absent"),
        dict(base_dir="/opt/.", state="absent"),
        dict(base_dir="/", state="absent"),
        dict(base_dir="/opt", state="absent"),
        dict(base_dir="/var/lib/../lib", state="absent"),
        dict(base_dir=str(unmarked), state="absent"),
        dict(base_dir=str(unmarked)),
        dict(backend="kubernetes", image="ghcr.io/acme/docr-gc:1", k8s_apply="always"),
    ]
    proc = playbook(tmp_path, dict(cases=cases), play=BAD)
    outcomes = json.loads((tmp_path / "outcomes.json").read_text())
    assert len(outcomes) == len(cases), proc.stdout[-3000:]
    assert "accepted" not in outcomes, outcomes
    assert "gc_schedule_backend" in outcomes[0] and "gc_schedule_weekday" in outcomes[1]
    assert "gc_schedule_hour" in outcomes[2] and "Bad_Name" in outcomes[3]
    assert "Mars/Olympus_Mons" in outcomes[7]
    options = outcomes[9]
    for needle in ["registry 'acme'", "value of type", "quiet_period 'soon'", "min_interval '1 week'",
                   "registry 'eu': retention: protect"]:
        assert needle in options, options
    for index in range(10, 16):
        assert "gc_schedule_base_dir" in outcomes[index] and "normalised" in outcomes[index], outcomes[index]
    assert "not created by gc_schedule" in outcomes[16] and "not created by gc_schedule" in outcomes[17]
    assert (unmarked / "keep").exists()  # refused, not removed
    listed = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "kubernetes.core"],
                            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, check=False).stdout
    if "kubernetes.core" not in listed:  # the optional dependency is missing: a clear failure naming it
        assert "kubernetes.core collection" in outcomes[18] and "gc_schedule_k8s_apply" in outcomes[18], outcomes[18]
    assert not (tmp_path / "docr-gc").exists() and not (tmp_path / "systemd").exists()


def test_systemd_deploy_then_run_the_wrapper_against_the_simulator(tmp_path, sim):
    """Converge (systemd units only written), idempotence, files and modes, the wrapper run by hand
    (retention then GC in the simulator, JSON log, metrics), the lock, a failure, then state=absent."""
    sim.seed(dict(
        subscription_tier="professional",
        gc=dict(phase_seconds={"requested": 0.2, "waiting for write JWTs to expire": 0.3,
                               "scanning manifests": 0.3, "deleting unreferenced blobs": 0.3}),
        registries=[dict(name="acme-eu", region="ams3", repositories=[dict(name="web", manifests=[
            dict(tags=["b1"], size_bytes=100), dict(tags=["b2"], size_bytes=200), dict(tags=["b3"], size_bytes=300),
            dict(tags=["b4"], size_bytes=400), dict(tags=["latest"], size_bytes=500)])])],
    ))
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    (tmp_path / "systemd").mkdir()
    # the token as a YAML block scalar gives it: surrounding whitespace; install false as -e gives it: a string
    args = dict(gc_schedule_backend="systemd", gc_schedule_token="  %s\n" % TOKEN, gc_schedule_api_url=sim.url,
                gc_schedule_install="false",
                gc_schedule_registries=["acme", {"name": "acme-eu", "quiet_period": 0, "retention": {"keep_last": 2}}],
                gc_schedule_textfile_dir=str(textfiles),
                gc_schedule_timezone="Europe/Paris", gc_schedule_hour=23, gc_schedule_minute=58,
                gc_schedule_stagger_minutes=5, gc_schedule_lock_dir=str(tmp_path / "locks"))
    lock_dir = tmp_path / "locks"
    first = playbook(tmp_path, args)
    assert recap_changed(first.stdout) > 0
    assert TOKEN not in first.stdout
    second = playbook(tmp_path, args)
    assert recap_changed(second.stdout) == 0, second.stdout[-3000:]

    base = tmp_path / "docr-gc"
    assert mode(base / "etc") == 0o700 and mode(base / "etc" / "token.env") == 0o600
    assert "DIGITALOCEAN_ACCESS_TOKEN=%s\n" % TOKEN in (base / "etc" / "token.env").read_text()
    assert mode(base / "bin" / "docr-gc-run") == 0o755
    assert json.loads((base / "etc" / "acme-eu.gc.json").read_text())["docr_gc_registries"][0]["quiet_period"] == 0
    assert json.loads((base / "etc" / "acme-eu.retention.json").read_text()) == {
        "docr_retention_registries": [{"keep_last": 2, "name": "acme-eu"}]}
    assert not (base / "etc" / "acme.retention.json").exists()
    # staggered across midnight: acme Sunday 23:58, acme-eu Monday 00:03, in the given zone
    timer = (tmp_path / "systemd" / "docr-gc.acme.timer").read_text()
    assert "OnCalendar=Sun *-*-* 23:58:00 Europe/Paris" in timer and "Persistent=true" in timer
    assert "RandomizedDelaySec=300" in timer
    assert "OnCalendar=Mon *-*-* 00:03:00 Europe/Paris" in (tmp_path / "systemd" / "docr-gc.acme-eu.timer").read_text()
    service = (tmp_path / "systemd" / "docr-gc.acme-eu.service").read_text()
    assert "ExecStart=%s/bin/docr-gc-run acme-eu" % base in service and "Type=oneshot" in service
    for path in list((tmp_path / "systemd").iterdir()) + [base / "bin" / "docr-gc-run"]:
        assert TOKEN not in path.read_text()

    wrapper = str(base / "bin" / "docr-gc-run")
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", wrapper], stdout=subprocess.PIPE, universal_newlines=True, check=False)
        assert lint.returncode == 0, lint.stdout
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("DIGITALOCEAN", "DO_")))
    sim.clear_requests()
    run = subprocess.run([wrapper, "acme-eu"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout
    assert run.stdout == ""  # quiet on success: cron sends no mail
    state = sim.state()
    tags = [r for r in state["registries"] if r["name"] == "acme-eu"][0]["repositories"][0]["tags"]
    assert sorted(tags) == ["b3", "b4", "latest"]  # retention ran first: keep_last 2 + protected latest
    assert [g["status"] for g in state["gcs"]] == ["succeeded"]
    log = [json.loads(l) for l in (base / "log" / "docr-gc.jsonl").read_text().splitlines()]
    assert log[-1]["registry"] == "acme-eu" and log[-1]["status"] == "succeeded" and log[-1]["failed"] is False
    assert log[-1]["retention_deleted"] == 2 and log[-1]["freed_bytes"] > 0
    prom = (textfiles / "docr_gc_docr-gc_acme-eu.prom").read_text()
    assert 'docr_gc_last_run_exit_status{deployment="docr-gc",registry="acme-eu"} 0' in prom
    assert 'docr_gc_freed_bytes_total{deployment="docr-gc",registry="acme-eu"} %d' % log[-1]["freed_bytes"] in prom
    success = [l for l in prom.splitlines() if l.startswith("docr_gc_last_success_timestamp_seconds{")]
    assert len(success) == 1
    for path in [base / "log" / "docr-gc.jsonl", base / "run" / "acme-eu.last-run.log", textfiles / "docr_gc_docr-gc_acme-eu.prom"]:
        assert TOKEN not in path.read_text()

    # a second run while the lock is held is skipped, logged, and starts nothing
    sim.clear_requests()
    held = subprocess.run(["flock", "-n", str(lock_dir / "dockyard-docr-gc.acme-eu.lock"), wrapper, "acme-eu"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, check=False)
    assert held.returncode == 0, held.stdout
    assert sim.requests() == []
    last = json.loads((base / "log" / "docr-gc.jsonl").read_text().splitlines()[-1])
    assert last["skipped"] is True and last["skip_reason"] == "another run holds the lock"

    # a failure (here retention: the registry is gone): exit 1, GC not started, the run's output on stderr
    # (cron mails it), failed in the log and in the metrics
    sim.seed(dict(subscription_tier="professional"))
    failed = subprocess.run([wrapper, "acme-eu"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=120, check=False)
    assert failed.returncode == 1 and "not found" in failed.stdout, failed.stdout
    assert TOKEN not in failed.stdout
    # nothing the wrapper wrote holds the token, and every file it wrote is 0600
    for path in [p for p in (base / "run").iterdir() if p.is_file()] + [base / "log" / "docr-gc.jsonl"]:
        assert TOKEN not in path.read_text(), path
        assert mode(path) == 0o600, path
    assert (base / "run" / "acme-eu.retention-summary.jsonl").exists()
    assert not [r for r in sim.requests() if "garbage-collection" in r["path"]]
    last = json.loads((base / "log" / "docr-gc.jsonl").read_text().splitlines()[-1])
    assert last["failed"] is True and last["exit_code"] != 0 and "not found" in last["msg"]
    prom = (textfiles / "docr_gc_docr-gc_acme-eu.prom").read_text()
    assert 'docr_gc_last_run_exit_status{deployment="docr-gc",registry="acme-eu"} 2' in prom, prom
    assert success[0] in prom.splitlines()  # the last success survives a failed run
    assert 'docr_gc_runs_total{deployment="docr-gc",registry="acme-eu",result="failure"} 1' in prom

    absent = playbook(tmp_path, dict(args, gc_schedule_state="absent"))
    assert recap_changed(absent.stdout) > 0
    assert not base.exists() and list((tmp_path / "systemd").iterdir()) == []
    assert not (textfiles / "docr_gc_docr-gc_acme-eu.prom").exists()


def test_check_mode_and_two_deployments_side_by_side(tmp_path):
    """--check --diff on a fresh deployment writes nothing; on an existing one it succeeds with changed=0;
    a second deployment (other base directory, other registries) leaves the first one's units alone."""
    (tmp_path / "systemd").mkdir()
    one = dict(gc_schedule_backend="systemd", gc_schedule_token=TOKEN, gc_schedule_registries=["acme", "beta"],
               gc_schedule_base_dir=str(tmp_path / "one" / "gc-one"))
    two = dict(one, gc_schedule_registries=["acme", "gamma"], gc_schedule_base_dir=str(tmp_path / "two" / "gc-two"))
    fresh = playbook(tmp_path, one, flags=["--check", "--diff"])
    assert recap_changed(fresh.stdout) > 0 and TOKEN not in fresh.stdout
    assert not (tmp_path / "one").exists() and list((tmp_path / "systemd").iterdir()) == []
    playbook(tmp_path, one)
    existing = playbook(tmp_path, one, flags=["--check", "--diff"])
    assert recap_changed(existing.stdout) == 0, existing.stdout[-3000:]
    playbook(tmp_path, two)
    units = sorted(p.name for p in (tmp_path / "systemd").iterdir())
    assert units == sorted(["gc-one.acme.service", "gc-one.acme.timer", "gc-one.beta.service", "gc-one.beta.timer",
                            "gc-two.acme.service", "gc-two.acme.timer", "gc-two.gamma.service", "gc-two.gamma.timer"])
    playbook(tmp_path, dict(two, gc_schedule_state="absent"))
    assert sorted(p.name for p in (tmp_path / "systemd").iterdir()) == units[:4]
    assert (tmp_path / "one" / "gc-one" / "bin" / "docr-gc-run").exists() and not (tmp_path / "two" / "gc-two").exists()
