"""Validate Kubernetes manifests against the OpenAPI schema of a current Kubernetes version, offline.

The schemas come from the PyPI package ``kubernetes-validate`` (requirements-dev.txt), which ships them for
every Kubernetes minor version; no cluster is needed. Strict: a field the schema does not know is an error.

    from k8s_schema import manifest_problems      # tests/ is on sys.path under pytest (rootdir conftest)
    assert manifest_problems(yaml.safe_load_all(text)) == []

Used by tests/unit/test_gc_schedule.py for the gc_schedule CronJobs; reusable for any rendered manifest.
"""

import kubernetes_validate

# The newest Kubernetes version the installed package has schemas for (e.g. 1.37).
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def manifest_problems(documents, version=KUBERNETES_VERSION):
    """One message per invalid document (``kind/name: path: message``); ``[]`` when all are valid.
    Empty documents (``---`` separators) are ignored."""
    problems = []
    for document in documents:
        if not document:
            continue
        name = "%s/%s" % (document.get("kind"), (document.get("metadata") or {}).get("name"))
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(part) for part in getattr(exc, "path", []) or [])
            problems.append("%s: %s: %s" % (name, path or "(document)", getattr(exc, "message", exc)))
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
            problems.append("%s: no usable schema for Kubernetes %s (%s)" % (name, version, exc))
    return problems
