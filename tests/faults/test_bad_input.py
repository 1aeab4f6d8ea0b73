"""The bad-input tour: every module and role variable given wrong types, bad names, unknown regions,
impossible tier changes, unknown clusters and negative durations. Each gets a clear error naming the
option, before any write: the simulator's request log shows no write and its state is unchanged."""

import json
import os
import stat

import pytest

from ansible_collections.dockyard.docr.plugins.modules import (
    docr_credentials,
    docr_doks_integration,
    docr_doks_integration_info,
    docr_gc,
    docr_gc_info,
    docr_registry,
    docr_registry_info,
    docr_retention,
)

from faults_support import REPO, writes  # pylint: disable=import-error

CLUSTER = "c0ffee00-5e1e-4205-a714-00000000f1a1"
SEED = dict(
    subscription_tier="professional",
    registries=[
        dict(name="acme", region="fra1", repositories=[dict(name="web", manifests=[dict(size_bytes=1000, tags=["v1"])])]),
        dict(name="acme-ny", region="nyc3"),
    ],
    clusters=[dict(id=CLUSTER, name="prod-fra1", region="fra1", registries=[])],
)


def snapshot(sim):
    state = sim.state()
    return json.dumps(dict((k, state[k]) for k in ("subscription", "registries", "clusters", "gcs")), sort_keys=True)


