# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every test imports the collection as ``ansible_collections.clusterfabric.multilink`` and the
test bed as ``testbed``: the virtualenv's clusterfabric-dev.pth (`make venv`) puts tests/lib and
build/collections on the path, and `make collection` links the repository there. A run without
them stops at once with what to do, instead of failing in every test."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

NEEDED = (("ansible_collections.clusterfabric.multilink.plugins", "build/collections/ansible_collections/clusterfabric/multilink "
           "(a link to the repository: `make collection`)"),
          ("testbed", "tests/lib (the .pth file `make venv` writes)"))


def pytest_configure(config):  # pylint: disable=unused-argument
    missing = []
    for module, where in NEEDED:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing.append("%s from %s: %s" % (module, where, exc))
    if missing:
        raise pytest.UsageError("cannot import %s. Run the tests with .venv/bin/python -m pytest after "
                                "`make venv collection` (or through make)." % "; ".join(missing))
