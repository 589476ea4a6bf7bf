# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the real ansible command-line tools of the test venv against this collection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run_ansible(tool, *args, **env):
    """Run ``tool`` (ansible-playbook, ansible-doc, ...) from the repo root; never raises.

    The environment is pinned so results do not depend on the caller's settings;
    keyword arguments override single variables (e.g. ANSIBLE_CALLBACK_RESULT_FORMAT="yaml").
    """
    settings = dict(os.environ,
                    ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "build", "collections"),
                    ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                    ANSIBLE_NOCOLOR="1",
                    ANSIBLE_LOCALHOST_WARNING="0",
                    ANSIBLE_RETRY_FILES_ENABLED="0")
    settings.update(env)
    return subprocess.run([os.path.join(BIN, tool)] + list(args), cwd=ROOT, env=settings,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
