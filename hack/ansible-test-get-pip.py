"""Offline stand-in for the ``get-pip.py`` bootstrap script used by ansible-test.

ansible-test creates each sanity-test virtual environment with ``--without-pip``
and then runs a ``get-pip.py`` it downloads from ci-files.testing.ansible.com,
a host that is not reachable from our machines. ansible-test looks for a cached
copy at ``~/.ansible/test/cache/get_pip_<version>.py`` first, so ``make sanity``
installs this script there (see hack/sanity.sh).

ansible-test runs it as ``__main__`` inside the new virtual environment with
arguments like ``--disable-pip-version-check pip==24.2 --no-setuptools
--no-wheel``. We bootstrap the pip bundled with CPython (ensurepip, no network)
and then let that pip install the requested packages from the configured index.
"""
import os
import subprocess
import sys


def main(argv):
    no_setuptools = "--no-setuptools" in argv
    no_wheel = "--no-wheel" in argv
    args = [a for a in argv if a not in ("--no-setuptools", "--no-wheel")]

    env = dict(os.environ)
    env.pop("GET_PIP", None)

    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], env=env,
                          stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args, env=env)

    # ensurepip may bring setuptools along on older Pythons; honour the request
    # of a bare environment.
    extra = []
    if no_setuptools:
        extra.append("setuptools")
    if no_wheel:
        extra.append("wheel")
    if extra:
        subprocess.call([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes"] + extra,
                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main(sys.argv[1:])
