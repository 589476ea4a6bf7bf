#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: aerospike_info
short_description: Ask a running Aerospike node for info values, optionally waiting for some to show
version_added: 0.2.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Sends Aerospike info requests (the protocol C(asinfo) speaks) to the server on this host and
    returns the answers, with C(statistics) also parsed into a mapping.
  - With O(wait_for), polls C(statistics) until every listed value shows, for example
    C(cluster_size) after a restart or C(migrate_partitions_remaining) of V(0), and fails
    naming the values that did not show when O(timeout) passes.
  - Reads only; changes nothing. The C(aerospike) role uses it to wait for a restarted node to
    rejoin its cluster, and C(playbooks/verify.yml) to show what the server says.
options:
  host:
    description: Address of the node's service port; the server also listens on V(127.0.0.1).
    type: str
    default: 127.0.0.1
  port:
    description: The service port (C(network.service.port)).
    type: int
    default: 3000
  commands:
    description: Info names to ask for, such as V(statistics), V(endpoints), V(namespace/test).
    type: list
    elements: str
    default: [statistics]
  wait_for:
    description:
      - Statistics (name to value) that must all show before the module returns, compared as
        strings (V(true) and V(false) for booleans). Empty means no waiting.
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for O(wait_for), or to connect when there is nothing to wait for.
    type: float
    default: 60
  interval:
    description: Seconds between two polls while waiting.
    type: float
    default: 0.5
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so it asks in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: linux
seealso:
  - name: The aerospike role
    description: aerospike.conf and the restart handler that waits with this module.
    link: https://github.com/clusterfabric/multilink/blob/main/docs/aerospike.md
"""

EXAMPLES = r"""
- name: Wait until the node sees both nodes and has no migrations left
  clusterfabric.multilink.aerospike_info:
    wait_for:
      cluster_size: 2
      migrate_partitions_remaining: 0
    timeout: 300

- name: Ask for the fabric endpoints of the peers
  clusterfabric.multilink.aerospike_info:
    commands: [endpoints, statistics]
  register: node_info
"""

RETURN = r"""
info:
  description: Every asked name with the server's raw answer.
  returned: success
  type: dict
  sample: {statistics: "cluster_size=2;cluster_integrity=true;fabric_connections=24"}
statistics:
  description: The C(statistics) answer as a mapping of strings (empty when not asked for).
  returned: success
  type: dict
  sample: {cluster_size: "2", cluster_integrity: "true", migrate_partitions_remaining: "0"}
waited:
  description: Seconds spent waiting for O(wait_for).
  returned: success
  type: float
  sample: 2.5
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", default="127.0.0.1"),
            port=dict(type="int", default=3000),
            commands=dict(type="list", elements="str", default=["statistics"]),
            wait_for=dict(type="dict", default={}),
            timeout=dict(type="float", default=60),
            interval=dict(type="float", default=0.5),
        ),
        supports_check_mode=True,
    )
    params = module.params
    where = "%s port %d" % (params["host"], params["port"])
    waited = 0.0
    if params["wait_for"]:
        stats, waited, missing, error = aerospike_info.wait_for(
            params["host"], params["port"], params["wait_for"], params["timeout"], params["interval"])
        if missing:
            shown = ", ".join("%s is %s, want %s" % (name, have if have is not None else "not shown", want)
                              for name, (want, have) in sorted(missing.items()))
            module.fail_json(msg="Aerospike at %s: after %.0f s %s%s" % (
                where, waited, shown, "; last error: %s" % error if error else ""),
                statistics=stats, waited=waited)
    try:
        answers = aerospike_info.request(params["host"], params["port"], params["commands"],
                                         timeout=params["timeout"])
    except aerospike_info.InfoError as exc:
        module.fail_json(msg="Aerospike at %s: %s" % (where, exc))
    stats = aerospike_info.pairs(answers["statistics"]) if "statistics" in answers else {}
    module.exit_json(changed=False, info=answers, statistics=stats, waited=waited)


if __name__ == "__main__":
    main()
