"""The Dockerfile, checked without a Docker engine: it installs the same pyproject.toml, runs
as a non-root user, keeps the database on a volume and health-checks /healthz."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).parent.parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_installs_the_projects_own_pyproject() -> None:
    steps = instructions()
    copies = [args for keyword, args in steps if keyword == "COPY"]
    assert any("pyproject.toml" in args.split() for args in copies)
    runs = " && ".join(args for keyword, args in steps if keyword == "RUN")
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", runs)
    assert "requirements" not in runs  # one source of truth for dependencies


def test_runs_as_a_non_root_user_with_the_database_on_a_volume() -> None:
    steps = instructions()
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    # The user switch comes after the last RUN that needs root.
    last_user = max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in steps[last_user:])
    volumes = [args for keyword, args in steps if keyword == "VOLUME"]
    assert volumes
    assert "/data" in volumes[-1]
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert "JOBHOUND_DB=/data/" in env


def test_healthcheck_calls_healthz_with_python_only() -> None:
    checks = [args for keyword, args in instructions() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv = ast.literal_eval(command.strip())  # exec form: a JSON array of strings
    assert argv[:2] == ["python", "-c"]
    code = argv[2]
    ast.parse(code)  # the one-liner is valid Python
    assert "urllib.request.urlopen" in code
    assert "/healthz" in code
    assert "curl" not in checks[0]
    assert "wget" not in checks[0]
    port = re.search(r":(\d+)/healthz", code)
    listen = [
        args for keyword, args in instructions() if keyword == "ENV" and "HTTP_LISTEN" in args
    ]
    assert port
    assert listen
    assert listen[0].endswith(f":{port.group(1)}")


def test_make_image_builds_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^image:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe
    assert shlex.split(recipe.group(1)) == ["docker", "build", "-t", "jobhound", "."]


async def test_the_healthcheck_command_fails_on_503_and_passes_on_200() -> None:
    import asyncio
    import sys

    from bot.httpapi import HttpApi
    from bot.metrics import Metrics
    from tests.fetchkit import within

    checks = [args for keyword, args in instructions() if keyword == "HEALTHCHECK"]
    code = ast.literal_eval(checks[0].partition("CMD")[2].strip())[2]
    verdict = [True]
    api = HttpApi("127.0.0.1", 0, metrics=Metrics([]), health=lambda: (verdict[0], {}))
    async with api:
        probe = code.replace(":9464/", f":{api.port}/")
        codes = []
        for ok in (True, False):
            verdict[0] = ok
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                probe,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            codes.append(await within(process.wait(), 60))
    assert codes[0] == 0
    assert codes[1] != 0
