# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every dockyard.docr module takes: authentication and how to reach the API."""


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  token:
    description:
      - DigitalOcean API token (a personal access token, or an OAuth token).
      - When not set, the first of these environment variables that is set is used, in this order
        E(DIGITALOCEAN_ACCESS_TOKEN), E(DIGITALOCEAN_TOKEN), E(DO_API_TOKEN), E(DO_API_KEY),
        E(DO_OAUTH_TOKEN), E(OAUTH_TOKEN).
      - Set it once for every module of this collection with
        C(module_defaults) for C(group/dockyard.docr.docr).
      - The token is never logged or returned.
      - Surrounding whitespace (the newline a YAML C(|) block or a file lookup leaves) is removed. A token that is
        not a string, or holds whitespace or control characters inside, is refused without showing it.
    type: str
    aliases: [api_token, oauth_token]
  api_url:
    description:
      - Base URL of the DigitalOcean API, its root only, without a path such as C(/v2) (the modules add the paths). A URL
        with a path, a query or a fragment, or an empty one, is refused before any request.
      - Falls back to the environment variable E(DIGITALOCEAN_API_URL).
      - Plain C(http://) is accepted only for loopback hosts (C(127.0.0.1), C(::1), C(localhost)), such as
        the collection's API simulator; any other host must use C(https://).
    type: str
    default: https://api.digitalocean.com
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate. Turn it off only for a test endpoint you trust.
    type: bool
    default: true
  http_timeout:
    description:
      - Seconds to wait for the API to accept a connection, and then for each response. At most 3600.
    type: int
    default: 30
  http_retries:
    description:
      - How many times a call is retried after a rate limit (HTTP 429), a server error (HTTP 5xx) or a lost
        connection, with exponential back-off that honours the API's C(Retry-After) and C(ratelimit-reset).
      - A call that creates something is retried after a server error only once a read-back shows it was not
        created, so a retry never creates a second object.
      - A 429 over the hourly limit waits for C(ratelimit-reset), when the oldest request of the sliding hour
        expires (at most 60 seconds a wait). When the retries left cannot wait that long, the module fails at
        once and says how many seconds remain.
      - At most 20.
    type: int
    default: 5
requirements:
  - pydo >= 0.44.0 (DigitalOcean's official Python client), on the host that runs the module
notes:
  - Modules run where the task runs. That is usually the control node, with C(connection=local) or
    C(delegate_to=localhost); it must have C(pydo) installed.
"""
