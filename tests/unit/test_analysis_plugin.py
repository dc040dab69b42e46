"""newsflow's analysis plugin without Elasticsearch: its components, its build's identity, when it is (re)installed."""

import json
import re
import shutil
from pathlib import Path

import pytest

from newsflow.errors import PrerequisiteMissing
from newsflow.services import analysis_plugin
from newsflow.services.analysis_plugin import DESCRIPTOR, NAMED_COMPONENTS, PLUGIN_NAME, SOURCE, digest, install
from newsflow.services.jdk import Jdk

ANNOTATED_CLASS = re.compile(r'@NamedComponent\("(\w+)"\)\s*public class (\w+) implements (\w+)')


def test_named_components_json_lists_exactly_the_annotated_classes():
    annotated: dict[str, dict[str, str]] = {}
    for source in (SOURCE / "src").rglob("*.java"):
        for name, class_name, interface in ANNOTATED_CLASS.findall(source.read_text()):
            package = re.search(r"^package ([\w.]+);", source.read_text(), re.MULTILINE)
            assert package, source
            annotated.setdefault(f"org.elasticsearch.plugin.analysis.{interface}", {})[name] = f"{package[1]}.{class_name}"
    assert json.loads((SOURCE / NAMED_COMPONENTS).read_text()) == annotated


def test_the_build_changes_with_the_elasticsearch_version_and_the_source(tmp_path, monkeypatch):
    before = digest("9.5.4")
    assert digest("9.5.4") == before and digest("9.6.0") != before
    copy = tmp_path / "analysis-plugin"
    shutil.copytree(SOURCE, copy)
    monkeypatch.setattr(analysis_plugin, "SOURCE", copy)
    assert digest("9.5.4") == before
    next(copy.rglob("*.java")).write_text("// changed\n", encoding="utf-8")
    assert digest("9.5.4") != before


def installed(distribution: Path, version: str) -> None:
    plugin = distribution / "plugins" / PLUGIN_NAME
    plugin.mkdir(parents=True)
    (plugin / DESCRIPTOR).write_text(f"name={PLUGIN_NAME}\nversion={version}\nelasticsearch.version=9.5.4\n")


def test_a_plugin_of_this_build_is_left_alone(tmp_path):
    installed(tmp_path / "dist", digest("9.5.4"))
    jdk = Jdk(major=25, home=tmp_path / "no-jdk")  # nothing may be compiled or run
    assert install(tmp_path / "dist", "9.5.4", jdk, 21, tmp_path / "plugin") is False


def test_building_without_javac_names_what_to_install(tmp_path):
    installed(tmp_path / "dist", "an-older-build")
    jre = tmp_path / "jre"
    (jre / "bin").mkdir(parents=True)
    (jre / "bin" / "java").write_text("#!/bin/sh\n")
    with pytest.raises(PrerequisiteMissing, match=r"has no javac, .*install a JDK ≥ 21 \(not a JRE\) or set NEWSFLOW_JAVA_HOME"):
        install(tmp_path / "dist", "9.5.4", Jdk(major=21, home=jre), 21, tmp_path / "plugin")
