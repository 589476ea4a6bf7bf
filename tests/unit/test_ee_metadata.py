# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution-environment metadata: meta/execution-environment.yml and the files it names.

ansible-builder reads them from the installed collection when it builds an EE; the functional
test tests/functional/test_ee_builder.py runs that step on the built artifact.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os
import sys

import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
META = os.path.join(ROOT, "meta", "execution-environment.yml")

# Libraries some plugin imports that an EE does not get by default, and why.
OPTIONAL = {
    "jsonschema": "only aerospike_schema.validate_against, which the tests use",
    "matplotlib": "only the throughput_plot module (the PNG charts of verify.yml)",
}


def load_meta():
    with open(META) as fh:
        return yaml.safe_load(fh)


def dependency_file(entry):
    return os.path.join(ROOT, load_meta()["dependencies"][entry])


def requirement_lines(path):
    with open(path) as fh:
        return [line.split("#", 1)[0].strip() for line in fh if line.split("#", 1)[0].strip()]


# ansible-core itself and what it requires (jinja2, PyYAML): present wherever the plugins run.
ANSIBLE_CORE = ("ansible", "ansible_collections", "__future__", "jinja2", "yaml")


def third_party_imports():
    """{top-level module: [files]} for every import under plugins/ outside the stdlib and Ansible."""
    found = {}
    for directory, dummy, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            with open(path) as fh:
                tree = ast.parse(fh.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ANSIBLE_CORE:
                        found.setdefault(top, []).append(os.path.relpath(path, ROOT))
    return found


def test_meta_is_version_1_with_python_and_system_files():
    meta = load_meta()
    assert meta["version"] == 1
    assert set(meta["dependencies"]) == {"python", "system"}


def test_referenced_files_are_relative_and_exist():
    for entry, relative in load_meta()["dependencies"].items():
        # ansible-builder refuses absolute paths; they are relative to the collection root.
        assert not os.path.isabs(relative), (entry, relative)
        path = os.path.normpath(os.path.join(ROOT, relative))
        assert path.startswith(ROOT + os.sep) and os.path.isfile(path), (entry, relative)


def test_python_requirements_parse():
    lines = requirement_lines(dependency_file("python"))
    assert lines
    for line in lines:
        Requirement(line)  # raises InvalidRequirement


def test_system_requirements_parse_as_bindep():
    with open(dependency_file("system")) as fh:
        text = fh.read()
    Depends(text)  # raises on a syntax error, as ansible-builder's bindep would
    assert text.strip(), "an empty bindep.txt should at least say why it is empty"


def test_every_library_the_plugins_import_is_required_or_known_optional():
    required = {Requirement(line).name.lower() for line in requirement_lines(dependency_file("python"))}
    imported = third_party_imports()
    assert "netaddr" in imported  # the planner; proves the scan sees imports at all
    unlisted = {module: files for module, files in imported.items()
                if module.lower() not in required and module not in OPTIONAL}
    assert not unlisted, "add to requirements.txt or OPTIONAL: %s" % unlisted
    assert not set(OPTIONAL) & required, "a library is both optional and required"
