"""Tiny OCI image layouts written by Python (no network, no container engine), for ``skopeo copy oci:DIR:REF``."""

import gzip
import hashlib
import io
import json
import os
import tarfile

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _store(folder, data):
    digest = _digest(data)
    path = os.path.join(folder, "blobs", "sha256", digest.split(":", 1)[1])
    with open(path, "wb") as handle:
        handle.write(data)
    return digest


def _layer(files):
    """A gzipped tar holding ``files`` ({path: bytes}); returns (compressed, uncompressed digest)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), _digest(tar_bytes)


def write_image(folder, ref, files, label=None):
    """Write (or add to) an OCI layout at ``folder`` with one single-layer image named ``ref``.

    ``files`` are the layer's contents; distinct contents give distinct blobs (a layer's size is roughly the
    sum of the files' sizes, since random-looking bytes do not compress). Returns the manifest digest.
    """
    os.makedirs(os.path.join(folder, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(folder, "oci-layout"), "w", encoding="utf-8") as handle:
        json.dump({"imageLayoutVersion": "1.0.0"}, handle)
    layer, diff_id = _layer(files)
    layer_digest = _store(folder, layer)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"e2e": label or ref}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode("utf-8")
    config_digest = _store(folder, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                    "size": len(layer)}],
    }, sort_keys=True).encode("utf-8")
    manifest_digest = _store(folder, manifest)
    index_path = os.path.join(folder, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as handle:
            index = json.load(handle)
    index["manifests"] = [item for item in index["manifests"]
                          if item.get("annotations", {}).get("org.opencontainers.image.ref.name") != ref]
    index["manifests"].append({"mediaType": MANIFEST_TYPE, "digest": manifest_digest, "size": len(manifest),
                               "annotations": {"org.opencontainers.image.ref.name": ref}})
    with open(index_path, "w", encoding="utf-8") as handle:
        json.dump(index, handle)
    return manifest_digest
