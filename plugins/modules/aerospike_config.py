#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: aerospike_config
short_description: Write aerospike.conf from structured data, or replace only its network block
version_added: 0.1.0
author: clusterfabric.multilink contributors (@clusterfabric)
description:
  - Renders Aerospike server configuration from a mapping that mirrors the file
    (a mapping is a context, a list repeats a line, a list of mappings with C(name) gives named
    contexts such as C(namespace NAME {)) and writes it to O(path) on the managed host.
  - Before anything is written, refuses values the server would misread, listing every problem with
    its place in the configuration, the variable it came from (O(sources)) and the host (O(host)),
    namely a C(#) anywhere (the rest of the line would be a comment), newlines, C({) or C(}) in values,
    lines over 1023 bytes, ports outside 1024-65535, heartbeat C(connect-timeout-ms) above
    C(interval) * C(timeout) / 3, more than O(max_seeds) mesh seed lines, and (in full mode)
    top-level contexts other than service, logging, network, namespace, mod-lua, security and xdr.
  - With O(manage=network), only the top-level C(network { }) block of the existing file is replaced
    by the C(network) key of O(config); every other byte (comments, layout, other contexts) stays as it was.
  - The role C(clusterfabric.multilink.aerospike) passes the C(aerospike) block of the inventory
    contract (C(fabric_fleet), built once on the controller by M(clusterfabric.multilink.fabric_contract));
    see docs/aerospike.md.
options:
  path:
    description: The aerospike.conf file to write. Its directory must exist.
    type: path
    required: true
  config:
    description:
      - The configuration as a mapping of top-level contexts (C(service), C(logging), C(network),
        C(namespace), C(mod-lua), C(security), C(xdr)), each rendered as described above.
      - Under C(storage-engine), C(index-type) and C(sindex-type) a mapping's C(type) goes into the
        header (C(storage-engine device {)); a scalar there stays one line (C(storage-engine memory)).
      - A value of C(null) leaves the key out.
      - With O(manage=network) only the C(network) key is used.
    type: dict
    required: true
  manage:
    description:
      - V(full) writes the whole file from O(config).
      - V(network) replaces only the top-level C(network { }) block of the existing file; the file
        must exist and hold exactly one such block.
    type: str
    choices: [full, network]
    default: full
  max_seeds:
    description:
      - Most C(mesh-seed-address-port) plus C(tls-mesh-seed-address-port) lines allowed in
        C(network.heartbeat). Community Edition exits with more than 8.
    type: int
    default: 8
  header:
    description: Comment lines written at the top of the file in full mode (without the C(#)).
    type: str
    default: "Managed by Ansible (clusterfabric.multilink); local changes will be overwritten."
  owner:
    description:
      - Owner of the file. Omitted means O(service_user) when that is set, otherwise unchanged
        (root for a new file written as root).
    type: str
  group:
    description:
      - Group of the file. Omitted means the group of O(service_user) when that is set, otherwise unchanged.
    type: str
  service_user:
    description:
      - The server's user, such as V(aerospike). When O(owner) or O(group) is omitted, the file goes
        to this user and its primary group if the user exists on the host, and to root otherwise.
      - Omitted means O(owner) and O(group) alone decide.
    type: str
  service_name:
    description:
      - A systemd service, such as V(aerospike). When set, the result tells in RV(service_installed)
        whether its unit is installed on the host, so that a restart handler can skip a host
        without the server (the role C(clusterfabric.multilink.aerospike) does).
    type: str
  mode:
    description: Permissions of the file, as an octal string such as V('0644').
    type: raw
    default: "0644"
  host:
    description: Name of the inventory host, used in error messages.
    type: str
  sources:
    description:
      - Maps a top-level context of O(config) to the variable it came from, used in error messages,
        for example C(namespace) to C(aerospike_namespaces).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Reports what would change without writing.
  diff_mode:
    support: full
    description: Shows the file before and after.
  platform:
    support: full
    platforms: posix
    description: Any POSIX host; needs only the Python standard library there.
notes:
  - The file is written atomically (a temporary file in the same directory, then renamed).
"""

EXAMPLES = r"""
- name: Write aerospike.conf
  clusterfabric.multilink.aerospike_config:
    path: /etc/aerospike/aerospike.conf
    config:
      service:
        cluster-name: east
      logging:
        console:
          context: any info
      network:
        service: {port: 3000}
        heartbeat:
          mode: mesh
          port: 3002
          mesh-seed-address-port: [198.18.10.12 3002, 198.18.11.22 3002]
        fabric:
          address: [198.18.10.11, 198.18.11.21]
          port: 3001
        admin: {port: 3003}
      namespace:
        - name: test
          replication-factor: 2
          storage-engine: {type: memory, data-size: 4G}

- name: Replace only the network block of a file owned by another tool
  clusterfabric.multilink.aerospike_config:
    path: /etc/aerospike/aerospike.conf
    manage: network
    service_user: aerospike
    config:
      network: >-
        {{ fabric_fleet.clusters[fabric_cluster_group].plan
           | clusterfabric.multilink.aerospike_network(inventory_hostname, links=fabric_links, version='8.1') }}

- name: Write the file and tell whether the server's unit is installed
  clusterfabric.multilink.aerospike_config:
    path: /etc/aerospike/aerospike.conf
    service_user: aerospike
    service_name: aerospike
    config: "{{ my_aerospike_config }}"
  register: written
  notify: Restart aerospike   # a handler with when: written.service_installed
"""

RETURN = r"""
path:
  description: The file written (or that would be written in check mode).
  returned: always
  type: str
  sample: /etc/aerospike/aerospike.conf
content:
  description: The complete file content after the change.
  returned: success
  type: str
  sample: "service {\n    cluster-name east\n}\n"
service_installed:
  description:
    - Whether the unit of O(service_name) is known to systemd on the host (loaded, or present but
      masked or broken); false when systemd does not run there.
  returned: when O(service_name) is set
  type: bool
  sample: true
problems:
  description: Every problem found (place, then message) when the module refuses to write.
  returned: failure
  type: list
  elements: str
  sample: ["namespace[test].replication-factor: value '2#' contains '#', which starts a comment"]
"""

import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import (
    AerospikeConfError, check, describe, render, replace_block,
)


def read_text(path):
    with open(path, "rb") as handle:
        # surrogate_or_strict is surrogateescape on Python 3: bytes that are not UTF-8 come back
        # unchanged when written, so manage=network keeps every other byte
        return to_text(handle.read(), errors="surrogate_or_strict")


def write_atomically(module, path, text):
    directory = os.path.dirname(path) or "."
    handle, temp = tempfile.mkstemp(prefix=".aerospike.conf.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(to_bytes(text, errors="surrogate_or_strict"))
        module.atomic_move(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def file_owner(params):
    """(owner, group) to set: the given ones, else service_user's (root when that user does not exist)."""
    owner, group = params["owner"], params["group"]
    user = params["service_user"]
    if user and (owner is None or group is None):
        try:
            fallback = (user, str(pwd.getpwnam(user).pw_gid))
        except KeyError:
            fallback = ("root", "root")
        owner = fallback[0] if owner is None else owner
        group = fallback[1] if group is None else group
    return owner, group


def unit_installed(module, name):
    """Whether systemd knows the unit of service ``name`` (read only, so in check mode too)."""
    if not os.path.isdir("/run/systemd/system"):
        return False
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return False
    unit = name if name.endswith(".service") else name + ".service"
    rc, out, dummy = module.run_command([systemctl, "show", "--property=LoadState", "--", unit])
    states = [line.split("=", 1)[1].strip() for line in out.splitlines() if line.startswith("LoadState=")]
    return rc == 0 and bool(states) and states[0] not in ("", "not-found")


def new_content(params, before):
    config = params["config"]
    if params["manage"] == "network":
        network = config.get("network")
        if not isinstance(network, dict):
            raise AerospikeConfError([("network", "manage=network needs config.network as a mapping")])
        problems = check({"network": network}, max_seeds=params["max_seeds"])
        if problems:
            raise AerospikeConfError(problems)
        if before is None:
            raise AerospikeConfError([("", "%s does not exist; manage=network only edits an existing file"
                                       % params["path"])])
        return replace_block(before, network)
    problems = check(config, max_seeds=params["max_seeds"])
    if problems:
        raise AerospikeConfError(problems)
    return render(config, header=params["header"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            config=dict(type="dict", required=True),
            manage=dict(type="str", choices=["full", "network"], default="full"),
            max_seeds=dict(type="int", default=8),
            header=dict(type="str", default="Managed by Ansible (clusterfabric.multilink); local changes will be overwritten."),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw", default="0644"),
            host=dict(type="str"),
            sources=dict(type="dict", default={}),
            service_user=dict(type="str"),
            service_name=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        module.fail_json(msg="%sdirectory %s does not exist (is the aerospike package installed?)"
                         % ("host %s: " % params["host"] if params["host"] else "", directory), path=path)
    before = read_text(path) if os.path.exists(path) else None
    try:
        after = new_content(params, before)
    except AerospikeConfError as exc:
        module.fail_json(msg=describe(exc.problems, params["host"], params["sources"]), path=path,
                         problems=["%s: %s" % problem for problem in exc.problems])

    changed = before != after
    if changed and not module.check_mode:
        write_atomically(module, path, after)
    result = dict(changed=changed, path=path, content=after)
    if params["service_name"]:
        result["service_installed"] = unit_installed(module, params["service_name"])
    if module._diff:
        result["diff"] = dict(before="" if before is None else before, after=after,
                              before_header=path, after_header=path)
    if os.path.exists(path):
        # Only owner, group and mode are options here; the SELinux and attribute keys come back None.
        file_args = module.load_file_common_arguments(params, path=path)
        file_args["owner"], file_args["group"] = file_owner(params)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
