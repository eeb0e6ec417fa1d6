"""The deployment recipe stays true: docs/deploy.md and the files in deploy/ name only settings
that exist (and every one that does), and only `evidence` commands and options that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from evidence_service.cli import main
from evidence_service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: `evidence ARGS` at the start of a line, after `docker compose exec web`, or as the venv's path.
INVOCATION = re.compile(r"(?:^|exec web |/\.venv/bin/)evidence\s+([^|;&'\n]*)")
SETTING = re.compile(r"^#?\s*(EVIDENCE_[A-Z0-9_]+)=", re.MULTILINE)


def _settings() -> set[str]:
    return {f"EVIDENCE_{name.upper()}" for name in Settings.model_fields}


def _check_command(words: list[str], where: str) -> None:
    """``words`` (after ``evidence``) name a real command, and its --options exist."""
    command: click.Command = main
    ctx = click.Context(main)
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        found = command.get_command(ctx, rest.pop(0))
        assert found is not None, f"{where}: `evidence {' '.join(words)}` is not a command"
        command = found
    assert not isinstance(command, click.Group), f"{where}: `evidence {' '.join(words)}` is a group"
    options = {opt for param in command.params for opt in param.opts} | {"--help"}
    for word in rest:
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            assert flag in options, f"{where}: `evidence {' '.join(words)}`: no option {flag}"


def _evidence_words(command_line: str) -> list[str] | None:
    found = INVOCATION.search(command_line)
    return shlex.split(found.group(1), comments=True) if found else None


def test_env_template_lists_every_setting_and_only_settings() -> None:
    named = set(SETTING.findall((DEPLOY / "evidence.env.example").read_text(encoding="utf-8")))
    assert named, "no EVIDENCE_ setting found in the template"
    assert not named - _settings(), f"not settings of config.py: {sorted(named - _settings())}"
    assert not _settings() - named, f"missing from the template: {sorted(_settings() - named)}"


@pytest.mark.parametrize(
    "unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")), ids=str
)
def test_systemd_units_run_real_commands(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
    starts = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    assert len(starts) == 1, f"{unit}: one ExecStart expected"
    words = shlex.split(starts[0])
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(words[2])
    evidence = _evidence_words(shlex.join(words))
    assert evidence, f"{unit}: ExecStart does not run `evidence`"
    _check_command(evidence, unit)
    assert "EnvironmentFile=/etc/evidence/evidence.env" in text


def test_compose_file_parses_and_runs_real_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "minio", "web", "worker", "nginx"} <= set(services)
    for name in ("web", "worker"):
        service = services[name]
        _check_command(list(service["command"]), f"docker-compose.yml {name}")
        unknown = {k for k in service["environment"] if k.startswith("EVIDENCE_")} - _settings()
        assert not unknown, f"{name}: not settings: {sorted(unknown)}"
        assert service["env_file"] == ["evidence.env"]
    build = services["web"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    assert (DEPLOY / "evidence.env.example").is_file()
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./") and not source.endswith("/tls"):
            assert (DEPLOY / source).is_file(), volume
    assert "${UPSTREAM}" in (DEPLOY / "nginx" / "evidence.conf.template").read_text()


def test_deploy_md_commands_exist() -> None:
    """Every `evidence ...` line in the shell blocks of docs/deploy.md is a real command with
    real options, and every setting it names is one."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    assert blocks
    checked = 0
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            for args in INVOCATION.findall(line.strip()):
                _check_command(shlex.split(args, comments=True), f"docs/deploy.md: {line.strip()}")
                checked += 1
    assert checked >= 10, checked
    named = set(re.findall(r"\b(EVIDENCE_[A-Z0-9_]+)\b", text))
    prefixes = {n for n in named if n.endswith("_")}  # EVIDENCE_S3_* and the like
    unknown = {n for n in named - prefixes if n not in _settings()}
    assert not unknown, f"docs/deploy.md names settings that do not exist: {sorted(unknown)}"
    for prefix in prefixes:
        assert any(s.startswith(prefix) for s in _settings()), prefix
