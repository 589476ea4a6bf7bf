# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: aerospike_conf_check
short_description: Check aerospike.conf data on the controller before any host is touched
version_added: 0.1.0
author: clusterfabric.multilink contributors
description:
  - Runs the same checks as M(clusterfabric.multilink.aerospike_config) on the configuration
    data (values the server would misread, such as a C(#) that starts a comment, line breaks,
    braces, unknown top-level contexts, too many mesh seeds, over-long lines) and returns the
    data unchanged when it is sound.
  - Meant for a validation play that stops a whole run before any host changes;
    C(playbooks/site.yml) uses it.
  - On a problem it fails with one message naming the host, the inventory variable the value
    came from and its place in the file.
positional: max_seeds, host, sources
options:
  _input:
    description: The configuration as M(clusterfabric.multilink.aerospike_config) takes it in O(clusterfabric.multilink.aerospike_config#module:config).
    type: dict
    required: true
  max_seeds:
    description: Most mesh seed addresses the server edition accepts.
    type: int
    default: 8
  host:
    description: Host name to put in the message.
    type: string
  sources:
    description: Top-level context name to the inventory variable it came from, for the message.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Stop early when a namespace setting would be misread by the server
  ansible.builtin.assert:
    that: >-
      {{ {'namespace': aerospike_namespaces}
         | clusterfabric.multilink.aerospike_conf_check(8, inventory_hostname,
             {'namespace': 'aerospike_namespaces'}) is mapping }}
    quiet: true
  # A namespace {name: test, replication-factor: "2 # two"} fails with:
  # host db1: refusing to write aerospike.conf: aerospike_namespaces (namespace[test].replication-factor): ...
"""

RETURN = r"""
_value:
  description: The input, unchanged, when the server would read it as meant.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import check, describe


def aerospike_conf_check(config, max_seeds=8, host=None, sources=None):
    if sources is not None and not isinstance(sources, dict):
        raise AnsibleFilterError("aerospike_conf_check: sources must be a mapping, got %r" % (sources,))
    problems = check(config, max_seeds=max_seeds)
    if problems:
        raise AnsibleFilterError("aerospike_conf_check: %s" % describe(problems, host, sources))
    return config


class FilterModule(object):
    def filters(self):
        return {"aerospike_conf_check": aerospike_conf_check}
