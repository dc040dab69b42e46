"""Find an installed JDK of a given major version.

Machines often carry several JDKs (here: Debian's Java 17 as `java`, and a Temurin 25 beside
it). Kafka 4 needs Java ≥ 17 and Elasticsearch 9 needs Java ≥ 21, so the local services look
among all installed JDKs rather than trusting whichever `java` is first on PATH.
"""

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import PrerequisiteMissing

# Where Linux distributions and JDK vendors install JDKs.
JDK_PARENT_DIRS = (Path("/usr/lib/jvm"), Path("/usr/java"), Path("/opt/java"), Path("/opt"))


@dataclass(frozen=True, order=True)
class Jdk:
    major: int
    home: Path

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def read_jdk(home: Path) -> Jdk | None:
    """The JDK at `home`, from its `release` file; None when `home` is not a JDK."""
    try:
        release = (home / "release").read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', release, re.MULTILINE)
    if not match or not (home / "bin" / "java").is_file():
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_412" is Java 8
        major = int(match.group(2))
    return Jdk(major=major, home=home.resolve())


def candidate_homes(parent_dirs: tuple[Path, ...] = JDK_PARENT_DIRS) -> list[Path]:
    """JAVA_HOME, the home of `java` on PATH, and every directory under the usual parents."""
    homes = []
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    java_on_path = shutil.which("java")
    if java_on_path:
        homes.append(Path(java_on_path).resolve().parent.parent)
    for parent in parent_dirs:
        if parent.is_dir():
            homes.extend(sorted(child for child in parent.iterdir() if child.is_dir()))
    return homes


def installed_jdks(homes: list[Path]) -> list[Jdk]:
    """The distinct JDKs among `homes`, newest first."""
    found = {jdk.home: jdk for home in homes if (jdk := read_jdk(home))}
    return sorted(found.values(), reverse=True)


def find_jdk(minimum: int, explicit: Path | None = None, homes: list[Path] | None = None) -> Jdk:
    """The newest installed JDK of at least `minimum`, or the explicit one if it qualifies."""
    if explicit is not None:
        jdk = read_jdk(explicit)
        if jdk is None:
            raise PrerequisiteMissing(f"NEWSFLOW_JAVA_HOME={explicit} is not a JDK (no release file or bin/java)")
        if jdk.major < minimum:
            raise PrerequisiteMissing(
                f"NEWSFLOW_JAVA_HOME={explicit} is Java {jdk.major}; the local services need a JDK ≥ {minimum}"
            )
        return jdk
    jdks = installed_jdks(candidate_homes() if homes is None else homes)
    if not jdks:
        raise PrerequisiteMissing(
            f"Java not found: install a JDK ≥ {minimum} (e.g. apt-get install openjdk-{minimum}-jdk-headless)"
        )
    if jdks[0].major < minimum:
        seen = ", ".join(f"Java {jdk.major} at {jdk.home}" for jdk in jdks)
        raise PrerequisiteMissing(f"no JDK ≥ {minimum} found (only {seen}): install one or set NEWSFLOW_JAVA_HOME")
    return jdks[0]
