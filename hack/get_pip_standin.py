"""Offline stand-in for the get-pip script that ansible-test downloads to bootstrap its venvs.

ansible-test (``_util/target/setup/requirements.py``) fetches ``get-pip-<version>.py`` from a host
this project's machines cannot reach, and caches it as ``~/.ansible/test/cache/get_pip_<v>.py``.
``hack/sanity.sh`` installs this file under that name. ansible-test runs it (through
``quiet_pip.py``) with the pip options get-pip takes, for example::

    --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

It seeds pip with ``python -m ensurepip`` (in a subprocess: done in-process, pip loses the
certificate and index settings of the environment) and then installs the requested packages with
that pip from the configured package index.
"""

import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
    if "--no-setuptools" in sys.argv[1:]:
        # ensurepip adds setuptools on Python < 3.12; get-pip would not have.
        subprocess.call(
            [sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"],
            stderr=subprocess.DEVNULL,
        )


if __name__ == "__main__":
    main()
