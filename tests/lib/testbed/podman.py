# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""podman with the test settings (runc, explicit ulimits: hack/containers.conf) and the node image."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HACK = os.path.join(ROOT, "hack")
CONTAINERS_CONF = os.path.join(HACK, "containers.conf")
AEROSPIKE_LABEL = "clusterfabric.aerospike"


class TestbedError(Exception):
    """The test bed could not do what it was asked; the message says what and where."""


def env():
    out = dict(os.environ)
    out.setdefault("CONTAINERS_CONF", CONTAINERS_CONF)
    return out


def podman(*args, **kwargs):
    """Run podman; raise TestbedError with its output on failure unless check=False."""
    check = kwargs.pop("check", True)
    result = subprocess.run(("podman",) + tuple(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=env(), check=False, **kwargs)
    if check and result.returncode != 0:
        raise TestbedError("podman %s failed (%d): %s%s"
                           % (" ".join(args), result.returncode, result.stdout, result.stderr))
    return result


class Image(object):
    """The node image: ``ref`` and ``aerospike`` (the server build it carries, or None)."""

    def __init__(self, ref, aerospike):
        self.ref = ref
        self.aerospike = aerospike

    def __repr__(self):
        return "Image(%r, aerospike=%r)" % (self.ref, self.aerospike)


_IMAGE = []


def node_image():
    """Build the node image if needed (hack/node-image.sh, cached) and describe it.

    hack/node-image.sh says on stderr, in one line, when no Aerospike server is found; that
    line is passed through so every caller shows it."""
    if _IMAGE:
        return _IMAGE[0]
    result = subprocess.run(["bash", os.path.join(HACK, "node-image.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=env(), check=False)
    if result.returncode != 0:
        raise TestbedError("hack/node-image.sh failed (%d): %s" % (result.returncode, result.stderr[-2000:]))
    for line in result.stderr.splitlines():
        if line.startswith("node-image: no Aerospike server"):
            print(line)
    ref = result.stdout.strip().splitlines()[-1]
    labels = json.loads(podman("image", "inspect", "--format", "{{json .Labels}}", ref).stdout or "{}") or {}
    server = labels.get(AEROSPIKE_LABEL)
    _IMAGE.append(Image(ref, None if server in (None, "", "none") else server))
    return _IMAGE[0]
