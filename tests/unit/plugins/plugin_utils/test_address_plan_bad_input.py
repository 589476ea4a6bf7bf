# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad-input corpus: every case must fail and name what is at fault."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

FAB0 = {"name": "fab0", "subnet": "198.18.0.0/24"}
FAB1 = {"name": "fab1", "subnet": "198.18.1.0/24"}


def link(**kwargs):
    spec = dict(FAB0)
    spec.update(kwargs)
    return spec


def bond(**kwargs):
    spec = {"policy": "layer2+3", "slaves": 2}
    spec.update(kwargs)
    return link(bond_hash=spec)


# (case id, nodes, links, substrings the message must contain)
CORPUS = [
    ("duplicate-node-id", {"db1": 3, "db2": 3}, [FAB0], ["db1", "db2", "3"]),
    ("node-id-zero", {"db1": 0}, [FAB0], ["db1", "fabric_node_id", "0"]),
    ("node-id-negative", {"db7": -2}, [FAB0], ["db7", "-2"]),
    ("node-id-float", {"db1": 1.5}, [FAB0], ["db1", "1.5"]),
    ("node-id-bool", {"db1": True}, [FAB0], ["db1", "True"]),
    ("node-id-text", {"db1": "one"}, [FAB0], ["db1", "'one'"]),
    ("node-id-superscript-digit", {"db1": "\u00b2"}, [FAB0], ["db1", "fabric_node_id"]),
    ("node-id-missing", {"db1": None}, [FAB0], ["db1", "has no fabric_node_id"]),
    ("nodes-not-mapping", ["db1", "db2"], [FAB0], ["mapping", "db1"]),
    ("links-not-list", {"db1": 1}, FAB0, ["fabric_links", "list"]),
    ("links-empty", {"db1": 1}, [], ["fabric_links", "empty"]),
    ("link-not-mapping", {"db1": 1}, ["fab0"], ["fabric_links[0]", "'fab0'"]),
    ("link-name-upper", {"db1": 1}, [link(name="Fab0")], ["'Fab0'"]),
    ("link-name-trailing-newline", {"db1": 1}, [link(name="fab0\n")], ["'fab0\\n'"]),
    ("link-name-too-long", {"db1": 1}, [link(name="a234567890123456")], ["'a234567890123456'"]),
    ("link-name-newline", {"db1": 1}, [link(name="fab0\nx")], ["'fab0\\nx'"]),
    ("link-name-missing", {"db1": 1}, [{"subnet": "198.18.0.0/24"}], ["fabric_links[0]", "None"]),
    ("link-name-duplicate", {"db1": 1}, [FAB0, link(subnet="198.18.1.0/24")], ["fab0", "twice", "fabric_links[1]"]),
    ("subnet-missing", {"db1": 1}, [{"name": "fab0"}], ["fab0", "subnet", "None"]),
    ("subnet-garbage", {"db1": 1}, [link(subnet="198.18.0.0/33")], ["fab0", "198.18.0.0/33"]),
    ("subnet-no-prefix", {"db1": 1}, [link(subnet="198.18.0.0")], ["fab0", "198.18.0.0"]),
    ("subnet-host-bits", {"db1": 1}, [link(subnet="198.18.0.1/24")], ["fab0", "198.18.0.1/24", "198.18.0.0/24"]),
    ("subnet-v6-host-bits", {"db1": 1}, [link(subnet="2001:db8::1/64")], ["fab0", "2001:db8::1/64"]),
    ("subnets-overlap", {"db1": 1}, [link(subnet="198.18.0.0/16"), dict(FAB1)], ["fab0", "fab1", "198.18.0.0/16", "198.18.1.0/24"]),
    ("subnets-identical", {"db1": 1}, [FAB0, link(name="fab9")], ["fab0", "fab9"]),
    ("capacity-exceeded", {"db1": 1, "db250": 250}, [FAB0], ["db250", "fab0", "198.18.1.4", "1-244"]),
    ("capacity-per-node", {"db9": 9}, [link(subnet="198.18.0.0/28", offset=0, addresses_per_node=2)],
     ["db9", "fab0", "198.18.0.17"]),
    ("broadcast", {"db245": 245}, [FAB0], ["db245", "fab0", "198.18.0.255", "broadcast"]),
    ("offset-negative", {"db1": 1}, [link(subnet="198.18.0.0/24", offset=-1)], ["fab0", "offset", "-1"]),
    ("excluded", {"db1": 1, "db2": 2}, [link(exclude=["198.18.0.12"])], ["db2", "fab0", "198.18.0.12", "excluded"]),
    ("excluded-range", {"db5": 5}, [link(exclude=["198.18.0.12/30"])], ["fab0", "198.18.0.12/30"]),
    ("exclude-outside", {"db1": 1}, [link(exclude=["10.0.0.1"])], ["fab0", "10.0.0.1"]),
    ("exclude-garbage", {"db1": 1}, [link(exclude=["nope"])], ["fab0", "'nope'"]),
    ("exclude-not-list", {"db1": 1}, [link(exclude="198.18.0.5")], ["fab0", "exclude", "198.18.0.5"]),
    ("offset-text", {"db1": 1}, [link(offset="10")], ["fab0", "offset", "'10'"]),
    ("per-node-zero", {"db1": 1}, [link(addresses_per_node=0)], ["fab0", "addresses_per_node", "0"]),
    ("bond-hash-layer34", {"db1": 1}, [bond(policy="layer3+4")], ["fab0", "layer3+4", "port"]),
    ("bond-hash-encap34", {"db1": 1}, [bond(policy="encap3+4")], ["fab0", "encap3+4", "port"]),
    ("bond-hash-layer2", {"db1": 1}, [bond(policy="layer2")], ["fab0", "layer2", "MAC"]),
    ("bond-hash-unknown-policy", {"db1": 1}, [bond(policy="layer9")], ["fab0", "'layer9'"]),
    ("bond-hash-three-slaves", {"db1": 1}, [bond(slaves=3)], ["fab0", "slaves 3", "power of two"]),
    ("bond-hash-one-slave", {"db1": 1}, [bond(slaves=1)], ["fab0", "slaves", "1"]),
    ("bond-hash-float-kernel", {"db1": 1}, [bond(kernel=5.10)], ["fab0", "5.1", "string"]),
    ("bond-hash-old-kernel", {"db1": 1}, [bond(kernel="4.9")], ["fab0", "4.9"]),
    ("bond-hash-per-node-mismatch", {"db1": 1}, [dict(bond(), addresses_per_node=3)], ["fab0", "addresses_per_node", "3", "2"]),
    ("bond-hash-unknown-key", {"db1": 1}, [bond(slave=2)], ["fab0", "slave"]),
    ("bond-hash-not-mapping", {"db1": 1}, [link(bond_hash="layer2+3")], ["fab0", "'layer2+3'"]),
]


@pytest.mark.parametrize("nodes, links, needles", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_bad_input_is_refused_with_a_message_naming_the_culprit(nodes, links, needles):
    with pytest.raises(FabricError) as caught:
        plan_addresses(nodes, links)
    message = str(caught.value)
    for needle in needles:
        assert needle in message, "%r not in %r" % (needle, message)


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 20
