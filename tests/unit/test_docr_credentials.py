"""docr_credentials against the simulator: issuing, expiry, read-only refusal, dest merge, idempotence; its planner
without HTTP."""

import base64
import json
import os
import stat
import time

import pytest

from ansible_collections.dockyard.docr.plugins.module_utils import _credentials as cred
from ansible_collections.dockyard.docr.plugins.module_utils._errors import DocrError, DocrInputError
from ansible_collections.dockyard.docr.plugins.modules import docr_credentials
from pull_secret_schema import assert_valid_pull_secret, problems

HOST = "registry.digitalocean.com"


def seed(sim):
    sim.seed({"subscription_tier": "basic", "registries": [{"name": "acme", "region": "fra1"}]})


def issue_calls(sim):
    return [r for r in sim.requests() if r["path"].endswith("/docker-credentials")]


def auth_of(config):
    return config["auths"][HOST]["auth"]


def push(sim, auth, tag="v1"):
    """A simulated docker push with these credentials: 201, or the HTTP status it was refused with."""
    try:
        sim.push(registry="acme", repository="web", tag=tag, size_bytes=10, auth=auth)
    except sim.Error as exc:
        return exc.status
    return 201


def test_issue_walk_and_secret_safety(sim, api, run_module):
    seed(sim)
    # check mode: would issue, issues nothing
    res = run_module(docr_credentials, dict(api, registry="acme"), check_mode=True)
    assert res["changed"] is True and res["issued"] is True and "docker_config" not in res
    assert issue_calls(sim) == []

    # issue: nothing secret in the output unless asked
    res = run_module(docr_credentials, dict(api, registry="acme"))
    assert res["changed"] is True and res["issued"] is True
    assert "docker_config" not in res and "kubernetes_secret" not in res
    assert res["server_url"] == "registry.digitalocean.com/acme" and res["read_write"] is False
    [call] = issue_calls(sim)
    assert call["query"] == {"read_write": "false", "expiry_seconds": "3600"}
    [stored] = sim.state()["credentials"]
    assert stored["registry"] == "acme" and stored["read_write"] is False and stored["expires_at"] == res["expires_at"]

    res = run_module(docr_credentials, dict(api, registry="acme", return_docker_config=True,
                                            kubernetes_secret=dict(name="docr-pull", namespace="apps")))
    auth = auth_of(res["docker_config"])
    secret = res["kubernetes_secret"]
    assert secret["type"] == "kubernetes.io/dockerconfigjson" and secret["metadata"] == dict(
        name="docr-pull", namespace="apps", labels={"app.kubernetes.io/managed-by": "dockyard.docr"})
    assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == {"auths": {HOST: {"auth": auth}}}
    assert_valid_pull_secret(secret)
    # the check is not a rubber stamp: it refuses what the API server would
    assert problems(dict(secret, metadata=dict(secret["metadata"], name="Docr_Pull")))
    assert problems(dict(secret, data={".dockerconfigjson": 5}))
    assert problems(dict(secret, data={".dockerconfigjson": base64.b64encode(b'{"auths": {}}').decode()}))
    assert problems(dict(secret, extra=True))


def test_credentials_expire(sim, api, run_module):
    seed(sim)
    res = run_module(docr_credentials, dict(api, registry="acme", read_write=True, expiry_seconds=600, return_docker_config=True))
    auth = auth_of(res["docker_config"])
    assert push(sim, auth) == 201
    sim.advance(601)
    assert push(sim, auth, tag="v2") == 401


def test_read_only_credentials_refused_on_push(sim, api, run_module):
    seed(sim)
    res = run_module(docr_credentials, dict(api, registry="acme", return_docker_config=True))
    assert push(sim, auth_of(res["docker_config"])) == 403


def test_never_expiring_warns(sim, api, run_module):
    seed(sim)
    res = run_module(docr_credentials, dict(api, registry="acme", expiry_seconds=0))
    assert res["expires_at"] is None
    assert any("never expire" in str(w) for w in res["warnings"])
    assert "expiry_seconds" not in issue_calls(sim)[0]["query"]
    assert sim.state()["credentials"][0]["expires_at"] is None


