# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack the collection the gc_schedule role runs from into one reproducible tarball (run on the controller).

    python pack_collection.py COLLECTION_ROOT OUTPUT.tar.gz

Only what the scheduled runs need goes in: MANIFEST.json and FILES.json (an installed collection) or
galaxy.yml (a source tree), meta/, plugins/ and playbooks/. Members are sorted, with fixed times, owners and
modes, and the gzip header has no time, so the same content always gives the same bytes: the role copies
the tarball to the managed host and unpacks it only when it changed. Prints the tarball's sha256.
"""

import gzip
import hashlib
import io
import os
import sys
import tarfile

TOP_FILES = ("MANIFEST.json", "FILES.json", "galaxy.yml")
TOP_DIRS = ("meta", "plugins", "playbooks")


def members(root):
    """Relative paths of the files to pack, sorted."""
    found = [name for name in TOP_FILES if os.path.isfile(os.path.join(root, name))]
    for top in TOP_DIRS:
        for directory, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in files:
                if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                    continue
                found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(found)


def pack(root, output):
    if not any(os.path.isfile(os.path.join(root, name)) for name in ("MANIFEST.json", "galaxy.yml")):
        raise SystemExit("pack_collection: %s is not a collection (no MANIFEST.json or galaxy.yml)" % root)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in members(root):
            with open(os.path.join(root, rel), "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    with open(output, "wb") as handle:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz:
            gz.write(raw.getvalue())
    with open(output, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: pack_collection.py COLLECTION_ROOT OUTPUT.tar.gz\n")
        return 2
    print(pack(os.path.realpath(argv[1]), argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
