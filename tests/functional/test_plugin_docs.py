# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`ansible-doc` shows every module and filter of the collection, with EXAMPLES.

Plugins are found by listing plugins/modules and plugins/filter (and whatever
`ansible-doc --list` names), so a plugin added later is checked without editing this file.
The last test runs the same check on a throw-away collection whose plugins lack EXAMPLES,
to show that it catches them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

import pytest
import yaml

from ansible_cli import BIN, ROOT

COLLECTION = "clusterfabric.multilink"
COLLECTIONS_PATH = os.path.join(ROOT, "build", "collections")
PLUGIN_DIRS = {"module": "modules", "filter": "filter"}


def plugin_files(collection_root, kind):
    """Plugin names of one kind, from the file names under plugins/."""
    directory = os.path.join(collection_root, "plugins", PLUGIN_DIRS[kind])
    if not os.path.isdir(directory):
        return []
    return sorted(name[:-3] for name in os.listdir(directory)
                  if name.endswith(".py") and name != "__init__.py")


def ansible_doc(collections_path, *args):
    """`ansible-doc --json ...` parsed; stderr kept apart so warnings cannot spoil the JSON."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1")
    result = subprocess.run([os.path.join(BIN, "ansible-doc"), "--json"] + list(args), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def doc_problems(collections_path, collection, collection_root, kind):
    """{plugin name: what is wrong, or None} for every plugin of ``kind`` in the collection."""
    listed, dummy = ansible_doc(collections_path, "-t", kind, "--list", collection)
    names = set(plugin_files(collection_root, kind))
    names.update(fqcn[len(collection) + 1:] for fqcn in listed)
    docs, stderr = ansible_doc(collections_path, "-t", kind, *[collection + "." + name for name in sorted(names)])
    problems = {}
    for name in sorted(names):
        fqcn = collection + "." + name
        entry = docs.get(fqcn)
        if not entry or not entry.get("doc"):
            problems[name] = "ansible-doc shows no documentation: %s" % stderr.strip()
        elif fqcn not in listed:
            problems[name] = "missing from ansible-doc --list (file name and plugin name differ?)"
        elif not (entry.get("examples") or "").strip():
            problems[name] = "no EXAMPLES"
        else:
            try:
                examples = yaml.safe_load(entry["examples"])
            except yaml.YAMLError as exc:
                problems[name] = "EXAMPLES is not YAML: %s" % exc
            else:
                problems[name] = None if examples else "EXAMPLES holds only comments"
    return problems


@pytest.fixture(scope="module")
def problems():
    """One ansible-doc run per plugin type for the whole module."""
    return {kind: doc_problems(COLLECTIONS_PATH, COLLECTION, ROOT, kind) for kind in PLUGIN_DIRS}


PLUGINS = [(kind, name) for kind in sorted(PLUGIN_DIRS) for name in plugin_files(ROOT, kind)]


def test_the_collection_has_modules_and_filters():
    kinds = {kind for kind, dummy in PLUGINS}
    assert kinds == set(PLUGIN_DIRS), PLUGINS


@pytest.mark.parametrize("kind, name", PLUGINS, ids=["%s-%s" % plugin for plugin in PLUGINS])
def test_ansible_doc_shows_examples(problems, kind, name):
    assert problems[kind][name] is None, "%s %s.%s: %s" % (kind, COLLECTION, name, problems[kind][name])


def test_every_plugin_ansible_doc_lists_is_checked(problems):
    """A plugin ansible-doc knows under another name than its file (several filters in a file)."""
    for kind in PLUGIN_DIRS:
        extra = {name: problem for name, problem in problems[kind].items() if name not in plugin_files(ROOT, kind)}
        assert all(problem is None for problem in extra.values()), extra


MODULE = '''#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
DOCUMENTATION = r"""
module: %(name)s
short_description: A module for the test
description: [A module for the test.]
author: [test]
options: {}
"""
%(examples)s
RETURN = r""" # """
from ansible.module_utils.basic import AnsibleModule


def main():
    AnsibleModule(argument_spec={}).exit_json()


if __name__ == "__main__":
    main()
'''

FILTER = '''# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
DOCUMENTATION = r"""
name: %(name)s
short_description: A filter for the test
description: [A filter for the test.]
author: [test]
positional: _input
options:
  _input: {description: Anything., type: raw, required: true}
"""
%(examples)s
RETURN = r"""
_value: {description: The input., type: raw}
"""


def %(name)s(value):
    return value


class FilterModule(object):
    def filters(self):
        return {"%(name)s": %(name)s}
'''


def test_the_check_finds_plugins_without_examples(tmp_path):
    root = tmp_path / "ansible_collections" / "cftest" / "docs"
    (root / "plugins" / "modules").mkdir(parents=True)
    (root / "plugins" / "filter").mkdir(parents=True)
    (root / "galaxy.yml").write_text("namespace: cftest\nname: docs\nversion: 1.0.0\nreadme: README.md\nauthors: [test]\n")
    cases = {
        ("module", "has_examples"): 'EXAMPLES = r"""\n- name: Run it\n  cftest.docs.has_examples:\n"""',
        ("module", "no_examples"): "",
        ("filter", "has_examples"): 'EXAMPLES = r"""\nvalue: "{{ 1 | cftest.docs.has_examples }}"\n"""',
        ("filter", "no_examples"): "",
        ("filter", "comment_examples"): 'EXAMPLES = r"""\n# nothing here\n"""',
        ("filter", "bad_examples"): 'EXAMPLES = r"""\nvalue: [unclosed\n"""',
    }
    for (kind, name), examples in cases.items():
        template = MODULE if kind == "module" else FILTER
        (root / "plugins" / PLUGIN_DIRS[kind] / (name + ".py")).write_text(template % {"name": name, "examples": examples})

    found = {kind: doc_problems(str(tmp_path), "cftest.docs", str(root), kind) for kind in PLUGIN_DIRS}

    assert found["module"] == {"has_examples": None, "no_examples": "no EXAMPLES"}
    assert found["filter"]["has_examples"] is None
    assert found["filter"]["no_examples"] == "no EXAMPLES"
    assert found["filter"]["comment_examples"] == "EXAMPLES holds only comments"
    assert found["filter"]["bad_examples"].startswith("EXAMPLES is not YAML")
