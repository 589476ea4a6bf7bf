# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""defaults/main.yml and meta/argument_specs.yml of every role say the same thing.

The fabric_contract action fills role variables from the spec's defaults, while a reader (and
ansible-doc) looks at defaults/main.yml: every option's spec default must equal the value in
defaults/main.yml, and every variable of defaults/main.yml must have a spec entry (the habit of
prometheus-community/ansible's argument_specs check).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = ("links", "nat", "aerospike")
# (role, variable): why defaults/main.yml may differ from the spec.
EXCEPTIONS = {
    ("aerospike", "aerospike_cluster_name"):
        "templated default ({{ fabric_cluster_group }}) for readers; a spec default cannot be a template, "
        "so the spec has none and the contract uses the host's cluster name",
}


def load(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts)) as handle:
        return yaml.safe_load(handle) or {}


def options(role):
    return load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_every_spec_default_is_the_value_of_defaults_main(role):
    defaults = load(role, "defaults", "main.yml")
    wrong = []
    for name, spec in options(role).items():
        if (role, name) in EXCEPTIONS:
            continue
        if "default" in spec:
            if name not in defaults:
                wrong.append("%s: spec default %r, missing from defaults/main.yml" % (name, spec["default"]))
            elif defaults[name] != spec["default"]:
                wrong.append("%s: spec default %r, defaults/main.yml %r" % (name, spec["default"], defaults[name]))
        elif defaults.get(name) is not None:
            wrong.append("%s: no spec default, defaults/main.yml %r" % (name, defaults[name]))
    assert not wrong, "roles/%s: %s" % (role, "; ".join(wrong))


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_spec_entry(role):
    missing = sorted(set(load(role, "defaults", "main.yml")) - set(options(role)))
    assert not missing, "roles/%s/defaults/main.yml sets variables its argument spec lacks: %s" % (role, missing)


def test_every_exception_still_applies():
    for role, name in EXCEPTIONS:
        assert name in options(role) and "default" not in options(role)[name]
        assert name in load(role, "defaults", "main.yml")
