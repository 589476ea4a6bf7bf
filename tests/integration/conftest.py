# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live tests need root, podman (runc) and the node image; `make integration` provides them.

They fail (never skip) when that is missing, so a broken setup cannot pass for a green run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from podman_cluster import PodmanCluster, node_image  # noqa: E402  pylint: disable=wrong-import-position

TWO_LINKS = [
    {"name": "fab0", "subnet": "198.18.0.0/24"},
    {"name": "fab1", "subnet": "198.18.1.0/24"},
]


@pytest.fixture(scope="session")
def image():
    if os.geteuid() != 0 or not shutil.which("podman"):
        pytest.fail("live tests need root and podman: run them with `make integration`")
    return node_image()


@pytest.fixture(scope="module")
def two_nodes(image, request):
    """Two nodes (ids 1, 2) on two 200 Mbit/s links; torn down after the module."""
    prefix = "cfm-%s" % request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")[:12].replace("_", "")
    cluster = PodmanCluster(prefix, TWO_LINKS, {"n1": 1, "n2": 2})
    cluster.up(image)
    yield cluster
    cluster.down()
