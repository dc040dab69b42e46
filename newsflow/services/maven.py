"""Bring service artifacts from Maven Central with Maven, into Maven's own cache (~/.m2).

Maven is the one download channel these machines have for Java software, and its cache makes
the second `newsflow services up` work without any network.
"""

import shutil
import subprocess
from pathlib import Path

from newsflow.errors import ArtifactResolutionFailed, PrerequisiteMissing

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def run_maven(arguments: list[str], what: str, log: Path) -> None:
    """Run `mvn` in batch mode; on failure raise with Maven's first error line and the log path."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteMissing(
            "Maven (mvn) not found: install it (e.g. apt-get install maven); "
            "the local services are resolved from Maven Central with it"
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        completed = subprocess.run(
            [mvn, "--batch-mode", "--no-transfer-progress", *arguments],
            cwd=log.parent,  # Maven writes its `target/` into the working directory: keep it ours
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if completed.returncode != 0:
        errors = [line for line in log.read_text(errors="replace").splitlines() if "[ERROR]" in line]
        reason = errors[0].replace("[ERROR]", "").strip() if errors else f"mvn exited with {completed.returncode}"
        raise ArtifactResolutionFailed(f"Maven could not resolve {what}: {reason[:300]} (see {log})")


def resolve_classpath(pom: Path, classpath_file: Path, log: Path) -> list[Path]:
    """The runtime classpath of the dependencies declared in `pom`, resolved once and cached."""
    if not _cached_classpath_is_valid(pom, classpath_file):
        run_maven(
            [
                "-f",
                str(pom),
                f"{DEPENDENCY_PLUGIN}:build-classpath",
                "-Dmdep.includeScope=runtime",
                f"-Dmdep.outputFile={classpath_file}",
            ],
            what=f"the dependencies of {pom}",
            log=log,
        )
    return [Path(entry) for entry in classpath_file.read_text().strip().split(":")]


def _cached_classpath_is_valid(pom: Path, classpath_file: Path) -> bool:
    if not classpath_file.is_file() or classpath_file.stat().st_mtime < pom.stat().st_mtime:
        return False
    entries = classpath_file.read_text().strip().split(":")
    return bool(entries) and all(Path(entry).is_file() for entry in entries)


def unpack(artifact: str, destination: Path, log: Path) -> None:
    """Resolve `group:artifact:version:type` and unpack it into `destination`."""
    run_maven(
        # The plugin skips artifacts its marker files say it unpacked before, wherever to: keep
        # the markers with the destination, so a new destination is always unpacked. Their folder
        # (markersDirectory) has no -D property; it defaults to ${project.build.directory}, which
        # without a pom stays "${project.basedir}/target", relative to the working directory,
        # unless project.basedir is given.
        [
            f"{DEPENDENCY_PLUGIN}:unpack",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={destination}",
            f"-Dproject.basedir={destination / '.maven-markers'}",
        ],
        what=artifact,
        log=log,
    )
