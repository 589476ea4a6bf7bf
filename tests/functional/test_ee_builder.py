# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An execution environment that includes the collection, up to the point an image build needs podman.

`ansible-builder create` writes the build context for an EE definition that installs the built
artifact; the context's own introspect script (the step the image build runs after installing
the collections) then reads meta/execution-environment.yml of the collection installed from
that artifact. No image is built and nothing is fetched.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import subprocess

import yaml

from ansible_cli import BIN, ROOT

EE_DEFINITION = """\
version: 3
images:
  base_image:
    name: registry.invalid/ee-base:latest  # create never pulls it
dependencies:
  ansible_core:
    package_pip: ansible-core
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: %s
        type: file
"""


def run(*argv, **kwargs):
    result = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False, **kwargs)
    assert result.returncode == 0, "%s\n%s" % (" ".join(argv), result.stdout)
    return result.stdout


def requirement_lines(name):
    with open(os.path.join(ROOT, name)) as fh:
        return [line.split("#", 1)[0].strip() for line in fh if line.split("#", 1)[0].strip()]


def test_ee_build_context_and_introspection(tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"))
    run(os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist"), ROOT,
        env=env)
    artifact, = glob.glob(str(tmp_path / "dist" / "clusterfabric-multilink-*.tar.gz"))
    # --force: the dev venv's .pth puts build/collections on sys.path, where ansible-galaxy would
    # find the collection "already installed" and install nothing.
    run(os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force",
        "-p", str(tmp_path / "collections"), artifact, env=env)

    # Without the meta file ansible-builder would guess from the root files, so check it was packed.
    installed = tmp_path / "collections" / "ansible_collections" / "clusterfabric" / "multilink"
    meta = yaml.safe_load((installed / "meta" / "execution-environment.yml").read_text())
    assert all((installed / name).is_file() for name in meta["dependencies"].values()), meta

    (tmp_path / "ee.yml").write_text(EE_DEFINITION % artifact)
    run(os.path.join(BIN, "ansible-builder"), "create", "-f", str(tmp_path / "ee.yml"),
        "-c", str(tmp_path / "context"), cwd=str(tmp_path))
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert "introspect.py introspect" in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy["collections"] == [{"name": artifact, "type": "file"}]

    out = run(BIN + "/python", str(context / "_build" / "scripts" / "introspect.py"), "introspect",
              "--write-pip", str(tmp_path / "pip.txt"), "--write-bindep", str(tmp_path / "bindep.txt"),
              str(tmp_path / "collections"))
    data = yaml.safe_load(out[out.index("---"):])
    origin = "  # from collection clusterfabric.multilink"
    assert data["python"] == [line + origin for line in requirement_lines("requirements.txt")]
    assert data["system"] == [line + origin for line in requirement_lines("bindep.txt")]
    assert (tmp_path / "pip.txt").read_text().splitlines() == data["python"]
