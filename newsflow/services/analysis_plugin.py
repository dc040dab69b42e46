"""newsflow's text-analysis plugin for the local Elasticsearch: built from source, installed before the node starts.

The integ-test distribution has no analysis-common module (docs/elasticsearch-local.md). The plugin, whose
Java source is in `analysis-plugin/` beside this module, brings the part of that module newsflow's index
uses (search/index.py), under its own names and with the same settings: `newsflow_stemmer` (languages
`english`, `possessive_english`, `russian`), `newsflow_keyword_repeat`, `newsflow_remove_duplicates`,
`newsflow_asciifolding`, `newsflow_pattern_replace` and `newsflow_mapping` (rules of one character to a
string), and `newsflow_folded_words`, one tokenizer for the folded words' tokenizer and filters. It is
written against Elasticsearch's stable plugin API, so it needs neither Gradle nor
Elasticsearch's build, only the JDK's `javac` and jars the distribution already ships; search/index.py
chooses between its names and analysis-common's by what the cluster has.

Steps (`install`):
1. The build's identity: a digest of the plugin's files, the descriptor's template and the Elasticsearch
   version. An installed plugin of that digest (its descriptor's `version`) is left alone.
2. A zip of that digest under <state_dir>/elasticsearch/analysis-plugin/ is reused; otherwise the sources
   are compiled with `javac --release 21` against the distribution's own lib/ (the stable plugin API jars,
   lucene-core and lucene-analysis-common: the node provides them at run time, so the plugin carries none),
   the classes packed into a jar, and the jar, stable-plugin-descriptor.properties and named_components.json
   into the plugin's zip.
3. An installed build of another digest is removed, and the zip installed with the distribution's
   `bin/elasticsearch-plugin install --batch file://...`.
"""

import hashlib
import os
import shutil
import subprocess
import zipfile
from importlib.resources import files
from pathlib import Path

from newsflow.errors import PrerequisiteMissing, ServiceError
from newsflow.services.base import write_from_template
from newsflow.services.jdk import Jdk

PLUGIN_NAME = "newsflow-analysis"
SOURCE = Path(str(files(__package__).joinpath("analysis-plugin")))
DESCRIPTOR_TEMPLATE = "analysis-plugin-descriptor.properties"
DESCRIPTOR = "stable-plugin-descriptor.properties"
NAMED_COMPONENTS = "named_components.json"
# What the plugin compiles against, from the distribution's lib/; each pattern must match one jar.
COMPILE_CLASSPATH = (
    "elasticsearch-plugin-api-*.jar",
    "elasticsearch-plugin-analysis-api-*.jar",
    "lucene-core-*.jar",
    "lucene-analysis-common-*.jar",
)


def digest(elasticsearch_version: str) -> str:
    """The identity of a build: what it is made from, and the Elasticsearch it is made for."""
    hashed = hashlib.sha256(elasticsearch_version.encode())
    inputs = [*sorted(path for path in SOURCE.rglob("*") if path.is_file()), _descriptor_template()]
    for path in inputs:
        hashed.update(path.name.encode())
        hashed.update(path.read_bytes())
    return hashed.hexdigest()[:16]


def installed_version(distribution: Path) -> str | None:
    """The `version` of the plugin installed in `distribution`, or None if it has none."""
    try:
        descriptor = (distribution / "plugins" / PLUGIN_NAME / DESCRIPTOR).read_text()
    except OSError:
        return None
    versions = [line.removeprefix("version=") for line in descriptor.splitlines() if line.startswith("version=")]
    return versions[0].strip() if versions else None


def install(distribution: Path, elasticsearch_version: str, jdk: Jdk, java_release: int, folder: Path) -> bool:
    """Build (or reuse) the plugin for `distribution` and install it there; False if it was installed already."""
    version = digest(elasticsearch_version)
    if installed_version(distribution) == version:
        return False
    plugin_zip = folder / f"{PLUGIN_NAME}-{version}.zip"
    if not plugin_zip.is_file():
        build(distribution, elasticsearch_version, version, jdk, java_release, plugin_zip)
    tool = str(distribution / "bin" / "elasticsearch-plugin")
    environment = {"ES_JAVA_HOME": str(jdk.home)}
    log = folder / "install.log"
    if installed_version(distribution) is not None:
        _run([tool, "remove", PLUGIN_NAME], log, f"removing the old {PLUGIN_NAME}", environment)
    _run([tool, "install", "--batch", plugin_zip.as_uri()], log, f"installing {plugin_zip.name}", environment)
    return True


def build(distribution: Path, elasticsearch_version: str, version: str, jdk: Jdk, java_release: int, plugin_zip: Path) -> None:
    """Compile the plugin against `distribution`'s lib/ and pack it as `plugin_zip`."""
    javac = jdk.home / "bin" / "javac"
    if not javac.is_file():
        raise PrerequisiteMissing(
            f"elasticsearch: {jdk.home} has no javac, which builds newsflow's analysis plugin: "
            f"install a JDK ≥ {java_release} (not a JRE) or set NEWSFLOW_JAVA_HOME to one"
        )
    work = plugin_zip.parent / "build"
    shutil.rmtree(work, ignore_errors=True)  # classes of an older source must not end up in the jar
    classes = work / "classes"
    classes.mkdir(parents=True)
    classpath = [_one_jar(distribution / "lib", pattern) for pattern in COMPILE_CLASSPATH]
    sources = sorted(str(path) for path in (SOURCE / "src").rglob("*.java"))
    _run(
        [str(javac), "--release", str(java_release), "-d", str(classes), "-cp", ":".join(map(str, classpath)), *sources],
        work / "javac.log",
        "compiling newsflow's analysis plugin",
    )
    write_from_template(
        DESCRIPTOR_TEMPLATE,
        work / DESCRIPTOR,
        name=PLUGIN_NAME,
        version=version,
        elasticsearch_version=elasticsearch_version,
        java_version=java_release,
    )
    jar = work / f"{PLUGIN_NAME}.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(classes.rglob("*.class")):
            archive.write(path, path.relative_to(classes).as_posix())
    partial = plugin_zip.with_suffix(".partial")  # an interrupted build must not look finished
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in (jar, work / DESCRIPTOR, SOURCE / NAMED_COMPONENTS):
            archive.write(path, path.name)
    for stale in plugin_zip.parent.glob(f"{PLUGIN_NAME}-*.zip"):
        stale.unlink()
    partial.rename(plugin_zip)


def _descriptor_template() -> Path:
    return Path(str(files(__package__).joinpath("templates", DESCRIPTOR_TEMPLATE)))


def _one_jar(lib: Path, pattern: str) -> Path:
    found = sorted(lib.glob(pattern))
    if len(found) != 1:
        raise ServiceError(f"elasticsearch: {lib} should hold one {pattern}, found {len(found)}: reinstall the distribution")
    return found[0]


def _run(argv: list[str], log: Path, what: str, environment: dict[str, str] | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        completed = subprocess.run(
            argv,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(environment or {})},
        )
    if completed.returncode != 0:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        # javac's first error and the plugin tool's ERROR line or exception say what failed; stack frames do not.
        named = [
            line for line in lines if not line.startswith("at ") and ("error" in line.lower() or "exception" in line.lower())
        ]
        reason = (named or lines[-1:] or [f"exit status {completed.returncode}"])[0][:300]
        raise ServiceError(f"elasticsearch: {what} failed: {reason} (see {log})")
