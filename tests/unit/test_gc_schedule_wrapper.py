"""The gc_schedule wrapper program (roles/gc_schedule/files/docr_gc_run.py) and the deploy-time option rules
(plugins/module_utils/_schedule.py), without ansible-playbook: pure functions, files and modes, masking,
lock order, and the Runner over a fake ansible-playbook."""

import importlib.util
import io
import json
import os
import stat
import sys
import time

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils._schedule import registry_problems

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "dop_v1_wrapper-secret-token-00112233445566778899"


def load_wrapper():
    path = os.path.join(REPO, "roles", "gc_schedule", "files", "docr_gc_run.py")
    spec = importlib.util.spec_from_file_location("docr_gc_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_wrapper()


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


# ---- deploy-time rules -------------------------------------------------------------------------

def test_every_bad_option_is_listed_naming_the_registry_and_the_option():
    problems = registry_problems(
        ["ok", {"name": "acme", "type": "bogus", "min_interval": "1 week", "quiet_period": "soon", "typo": 1,
                "retention": {"keep_last": -1, "protect": ["("], "older_than": "later"}},
         {"name": "Bad_Name"}, "ok", {"name": "eu", "deadline": 0, "wait_timeout": "x"}],
        {"type": "untagged_manifests_only", "wait_timeout": 3600})
    text = "\n".join(problems)
    for expected in ["registry 'acme': unknown option(s) typo", "registry 'acme': value of type must be one of",
                     "registry 'acme': quiet_period 'soon' is not a duration", "registry 'acme': min_interval '1 week'",
                     "registry 'acme': retention: keep_last must be at least 0",
                     "registry 'acme': retention: protect: '('",
                     "registry 'Bad_Name': name 'Bad_Name' is not a valid registry name",
                     "registry 'ok': listed more than once", "registry 'eu': wait_timeout 'x' is not a duration",
                     "registry 'eu': deadline must be more than 0"]:
        assert expected in text, text
    assert len(problems) == 10, text


def test_good_registries_have_no_problem():
    assert registry_problems(["acme", {"name": "eu", "min_interval": "6d", "quiet_period": 0, "deadline": 600,
                                       "if_active": "skip", "retention": {"keep_last": 3, "target": "manifests"}}],
                             {"type": "untagged_manifests_and_unreferenced_blobs", "wait_timeout": 3600,
                              "min_interval": "1d"}) == []
    # every duration takes the same forms: numbers in the option's own unit, or strings with a unit
    assert registry_problems([{"name": "eu", "quiet_period": "30m", "deadline": "1h", "wait_timeout": "2h",
                               "min_interval": 86400}], {"wait_timeout": 3600}) == []
    assert registry_problems([{"name": "eu", "deadline": "2h", "wait_timeout": "1h30m"}]) == [
        "registry 'eu': wait_timeout '1h30m' is not a duration: use a number followed by s, m, h, d or w, such as 7d or 12h."]
    # a bad role default is reported too (per registry that uses it)
    assert "min_interval 'weekly'" in " ".join(registry_problems(["acme"], {"min_interval": "weekly"}))


# ---- pure helpers --------------------------------------------------------------------------------

def test_env_file_values_are_stripped_and_masked_everywhere(tmp_path):
    env = tmp_path / "token.env"
    env.write_text("# comment\nDIGITALOCEAN_ACCESS_TOKEN='  %s\n'\nDIGITALOCEAN_API_URL=http://127.0.0.1:1\n" % TOKEN)
    values = run.read_env_file(str(env))
    assert values["DIGITALOCEAN_ACCESS_TOKEN"] == TOKEN
    mask = run.masker(["  %s\n" % TOKEN])
    assert TOKEN not in mask("Authorization: Bearer %s, again %s" % (TOKEN, TOKEN))


def test_at_matches_in_the_given_zone():
    # 2026-11-29 is a Sunday; 02:30 UTC is 03:30 in Paris (UTC+1 in winter)
    moment = 1795919400  # 2026-11-29T02:30:00Z
    assert time.gmtime(moment).tm_hour == 2
    assert run.at_matches("0:03", "Europe/Paris", now=moment)
    assert run.at_matches("0:2", "UTC", now=moment)
    assert not run.at_matches("1:03", "Europe/Paris", now=moment)
    with pytest.raises(run.ConfigError):
        run.at_matches("7:03", "UTC", now=moment)


def test_metrics_follow_the_batch_job_convention():
    ok = dict(failed=False, skipped=False, duration_seconds=12, exit_code=0, freed_bytes=2000, blobs_deleted=3,
              retention_deleted=2)
    bad = dict(failed=True, skipped=False, duration_seconds=4, exit_code=2, freed_bytes=None, blobs_deleted=None,
               retention_deleted=None)
    first = run.metrics_state({}, ok, 1000)
    second = run.metrics_state(first, bad, 2000)
    assert second["last_success"] == 1000 and second["last_run"] == 2000  # survives the failed run
    assert second["freed_total"] == 2000 and second["runs"] == {"success": 1, "failure": 1}
    text = run.metrics_text("docr-gc", "acme", second)
    lines = text.splitlines()
    labels = '{deployment="docr-gc",registry="acme"}'
    assert "docr_gc_last_success_timestamp_seconds%s 1000" % labels in lines
    assert "docr_gc_last_run_timestamp_seconds%s 2000" % labels in lines
    assert "docr_gc_last_run_exit_status%s 2" % labels in lines
    assert "docr_gc_last_run_duration_seconds%s 4" % labels in lines
    assert "# TYPE docr_gc_freed_bytes_total counter" in lines
    assert 'docr_gc_runs_total{deployment="docr-gc",registry="acme",result="failure"} 1' in lines
    # every sample has HELP and TYPE; counters end in _total, gauges with a unit carry it
    names = set(l.split("{")[0] for l in lines if not l.startswith("#"))
    for name in names:
        assert "# TYPE %s " % name in text and "# HELP %s " % name in text
        assert name.endswith("_total") == ("# TYPE %s counter" % name in text)
    # no success yet: no last-success sample at all (rather than a made-up time)
    assert "docr_gc_last_success_timestamp_seconds" not in run.metrics_text("d", "r", run.metrics_state({}, bad, 5)).split("# TYPE")[-1]
    assert "docr_gc_last_success_timestamp_seconds{" not in run.metrics_text("d", "r", run.metrics_state({}, bad, 5))


def test_private_files_are_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        run.append_line(str(tmp_path / "log.jsonl"), "{}")
        run.write_atomic(str(tmp_path / "state.json"), "{}")
    finally:
        os.umask(old)
    assert mode(tmp_path / "log.jsonl") == 0o600 and mode(tmp_path / "state.json") == 0o600
    assert sorted(os.listdir(str(tmp_path))) == ["log.jsonl", "state.json"]  # no temporary file left


def test_lock_is_exclusive(tmp_path):
    path = str(tmp_path / "x.lock")
    first = run.lock(path)
    assert first is not None and run.lock(path) is None
    os.close(first)
    again = run.lock(path)
    assert again is not None
    os.close(again)


# ---- the Runner over a fake ansible-playbook ------------------------------------------------------

FAKE_PLAYBOOK = """#!%(python)s
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CALLS"], "a") as calls:
    calls.write(json.dumps(args) + "\\n")
summary = [json.loads(a) for a in args if a.startswith("{")][0]
path = list(summary.values())[0]
token = os.environ.get("DIGITALOCEAN_ACCESS_TOKEN", "")
if os.environ.get("FAKE_FAIL"):
    print("fatal: [localhost]: FAILED! => the API said no to token %%s" %% token)
    with open(path, "a") as out:
        out.write(json.dumps({"failed": True, "msg": "refused for " + token}) + "\\n")
    sys.exit(2)
with open(path, "a") as out:
    out.write(json.dumps({"status": "succeeded", "freed_bytes": 10, "blobs_deleted": 1}) + "\\n")
"""


def make_deployment(tmp_path, registries, textfile=True):
    base = tmp_path / "base"
    for sub in ("bin", "etc", "run", "venv/bin"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    fake = base / "venv" / "bin" / "ansible-playbook"
    fake.write_text(FAKE_PLAYBOOK % dict(python=sys.executable))
    fake.chmod(0o755)
    (base / "etc" / "token.env").write_text("DIGITALOCEAN_ACCESS_TOKEN=' %s\n '\n" % TOKEN)
    for name in registries:
        (base / "etc" / ("%s.gc.json" % name)).write_text("{}")
    config = dict(deployment="d1", base_dir=str(base), log_file=str(base / "log" / "docr-gc.jsonl"),
                  textfile_dir=str(tmp_path / "textfiles") if textfile else "", lock_dir=str(tmp_path / "locks"),
                  python=str(base / "venv" / "bin" / "python"), collections_path="", timezone="",
                  registries=registries)
    if textfile:
        (tmp_path / "textfiles").mkdir()
    return base, config


def test_runner_sorts_registries_masks_the_token_and_writes_private_files(tmp_path, monkeypatch):
    base, config = make_deployment(tmp_path, ["zeta", "acme", "mid"])
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_FAIL", "1")
    err = io.StringIO()
    status = run.Runner(config, stderr=err).run(["zeta", "acme", "mid", "acme"])
    assert status == 1
    calls = [json.loads(l) for l in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c[-4] for c in calls] == ["@%s/etc/%s.gc.json" % (base, n) for n in ("acme", "mid", "zeta")]
    log = [json.loads(l) for l in (base / "log" / "docr-gc.jsonl").read_text().splitlines()]
    assert [l["registry"] for l in log] == ["acme", "mid", "zeta"]
    assert all(l["failed"] and l["msg"] and l["deployment"] == "d1" for l in log)
    written = [base / "log" / "docr-gc.jsonl"] + [p for p in (base / "run").iterdir() if p.is_file()]
    for path in written:
        assert TOKEN not in path.read_text(), path
        assert mode(path) == 0o600, path
    assert TOKEN not in err.getvalue() and "********" in err.getvalue()
    for path in (tmp_path / "textfiles").iterdir():
        assert TOKEN not in path.read_text() and mode(path) == 0o644


def test_runner_refuses_unknown_registries_and_a_missing_textfile_dir_is_one_line(tmp_path, monkeypatch):
    base, config = make_deployment(tmp_path, ["acme"])
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    with pytest.raises(run.ConfigError):
        run.Runner(config).run(["other"])
    config["textfile_dir"] = str(tmp_path / "gone")
    err = io.StringIO()
    assert run.Runner(config, stderr=err).run([]) == 0
    assert err.getvalue().count("\n") == 1 and "could not write the metrics" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_a_held_lock_skips_the_registry(tmp_path, monkeypatch):
    base, config = make_deployment(tmp_path, ["acme"], textfile=False)
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    (tmp_path / "locks").mkdir()
    held = run.lock(str(tmp_path / "locks" / "dockyard-docr-gc.acme.lock"))
    try:
        assert run.Runner(config).run([]) == 0
    finally:
        os.close(held)
    assert not (tmp_path / "calls.jsonl").exists()
    line = json.loads((base / "log" / "docr-gc.jsonl").read_text())
    assert line["skipped"] and line["skip_reason"] == "another run holds the lock"


def test_main_reports_configuration_errors_without_a_traceback(tmp_path, capsys):
    assert run.main(["--config", str(tmp_path / "missing.json")]) == 2
    assert run.main([]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "configuration error" in err
