"""Count the API calls the simulator has logged (``GET /_sim/requests``), for `make demo`.

Usage: python hack/sim_requests.py BASE_URL [SKIP [UNTIL]]
Prints ``TOTAL WRITES`` for the logged API requests after the first SKIP ones (and up to the UNTILth), where writes are
every method but GET, HEAD and OPTIONS. The simulator's own admin calls (``/_sim/...``) do not count.
"""

import json
import sys
import urllib.request

READS = {"GET", "HEAD", "OPTIONS"}


def entries(base_url):
    with urllib.request.urlopen(base_url.rstrip("/") + "/_sim/requests", timeout=10) as response:
        body = json.load(response)
    if isinstance(body, dict):
        for key in ("requests", "items", "log", "entries"):
            if isinstance(body.get(key), list):
                return body[key]
        raise SystemExit("unexpected /_sim/requests body: keys %s" % sorted(body))
    return body


def path_of(entry):
    for key in ("path", "url", "uri"):
        if entry.get(key):
            return str(entry[key])
    return ""


def main():
    base_url = sys.argv[1]
    skip = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    until = int(sys.argv[3]) if len(sys.argv) > 3 else None
    api_calls = [e for e in entries(base_url) if "/_sim/" not in path_of(e)]
    new = api_calls[skip:until]
    writes = [e for e in new if str(e.get("method", "GET")).upper() not in READS]
    print(len(new), len(writes))


if __name__ == "__main__":
    main()