def test_dest_merge_mode_and_idempotence(sim, api, run_module, tmp_path):
    seed(sim)
    dest = tmp_path / "docker" / "config.json"
    dest.parent.mkdir()
    dest.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}, "detachKeys": "ctrl-e,e", "proxies": {"default": {}}}))
    os.chmod(str(dest), 0o644)

    # check mode: would issue, writes nothing
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)), check_mode=True, diff=True)
    assert res["changed"] is True and res["issued"] is True
    assert res["diff"]["before"] == {} and res["diff"]["after"]["registry"] == "acme"
    assert HOST not in json.loads(dest.read_text())["auths"] and issue_calls(sim) == []

    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res["changed"] is True and res["issued"] is True
    config = json.loads(dest.read_text())
    assert config["auths"]["ghcr.io"] == {"auth": "Z2g6eA=="}
    assert config["detachKeys"] == "ctrl-e,e" and config["proxies"] == {"default": {}}
    assert config["auths"][HOST]["auth"]
    marker = config[cred.MARKER_KEY][HOST]
    assert marker["registry"] == "acme" and marker["read_write"] is False and marker["expires_at"] == res["expires_at"]
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    assert [p.name for p in dest.parent.iterdir()] == ["config.json"]   # no temp file left
    assert config["auths"][HOST]["auth"] not in json.dumps(res)          # the output holds no credentials

    # again: nothing issued, no API call at all
    sim.clear_requests()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res["changed"] is False and res["issued"] is False
    assert sim.requests() == []
    assert json.loads(dest.read_text()) == config

    # read_write wanted: re-issued
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), read_write=True))
    assert res["changed"] is True and json.loads(dest.read_text())[cred.MARKER_KEY][HOST]["read_write"] is True
    config = json.loads(dest.read_text())

    # expiring within refresh_before: re-issued
    config[cred.MARKER_KEY][HOST]["expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    dest.write_text(json.dumps(config))
    sim.clear_requests()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), read_write=True, refresh_before=300))
    assert res["changed"] is True and len(issue_calls(sim)) == 1
    # ... but not with a shorter refresh_before
    config = json.loads(dest.read_text())
    config[cred.MARKER_KEY][HOST]["expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    dest.write_text(json.dumps(config))
    os.chmod(str(dest), 0o600)
    sim.clear_requests()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), read_write=True, refresh_before=60))
    assert res["changed"] is False and sim.requests() == []

    # another tool replaced the auth: re-issued
    config = json.loads(dest.read_text())
    config["auths"][HOST]["auth"] = "b3RoZXI6dG9vbA=="
    dest.write_text(json.dumps(config))
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), read_write=True))
    assert res["changed"] is True and json.loads(dest.read_text())["auths"][HOST]["auth"] != "b3RoZXI6dG9vbA=="

    # a loosened mode is fixed, without issuing
    os.chmod(str(dest), 0o644)
    sim.clear_requests()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), read_write=True))
    assert res["changed"] is True and res["issued"] is False and sim.requests() == []
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600


def test_dest_credentials_work_for_push(sim, api, run_module, tmp_path):
    seed(sim)
    dest = tmp_path / "config.json"
    run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), read_write=True))
    assert push(sim, auth_of(json.loads(dest.read_text()))) == 201


def test_bad_input_fails_before_any_call(sim, api, run_module, tmp_path):
    seed(sim)
    dest = tmp_path / "config.json"
    dest.write_text("{not json")
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest)))
    assert res["failed"] and "dest" in res["msg"] and "JSON" in res["msg"]
    assert dest.read_text() == "{not json"
    for bad, option in ((dict(expiry_seconds=-1), "expiry_seconds"), (dict(refresh_before=-5), "refresh_before"),
                        (dict(registry="UPPER"), "registry"), (dict(dest=str(tmp_path)), "dest")):
        res = run_module(docr_credentials, dict(dict(api, registry="acme"), **bad))
        assert res["failed"] and option in res["msg"], res
    assert sim.requests() == []


