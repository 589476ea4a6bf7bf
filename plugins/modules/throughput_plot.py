#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: throughput_plot
short_description: Write one PNG chart per cluster of a fabric throughput report
version_added: 0.1.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Draws, for every cluster of a report of the
    P(clusterfabric.multilink.fabric_throughput#filter) filter, the Mbit/s each link carried
    during the sampling window (sent as solid lines, received dashed, summed over the cluster's
    nodes), and writes it to O(dest)/<cluster>.png.
  - Meant to run on the controller (C(delegate_to) localhost), like C(playbooks/verify.yml)
    does. Needs the Python library matplotlib where it runs; without it the module fails
    saying how to install it, whatever the other options.
  - A file whose content would not change is left alone.
options:
  report:
    description:
      - The report. With no clusters nothing is written, which checks that matplotlib is there.
    type: dict
    required: true
  dest:
    description: Directory for the PNG files; created if missing.
    type: path
    required: true
requirements:
  - matplotlib
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The charts are drawn but not written.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - name: Verifying link usage
    description: How verify.yml samples a fleet and reads the result.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/verify.md
"""

EXAMPLES = r"""
- name: One chart per cluster on the controller
  clusterfabric.multilink.throughput_plot:
    report: "{{ verify_result }}"
    dest: /tmp/fabric-charts
  delegate_to: localhost
  run_once: true

- name: Fail early, before sampling, when matplotlib is missing
  clusterfabric.multilink.throughput_plot:
    report: {clusters: {}}
    dest: /tmp/fabric-charts
  delegate_to: localhost
  run_once: true
  check_mode: true
"""

RETURN = r"""
files:
  description: Every chart of the report, one per cluster (also those left unchanged).
  returned: success
  type: list
  elements: str
  sample: [/tmp/fabric-charts/aero_east.png, /tmp/fabric-charts/aero_west.png]
written:
  description: The charts written (in check mode, that would be written).
  returned: success
  type: list
  elements: str
"""

import os
import sys
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils import throughput_plot


def _same(path, content):
    try:
        with open(path, "rb") as handle:
            return handle.read() == content
    except (IOError, OSError):
        return False


def main():
    module = AnsibleModule(
        argument_spec=dict(
            report=dict(type="dict", required=True),
            dest=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    if not throughput_plot.HAS_MATPLOTLIB:
        module.fail_json(msg="%s The PNG charts need it where this module runs (the controller): "
                             "%s -m pip install matplotlib" % (missing_required_lib("matplotlib"), sys.executable),
                         exception=throughput_plot.MATPLOTLIB_ERROR)
    dest = module.params["dest"]
    try:
        charts = throughput_plot.render_all(module.params["report"])
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    files, written = [], []
    for name in sorted(charts):
        path = os.path.join(dest, name)
        files.append(path)
        if _same(path, charts[name]):
            continue
        written.append(path)
        if module.check_mode:
            continue
        try:
            if not os.path.isdir(dest):
                os.makedirs(dest, 0o755)
            handle, temp = tempfile.mkstemp(dir=dest, prefix=".throughput_plot.")
            with os.fdopen(handle, "wb") as stream:
                stream.write(charts[name])
            os.chmod(temp, 0o644)
            module.atomic_move(temp, path)
        except (IOError, OSError) as exc:
            module.fail_json(msg="writing %s failed: %s" % (path, exc))
    module.exit_json(changed=bool(written), files=files, written=written)


if __name__ == "__main__":
    main()