# (module, args, the option the message must name)
CASES = [
    # docr_registry
    (docr_registry, dict(name="Bad_Name"), "name"),
    (docr_registry, dict(name="x" * 64), "name"),
    (docr_registry, dict(name=["acme"]), "name"),
    (docr_registry, dict(name="acme", state="gone"), "state"),
    (docr_registry, dict(name="acme", force="perhaps", state="absent"), "force"),
    (docr_registry, dict(name="acme-new", region="mars1"), "region"),
    (docr_registry, dict(name="acme", region="nyc3"), "region"),                      # a registry cannot move
    (docr_registry, dict(name="acme", subscription_tier="gold"), "subscription_tier"),
    (docr_registry, dict(name="acme", subscription_tier="basic"), "subscription_tier"),  # 2 registries
    (docr_registry, dict(name="acme", subscription_tier="starter"), "subscription_tier"),
    (docr_registry, dict(name="acme", state="absent"), "force"),                      # holds a repository
    (docr_registry, dict(name="acme", http_timeout=0), "http_timeout"),
    (docr_registry, dict(name="acme", http_timeout=-5), "http_timeout"),
    (docr_registry, dict(name="acme", http_timeout="soon"), "http_timeout"),
    (docr_registry, dict(name="acme", http_retries=-1), "http_retries"),
    (docr_registry, dict(name="acme", validate_certs="sometimes"), "validate_certs"),
    (docr_registry, dict(name="acme", api_url="ftp://example.com"), "api_url"),
    (docr_registry, dict(name="acme", api_url="http://example.com"), "api_url"),
    (docr_registry, dict(name="acme", unknown_option=1), "unknown_option"),
    # docr_registry_info
    (docr_registry_info, dict(repositories="perhaps"), "repositories"),
    (docr_registry_info, dict(name="Bad_Name"), "name"),
    # docr_doks_integration
    (docr_doks_integration, dict(clusters=["ghost"], registries=["acme"]), "clusters"),
    (docr_doks_integration, dict(clusters=["prod-fra1"], registries=["nope"]), "registries"),
    (docr_doks_integration, dict(clusters=["prod-fra1"], registries=["Bad_Name"]), "registries"),
    (docr_doks_integration, dict(clusters=[], registries=["acme"]), "clusters"),
    (docr_doks_integration, dict(integrations=[dict(registry="acme", clusters=["ghost", "prod-fra1"])]), "integrations"),
    (docr_doks_integration, dict(integrations=[dict(registry="Bad_Name", clusters=["prod-fra1"])]), "integrations[0].registry"),
    (docr_doks_integration, dict(integrations=[dict(clusters=["prod-fra1"])]), "registry"),
    (docr_doks_integration, dict(integrations=[dict(registry="acme", clusters=[])]), "integrations[0].clusters"),
    (docr_doks_integration, dict(integrations="acme"), "integrations"),
    (docr_doks_integration, dict(integrations=[dict(registry="acme-ny", clusters=["prod-fra1"])], require_colocation=True),
     "require_colocation"),
    (docr_doks_integration, dict(clusters=["prod-fra1"], registries=["acme"], require_colocation="maybe"), "require_colocation"),
    (docr_doks_integration, dict(clusters=["prod-fra1"], registries=["acme"], state="gone"), "state"),
    (docr_doks_integration, dict(integrations=[dict(registry="acme-ny", clusters=["prod-fra1"])]), "require_colocation"),  # the default
    # docr_doks_integration_info: an unknown cluster is no bad input, it selects nothing (clusters: [])
    # docr_gc
    (docr_gc, dict(registry="Bad_Name"), "registry"),
    (docr_gc, dict(registry="acme", type="everything"), "type"),
    (docr_gc, dict(registry="acme", wait_timeout=-5), "wait_timeout"),
    (docr_gc, dict(registry="acme", wait_timeout="an hour"), "wait_timeout"),
    (docr_gc, dict(registry="acme", poll_interval=0), "poll_interval"),
    (docr_gc, dict(registry="acme", deadline=-60), "deadline"),
    (docr_gc, dict(registry="acme", min_interval="-7d"), "min_interval"),
    (docr_gc, dict(registry="acme", min_interval="soon"), "min_interval"),
    (docr_gc, dict(registry="acme", quiet_period=-30), "quiet_period"),
    (docr_gc, dict(registry="acme", history=-1), "history"),
    (docr_gc, dict(registry="acme", if_active="maybe"), "if_active"),
    (docr_gc, dict(registry="acme", wait="perhaps"), "wait"),
    (docr_gc, dict(registry="acme", state="stopped"), "state"),
    # docr_gc_info
    (docr_gc_info, dict(registry="Bad_Name"), "registry"),
    (docr_gc_info, dict(registry="acme", limit=-1), "limit"),
    (docr_gc_info, dict(registry="acme", limit="all"), "limit"),
    # docr_credentials
    (docr_credentials, dict(registry="Bad_Name"), "registry"),
    (docr_credentials, dict(registry="acme", expiry_seconds=-1), "expiry_seconds"),
    (docr_credentials, dict(registry="acme", expiry_seconds="an hour"), "expiry_seconds"),
    (docr_credentials, dict(registry="acme", refresh_before="5 minutes"), "refresh_before"),
    (docr_credentials, dict(registry="acme", expiry_seconds=True), "expiry_seconds"),
    (docr_credentials, dict(registry="acme", refresh_before=[300]), "refresh_before"),
    (docr_credentials, dict(registry="acme", refresh_before=-300), "refresh_before"),
    (docr_credentials, dict(registry="acme", read_write="perhaps"), "read_write"),
    (docr_credentials, dict(registry="acme", dest="/tmp"), "dest"),
    (docr_credentials, dict(registry="acme", credentials_store="keychain"), "credentials_store"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(namespace="ns")), "name"),
    (docr_credentials, dict(registry="acme", kubernetes_secret="pull-secret"), "kubernetes_secret"),
    # docr_retention
    (docr_retention, dict(registry="Bad_Name", keep_last=1), "registry"),
    (docr_retention, dict(registry="acme"), "keep_last"),
    (docr_retention, dict(registry="acme", keep_last=-1), "keep_last"),
    (docr_retention, dict(registry="acme", keep_last="ten"), "keep_last"),
    (docr_retention, dict(registry="acme", older_than="-30d"), "older_than"),
    (docr_retention, dict(registry="acme", older_than="0d"), "older_than"),
    (docr_retention, dict(registry="acme", older_than="a month"), "older_than"),
    (docr_retention, dict(registry="acme", older_than=True), "older_than"),
    (docr_retention, dict(registry="acme", older_than=-5), "older_than"),
    (docr_retention, dict(registry="acme", keep_last=1, max_deletions=-1), "max_deletions"),
    (docr_retention, dict(registry="acme", keep_last=1, requests_per_minute=-1), "requests_per_minute"),
    (docr_retention, dict(registry="acme", keep_last=1, protect=["(unclosed"]), "protect"),
    (docr_retention, dict(registry="acme", keep_last=1, target="images"), "target"),
]