def test_missing_registry(sim, api, run_module, tmp_path):
    seed(sim)
    dest = tmp_path / "config.json"
    res = run_module(docr_credentials, dict(api, registry="nope", dest=str(dest)))
    assert res["failed"] and "nope" in res["msg"] and "does not exist" in res["msg"]
    assert not dest.exists()


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    dest = tmp_path / "config.json"
    dest.write_text('{"auths": {}}')

    def boom(*_args, **_kw):
        raise OSError("disk full")
    monkeypatch.setattr(cred.json, "dump", boom)
    try:
        cred.write_atomic(str(dest), {"auths": {"x": {}}})
    except OSError:
        pass
    assert dest.read_text() == '{"auths": {}}'
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


# ---- the planner, without HTTP ----------------------------------------------------------------------
NOW = 2000000000.0


def options(**overrides):
    params = dict(registry="acme", read_write=False, expiry_seconds=3600, refresh_before=300, credentials_store="auto")
    params.update(overrides)
    return params


def recorded_file(expires_in=3600, read_write=False, helper=None, mode=0o600, auth="dXNlcjpzZWNyZXQ="):
    marker = dict(registry="acme", read_write=read_write, auth_fingerprint=cred.fingerprint(auth),
                  expires_at=None if expires_in is None else cred.format_time(NOW + expires_in))
    if helper:
        marker["credential_helper"] = helper
    config = {"auths": {HOST: {} if helper else {"auth": auth}}, cred.MARKER_KEY: {HOST: marker}}
    if helper:
        config["credsStore"] = helper
    return dict(dest="/home/u/.docker/config.json", config=config, host=HOST, marker=marker, auth=auth, mode=mode, now=NOW)


def test_plan_keeps_valid_credentials_without_a_write():
    plan = cred.plan(recorded_file(), options())
    assert plan.writes == [] and not plan.changed
    assert plan.before == dict(registry="acme", read_write=False, expires_at=cred.format_time(NOW + 3600),
                               credential_helper=None, expiring=False, mode="0600")
    assert plan.result["issued"] is False and plan.result["expires_at"] == cred.format_time(NOW + 3600)


def test_plan_fixes_a_loose_mode_with_a_local_write_only():
    plan = cred.plan(recorded_file(mode=0o644), options())
    [write] = plan.writes
    assert write.needs_api is False and write.args == ("/home/u/.docker/config.json", 0o600)
    assert plan.before["mode"] == "0644" and plan.after["mode"] == "0600" and plan.changed
    assert plan.result["issued"] is False


@pytest.mark.parametrize("current, params, changed_key", [
    (recorded_file(expires_in=200), options(), "expiring"),                    # within refresh_before
    (recorded_file(expires_in=-10), options(), "expiring"),                    # expired
    (recorded_file(), options(read_write=True), "read_write"),                 # push wanted
    (recorded_file(expires_in=200), options(refresh_before=100), None),        # not yet due: kept
    (recorded_file(expires_in=None), options(refresh_before=10 ** 6), None),   # never expires: kept
])
def test_plan_issues_when_the_record_does_not_serve(current, params, changed_key):
    plan = cred.plan(current, params)
    if changed_key is None:
        assert plan.writes == [] and not plan.changed
        return
    [write] = plan.writes
    assert write.call is cred.deliver and write.args[:3] == ("acme", params["read_write"], 3600)
    assert plan.before[changed_key] != plan.after[changed_key] and plan.changed
    assert plan.result["issued"] is True and plan.result["expires_at"] is None


def test_plan_without_dest_always_issues_and_states_hold_no_secret():
    current = dict(dest=None, config={}, host=None, marker=None, auth=None, mode=None, now=NOW)
    plan = cred.plan(current, options(expiry_seconds=0))
    assert plan.before is None and plan.after == dict(registry="acme", read_write=False, expires_at=None)
    assert len(plan.writes) == 1 and "never expire" in plan.warnings[0]
    recorded = recorded_file(expires_in=10)
    plan = cred.plan(recorded, options())
    assert recorded["auth"] not in repr(plan.before) + repr(plan.after) + repr(plan.result)
    assert "fingerprint" not in repr(plan.before) + repr(plan.after)