def case_id(case):
    module, args, option = case
    return "%s-%s-%s" % (module.__name__.rsplit(".", 1)[-1], option, "-".join("%s=%s" % kv for kv in sorted(args.items()))[:40])


@pytest.mark.parametrize("module, args, option", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_names_the_option_before_any_write(sim, api, run_module, tmp_path, module, args, option):
    sim.seed(SEED)
    sim.clear_requests()
    before = snapshot(sim)
    res = run_module(module, dict(api, **args))
    assert res.failed, res
    msg = res["msg"]
    assert option in msg, msg
    assert "Traceback" not in msg and "Unexpected error" not in msg, msg
    assert writes(sim) == [], writes(sim)
    assert snapshot(sim) == before


def test_retention_over_the_cap_deletes_nothing(sim, api, run_module):
    sim.seed(dict(subscription_tier="basic", registries=[dict(name="acme", region="fra1", repositories=[
        dict(name="web", manifests=[dict(size_bytes=10, tags=["t%d" % n]) for n in range(5)])])]))
    sim.clear_requests()
    res = run_module(docr_retention, dict(api, registry="acme", keep_last=1, max_deletions=2))
    assert res.failed and "max_deletions" in res["msg"] and len(res["plan"]) == 4, res
    assert writes(sim) == []


# ---- role variables: registry_layout (and gc_schedule's), one playbook run trying each bad layout ------------

ROLE_PLAY = """
- name: Bad role variables are refused before any write
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Try each case
      ansible.builtin.include_tasks: one_case.yml
      loop: "{{ cases }}"
      loop_control:
        loop_var: case
    - name: Save the outcomes
      ansible.builtin.copy:
        content: "{{ outcomes | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""

ONE_CASE = """
- name: Try one
  block:
    - name: Apply the role
      ansible.builtin.include_role:
        name: "{{ case.role | default('dockyard.docr.registry_layout') }}"
      vars:
        docr_layout: "{{ case.layout | default(omit) }}"
        gc_schedule_registries: "{{ case.gc_registries | default(['acme']) }}"
        gc_schedule_stagger_minutes: "{{ case.stagger | default(5) }}"
        gc_schedule_backend: kubernetes
        gc_schedule_k8s_image: registry.example/docr-gc:1
        gc_schedule_k8s_apply: never
        gc_schedule_base_dir: "{{ base }}/docr-gc"
        gc_schedule_k8s_manifest_path: "{{ base }}/cronjobs.yml"
    - name: Record an unexpected success
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | default([]) + ['accepted'] }}"
  rescue:
    - name: Record the refusal
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | default([]) + [ansible_failed_result.msg | string] }}"
"""


def good_layout(**overrides):
    layout = dict(subscription_tier="professional", registries=[
        dict(name="acme-nyc3", region="nyc3", clusters=["prod-nyc3"]),
        dict(name="acme-fra1", region="fra1", clusters=["prod-fra1"]),
    ])
    layout.update(overrides)
    return layout


def with_registry(index, **changes):
    layout = good_layout()
    layout["registries"][index] = dict(layout["registries"][index], **changes)
    return layout


# (case, a text the refusal must hold: the option or the offending value)
ROLE_CASES = [
    (dict(layout="acme"), "docr_layout"),
    (dict(layout=good_layout(registries="acme-nyc3")), "registries"),
    (dict(layout=good_layout(subscription_tier="gold")), "subscription_tier"),
    (dict(layout=good_layout(require_colocation="maybe")), "require_colocation"),
    (dict(layout=with_registry(0, name=["acme"])), "name"),
    (dict(layout=with_registry(0, name="Bad_Name")), "registries[0].name"),
    (dict(layout=with_registry(1, region="mars1")), "mars1"),
    # an unknown region on a registry to create, after another registry to create: nothing is created
    (dict(layout=good_layout(registries=[dict(name="acme-nyc3", region="nyc3"), dict(name="acme-sfo3", region="sfo3"),
                                         dict(name="acme-mars", region="mars1")])), "mars1"),
    (dict(layout=with_registry(0, region=None)), "region"),
    (dict(layout=with_registry(1, clusters=["ghost"])), "ghost"),
    (dict(layout=with_registry(1, clusters="prod-fra1", allow_cross_region="yes please")), "allow_cross_region"),
    (dict(layout=with_registry(0, state="gone")), "state"),
    (dict(layout=good_layout(subscription_tier="basic")), "subscription_tier"),
    (dict(layout=with_registry(0, region="sfo3")), "cannot move"),        # acme-nyc3 exists in nyc3
    (dict(layout=with_registry(1, clusters=["prod-nyc3"])), "different regions"),
    (dict(layout=good_layout(registries=[dict(name="r%02d" % n, region="nyc3") for n in range(11)])), "at most 10"),
    (dict(role="dockyard.docr.gc_schedule", stagger=-5), "gc_schedule_stagger_minutes"),
    (dict(role="dockyard.docr.gc_schedule", gc_registries=["Bad_Name"]), "Bad_Name"),
    (dict(role="dockyard.docr.gc_schedule", gc_registries=[dict(name="acme", retention=dict(protect=["x"]))]), "keep_last"),
]


def test_role_variables_refused_before_any_write(sim, playbook, tmp_path):
    sim.seed(dict(subscription_tier="professional", registries=[dict(name="acme-nyc3", region="nyc3")], clusters=[
        dict(id="c0ffee00-5e1e-4205-a714-0000000000a1", name="prod-nyc3", region="nyc3", registries=["acme-nyc3"]),
        dict(id="c0ffee00-5e1e-4205-a714-0000000000a2", name="prod-fra1", region="fra1", registries=[]),
    ]))
    before = snapshot(sim)
    sim.clear_requests()
    (tmp_path / "play.yml").write_text(ROLE_PLAY)
    (tmp_path / "one_case.yml").write_text(ONE_CASE)
    out = tmp_path / "outcomes.json"
    run = playbook(tmp_path / "play.yml", dict(cases=[case[0] for case in ROLE_CASES], out=str(out), base=str(tmp_path)))
    assert run.rc == 0, run
    outcomes = json.loads(out.read_text())
    assert len(outcomes) == len(ROLE_CASES)
    problems = [(expected, got) for (_case, expected), got in zip(ROLE_CASES, outcomes) if expected not in got]
    assert problems == [], problems
    assert writes(sim) == [], writes(sim)
    assert snapshot(sim) == before
    assert not (tmp_path / "cronjobs.yml").exists() and not (tmp_path / "docr-gc").exists()
    assert os.path.isdir(REPO)


# ---- issue 10: the cases accepted wrongly or crashed, and every option of every module -----------------------
# Each is refused before any API call at all (the request log stays empty), names the option, shows no traceback,
# and writes nothing (no file either). "SIM" in a value is the simulator's URL, "TMP" the test's directory.

MINIMAL = [
    (docr_registry, dict(name="acme")),
    (docr_registry_info, dict()),
    (docr_doks_integration, dict(clusters=["prod-fra1"], registries=["acme"])),
    (docr_doks_integration_info, dict()),
    (docr_gc, dict(registry="acme")),
    (docr_gc_info, dict(registry="acme")),
    (docr_credentials, dict(registry="acme")),
    (docr_retention, dict(registry="acme", keep_last=1)),
]

COMMON_BAD = [
    (dict(api_url=""), "api_url"),
    (dict(api_url="SIM/v2"), "api_url"),
    (dict(api_url="SIM/v2/registries"), "api_url"),
    (dict(api_url=" SIM"), "api_url"),
    (dict(token=["dop_v1_a", "dop_v1_b"]), "token"),
    (dict(token={"value": "dop_v1_a"}), "token"),
    (dict(token="dop_v1 with spaces inside"), "token"),
    (dict(http_timeout=10 ** 20), "http_timeout"),
    (dict(http_timeout=1e20), "http_timeout"),
    (dict(http_retries=10 ** 6), "http_retries"),
]

NEW_CASES = [(module, dict(minimal, **bad), option) for module, minimal in MINIMAL for bad, option in COMMON_BAD] + [
    # docr_gc
    (docr_gc, dict(registry="acme", poll_interval="nan"), "poll_interval"),
    (docr_gc, dict(registry="acme", poll_interval=float("nan")), "poll_interval"),
    (docr_gc, dict(registry="acme", poll_interval="inf"), "poll_interval"),
    (docr_gc, dict(registry="acme", poll_interval=-float("inf")), "poll_interval"),
    (docr_gc, dict(registry="acme", poll_interval=1e20), "poll_interval"),
    (docr_gc, dict(registry="acme", wait_timeout=10 ** 20), "wait_timeout"),
    (docr_gc, dict(registry="acme", deadline=10 ** 20), "deadline"),
    (docr_gc, dict(registry="acme", deadline=60, wait=False), "deadline"),
    (docr_gc, dict(registry="acme", quiet_period=10 ** 20), "quiet_period"),
    (docr_gc, dict(registry="acme", history=10 ** 9), "history"),
    (docr_gc, dict(registry="acme", min_interval="9" * 400), "min_interval"),
    (docr_gc, dict(registry="acme", if_active="wait", wait=False), "if_active"),
    (docr_gc, dict(registry="acme", type=["untagged_manifests_only"]), "type"),
    # docr_gc_info
    (docr_gc_info, dict(registry="acme", limit=10 ** 9), "limit"),
    # docr_credentials
    (docr_credentials, dict(registry="acme", expiry_seconds=10 ** 20), "expiry_seconds"),
    (docr_credentials, dict(registry="acme", expiry_seconds=1e20), "expiry_seconds"),
    (docr_credentials, dict(registry="acme", refresh_before=10 ** 20), "refresh_before"),
    (docr_credentials, dict(registry="acme", dest=""), "dest"),
    (docr_credentials, dict(registry="acme", dest="TMP/a-device"), "dest"),
    (docr_credentials, dict(registry="acme", dest="TMP"), "dest"),
    (docr_credentials, dict(registry="acme", dest="TMP/a-file/config.json"), "dest"),
    (docr_credentials, dict(registry="acme", dest="TMP/not-json.json"), "dest"),
] + ([] if os.geteuid() == 0 else [  # root may write anywhere
    (docr_credentials, dict(registry="acme", dest="TMP/read-only/docker/config.json"), "dest"),
]) + [
    (docr_credentials, dict(registry="acme", return_docker_config="perhaps"), "return_docker_config"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="Pull_Secret")), "kubernetes_secret.name"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="-pull")), "kubernetes_secret.name"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="pull\n")), "kubernetes_secret.name"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="p" * 254)), "kubernetes_secret.name"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="pull", namespace="kube.system")), "kubernetes_secret.namespace"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="pull", namespace="Prod")), "kubernetes_secret.namespace"),
    (docr_credentials, dict(registry="acme", kubernetes_secret=dict(name="pull", namespace="n" * 64)), "kubernetes_secret.namespace"),
    # docr_retention
    (docr_retention, dict(registry="acme", keep_last=1, protect=["a{99999999999}"]), "protect"),
    (docr_retention, dict(registry="acme", keep_last=1, protect=["(?P<x>a)(?P<x>b)"]), "protect"),
    (docr_retention, dict(registry="acme", keep_last=1, protect="^v[0-9]{1,3}$"), "protect"),
    (docr_retention, dict(registry="acme", keep_last=1, protect_digests="sha256:" + "a" * 64), "protect_digests"),
    (docr_retention, dict(registry="acme", keep_last=1, protect_digests=["a" * 64]), "protect_digests"),
    (docr_retention, dict(registry="acme", keep_last=1, protect_digests=["sha256:xyz"]), "protect_digests"),
    (docr_retention, dict(registry="acme", keep_last=1, protect_latest="perhaps"), "protect_latest"),
    (docr_retention, dict(registry="acme", keep_last=1, repositories_include="web"), "repositories_include"),
    (docr_retention, dict(registry="acme", keep_last=1, repositories_exclude="web,api"), "repositories_exclude"),
    (docr_retention, dict(registry="acme", older_than="9" * 400 + "d"), "older_than"),
    (docr_retention, dict(registry="acme", keep_last=10 ** 20), "keep_last"),
    (docr_retention, dict(registry="acme", keep_last=1, max_deletions=10 ** 20), "max_deletions"),
    # docr_doks_integration(_info)
    (docr_doks_integration, dict(clusters="prod-fra1", registries=["acme"]), "clusters"),
    (docr_doks_integration, dict(clusters=["prod-fra1"], registries="acme"), "registries"),
    (docr_doks_integration_info, dict(clusters="prod-fra1"), "clusters"),
    # docr_registry(_info)
    (docr_registry_info, dict(name="acme", repositories=["yes"]), "repositories"),
]


def _materialise(value, sim, tmp_path):
    if isinstance(value, str):
        return value.replace("SIM", sim.url).replace("TMP", str(tmp_path))
    if isinstance(value, dict):
        return dict((k, _materialise(v, sim, tmp_path)) for k, v in value.items())
    return value


def _files(path):
    return sorted(str(p) for p in path.rglob("*"))


@pytest.mark.parametrize("module, args, option", NEW_CASES, ids=[case_id(c) for c in NEW_CASES])
def test_bad_input_refused_before_any_api_call(sim, api, run_module, tmp_path, module, args, option):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "not-json.json").write_text("auths: {}\n")
    # a device like /dev/null, made here so that a regression replaces this node, never the system's
    try:
        os.mknod(str(tmp_path / "a-device"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:  # not root: a FIFO is not a regular file either
        os.mkfifo(str(tmp_path / "a-device"))
    (tmp_path / "read-only").mkdir()
    os.chmod(str(tmp_path / "read-only"), 0o500)
    sim.seed(SEED)
    sim.clear_requests()
    before, files = snapshot(sim), _files(tmp_path)
    res = run_module(module, dict(api, **_materialise(args, sim, tmp_path)))
    assert res.failed, res
    msg = res["msg"]
    assert option in msg, msg
    assert "Traceback" not in msg and "Unexpected error" not in msg and "exception" not in res, res
    assert sim.requests() == [], sim.requests()
    assert snapshot(sim) == before
    assert _files(tmp_path) == files


def test_every_option_of_every_module_has_a_bad_input_case():
    from ansible_collections.dockyard.docr.plugins.module_utils._base import COMMON_ARGUMENT_SPEC

    named = {}
    for module, args, option in CASES + NEW_CASES:
        named.setdefault(module, set()).update([option.split(".")[0].split("[")[0]] + list(args))
    missing = []
    for module, _minimal in MINIMAL:
        resource = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__
                    and getattr(v, "argument_spec", None)][0]
        for option in list(resource.argument_spec) + list(COMMON_ARGUMENT_SPEC):
            if option not in named.get(module, ()) or option == "validate_certs" and module is not docr_registry:
                if option != "validate_certs":
                    missing.append("%s.%s" % (module.__name__.rsplit(".", 1)[-1], option))
    assert missing == []