def test_plan_refuses_inline_under_a_helper_and_a_missing_registry_in_check_mode():
    current = dict(recorded_file(), config={"credsStore": "desktop"}, marker=None, host=None)
    with pytest.raises(DocrError) as caught:
        cred.plan(current, options(credentials_store="inline"))
    assert "credentials_store" in caught.value.msg
    with pytest.raises(DocrError) as caught:
        cred.plan(dict(recorded_file(expires_in=1), registry_exists=False), options())
    assert "does not exist" in caught.value.msg


def test_settle_states_what_was_issued():
    plan = cred.plan(recorded_file(expires_in=1), options())
    after = cred.settle(plan, dict(registry="acme", read_write=False, host=HOST, auth="c2VjcmV0", expires_at=NOW + 3600,
                                   helper=None))
    assert after == dict(registry="acme", read_write=False, expires_at=cred.format_time(NOW + 3600),
                         credential_helper=None, expiring=False, mode="0600")
    assert plan.result["issued"] is True and "c2VjcmV0" not in repr(plan.result)


@pytest.mark.parametrize("value, seconds", [(3600, 3600), ("3600", 3600), ("20m", 1200), ("1d", 86400), ("0.5", 1),
                                            (0, 0), ("2w", 1209600)])
def test_expiry_takes_every_duration_form(value, seconds):
    assert cred.check_expiry(value) == seconds


@pytest.mark.parametrize("value", [-1, "soon", True, 10 ** 20, "11000d"])
def test_expiry_refuses_what_is_not_a_duration(value):
    with pytest.raises(DocrInputError) as caught:
        cred.check_expiry(value)
    assert "expiry_seconds" in caught.value.msg


def test_duration_strings_reach_the_api_and_the_record(sim, api, run_module, tmp_path):
    seed(sim)
    dest = tmp_path / "config.json"
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), expiry_seconds="20m", refresh_before="5m"))
    assert res["changed"] is True and issue_calls(sim)[0]["query"]["expiry_seconds"] == "1200"
    sim.clear_requests()
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), expiry_seconds="20m", refresh_before="5m"))
    assert res["changed"] is False and sim.requests() == []
    # 20 minutes minus now: within a refresh_before of 30 minutes, so issued again
    res = run_module(docr_credentials, dict(api, registry="acme", dest=str(dest), expiry_seconds="20m", refresh_before="30m"))
    assert res["changed"] is True and len(issue_calls(sim)) == 1


def test_walk_check_diff_apply_idempotent_change(sim, api, run_module, tmp_path):
    """check mode -> apply -> again (no call, no write) -> change in check mode with diff -> change."""
    seed(sim)
    dest = tmp_path / "docker" / "config.json"
    args = dict(api, registry="acme", dest=str(dest))
    res = run_module(docr_credentials, args, check_mode=True, diff=True)
    assert res["changed"] is True and res["diff"]["before"] == {} and not dest.exists()
    assert res["diff"]["after"] == dict(registry="acme", read_write=False, expires_at=None, credential_helper=None,
                                        expiring=False, mode="0600")
    assert [r["method"] for r in sim.requests()] == ["GET"]          # check mode asks whether the registry exists

    res = run_module(docr_credentials, args, diff=True)
    auth = auth_of(json.loads(dest.read_text()))
    assert res["changed"] is True and res["expires_at"] is not None and res["diff"]["after"]["expires_at"] == res["expires_at"]
    assert auth not in json.dumps(res) and cred.fingerprint(auth) not in json.dumps(res)

    sim.clear_requests()
    before = dest.read_text()
    res = run_module(docr_credentials, args, diff=True)
    assert res["changed"] is False and res["diff"]["before"] == res["diff"]["after"] and sim.requests() == []
    assert dest.read_text() == before

    res = run_module(docr_credentials, dict(args, read_write=True), check_mode=True, diff=True)
    assert res["changed"] is True and res["diff"]["before"]["read_write"] is False and res["diff"]["after"]["read_write"] is True
    assert dest.read_text() == before and issue_calls(sim) == []
    res = run_module(docr_credentials, dict(args, read_write=True))
    assert res["changed"] is True and json.loads(dest.read_text())[cred.MARKER_KEY][HOST]["read_write"] is True
    assert sim.state()["credentials"][-1]["read_write"] is True
