"""docker-compose.yml refers only to things that exist: no Docker engine is needed to check that.

Every image is built from this repository or is a pinned public image the README names; every
command is a real ``airflow`` or ``threadline`` command line (parsed by their own parsers) or a
script in the repository; every bind-mounted path exists; every environment variable is an Airflow
option, a variable threadline reads, or one the README documents. And the demo-init script really
builds the demo and stores the ERP's Airflow Connection (run here against SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.dags.conftest import AIRFLOW, REPO, dag_bag

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
README = (REPO / "README.md").read_text()
#: where the Dockerfile puts the repository in the image
IMAGE_WORKDIR = "/opt/threadline"
#: variables the compose file sets that the postgres image reads (its documented settings)
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def dockerfile_lines() -> list[str]:
    return [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_the_stack_has_every_service_a_user_needs():
    assert {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "steward", "demo-init", "demo-erp"} <= set(SERVICES)
    for name, service in SERVICES.items():
        for needed in service.get("depends_on", {}):
            assert needed in SERVICES, f"{name} depends on unknown service {needed}"


def test_every_image_is_built_here_or_is_a_pinned_image_the_readme_names():
    for name, service in SERVICES.items():
        if "build" in service:
            context = REPO / service["build"]
            assert (context / "Dockerfile").is_file(), name
        else:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image's version ({image})"
            assert image in README, f"{name}: the README's docker compose section must name {image}"
    base = next(line.split()[1] for line in dockerfile_lines() if line.startswith("FROM "))
    assert base in README


def test_every_path_the_dockerfile_copies_exists():
    for line in dockerfile_lines():
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (REPO / source).exists(), line


def test_every_bind_mount_exists_and_every_named_volume_is_declared():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name}: {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"


def _airflow_arguments_parse(argv: list[str]) -> None:
    from airflow.cli.cli_parser import get_parser

    get_parser().parse_args(argv)  # exits (SystemExit) on an unknown command or option


def _threadline_arguments_parse(argv: list[str]) -> None:
    import typer.main

    from threadline.cli import app

    def remaining(context) -> list[str]:  # what a group leaves for its subcommand (click 8.2 made it private)
        return [*getattr(context, "_protected_args", getattr(context, "protected_args", [])), *context.args]

    group = typer.main.get_command(app)
    context = group.make_context("threadline", list(argv))
    name, command, rest = group.resolve_command(context, remaining(context))
    while hasattr(command, "resolve_command"):  # a sub-group such as `db`
        context = command.make_context(name, rest, parent=context)
        name, command, rest = command.resolve_command(context, remaining(context))
    command.make_context(name, rest, parent=context)  # raises on an unknown option or a bad value


def _with_defaults(word: str) -> str:
    """A shell word with ``${VAR:-default}`` replaced by its default and other variables by a placeholder."""
    word = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", word)
    return re.sub(r"\$\{?\w+\}?", "value", word)


def command_lines(text: str) -> list[list[str]]:
    """The ``airflow``/``threadline`` command lines of a shell script or ``bash -c`` text, as words."""
    joined = text.replace("\\\n", " ")
    lines = []
    for statement in re.split(r"[;\n]|&&|\|\|", joined):
        words = [_with_defaults(w) for w in shlex.split(statement.split(">")[0], comments=True)]
        if words and words[0] == "exec":
            words = words[1:]
        if words and words[0] in ("airflow", "threadline"):
            lines.append(words)
    return lines


def check_command(argv: list[str], where: str) -> None:
    if argv[0] == "airflow":
        _airflow_arguments_parse(argv[1:])
    elif argv[0] == "threadline":
        _threadline_arguments_parse(argv[1:])
    else:
        raise AssertionError(f"{where}: unexpected program {argv[0]!r}")


def test_every_command_is_a_real_command_line():
    checked = 0
    for name, service in SERVICES.items():
        command = service.get("command")
        if command is None:
            continue
        if command[0] in ("airflow", "threadline"):
            check_command(command, name)
            checked += 1
        elif command[:2] == ["bash", "-c"]:
            lines = command_lines(command[2])
            assert lines, f"{name}: no command in {command[2]!r}"
            for argv in lines:
                check_command(argv, name)
                checked += 1
        else:
            assert command[0] == "bash" and command[1].startswith(IMAGE_WORKDIR + "/"), name
            script = REPO / command[1].removeprefix(IMAGE_WORKDIR + "/")
            assert script.is_file(), f"{name}: {script} does not exist"
            for argv in command_lines(script.read_text()):
                check_command(argv, f"{name} ({script.name})")
                checked += 1
    assert checked >= 9


def test_a_wrong_command_line_is_caught():
    with pytest.raises(SystemExit):
        _airflow_arguments_parse(["db", "migrat"])
    # click's usage errors (typer may bring its own copy of click, so they are matched by name)
    with pytest.raises(Exception, match="No such option: --hots") as caught:
        _threadline_arguments_parse(["demo-erp", "--hots", "0.0.0.0"])
    assert type(caught.value).__name__ == "NoSuchOption"
    with pytest.raises(Exception, match="No such command") as caught:
        _threadline_arguments_parse(["db", "upgrad"])
    assert type(caught.value).__name__ == "UsageError"
    _threadline_arguments_parse(["db", "upgrade"])


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_every_environment_variable_is_an_airflow_option_or_read_or_documented():
    from airflow.configuration import retrieve_configuration_description

    options = retrieve_configuration_description()
    code = "\n".join(p.read_text() for folder in ("threadline", "connectors", "docker")
                     for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".sh"))
    for name, service in SERVICES.items():
        for variable in environment_of(service):
            if variable.startswith("AIRFLOW__"):
                section, key = variable.removeprefix("AIRFLOW__").lower().split("__", 1)
                assert key in options.get(section, {}).get("options", {}), f"{name}: {variable} is no Airflow option"
            elif name == "postgres":
                assert variable in POSTGRES_IMAGE_VARIABLES, variable
            else:
                assert variable in code, f"{name}: nothing in threadline reads {variable}"
    substituted = set(re.findall(r"\$\{(\w+)", (REPO / "docker-compose.yml").read_text()))
    assert substituted, "the compose file takes its secrets from .env"
    for variable in substituted:
        assert variable in README, f"the README must say how to set {variable}"


def test_the_demo_init_script_builds_the_demo_and_stores_the_erp_connection(tmp_path, monkeypatch, airflow_db,
                                                                             pg_database):
    """What demo-init does in the stack, here: the Airflow database is SQLite, the warehouse PostgreSQL."""
    demo = tmp_path / "demo"
    env = {"THREADLINE_DEMO_DIR": str(demo), "THREADLINE_DEMO_SCALE": "20", "THREADLINE_ADMIN_PASSWORD": "pw-7f3a9c21",
           "THREADLINE_WAREHOUSE_URL": pg_database.url.render_as_string(hide_password=False)}
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    script_env = {**os.environ, "PATH": f"{Path(AIRFLOW).parent}:/usr/bin:/bin"}
    done = subprocess.run(["bash", str(REPO / "docker" / "demo-init.sh")], capture_output=True, text=True,
                          timeout=300, env=script_env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    password = (demo / "demo.env").read_text().strip().split("=", 1)[1]
    assert password not in done.stdout + done.stderr

    shown = subprocess.run([AIRFLOW, "connections", "get", "threadline_demo_erp", "-o", "yaml"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    connection = yaml.safe_load(shown.stdout)
    connection = connection[0] if isinstance(connection, list) else connection
    assert connection["login"] == "threadline" and connection["password"] == password

    config = yaml.safe_load((demo / "threadline.yaml").read_text())
    erp = next(s for s in config["sources"] if s["name"] == "erp_soap")
    assert erp["connection"]["endpoint"] == "http://demo-erp:8000/soap/purchasing"
    assert erp["connection_id"] == "threadline_demo_erp"
    assert config["warehouse"] == {"url_env": "THREADLINE_WAREHOUSE_URL"}
    bag = dag_bag(demo / "threadline.yaml", monkeypatch)
    assert not bag.import_errors and len(bag.dag_ids) == 5

    users = subprocess.run([str(Path(AIRFLOW).with_name("threadline")), "--config", str(demo / "threadline.yaml"),
                            "users", "list", "--json"], capture_output=True, text=True, timeout=120, env=script_env)
    assert [(u["user_name"], u["role"]) for u in json.loads(users.stdout)] == [("admin", "admin")]
    again = subprocess.run(["bash", str(REPO / "docker" / "demo-init.sh")], capture_output=True, text=True,
                           timeout=300, env=script_env)
    assert again.returncode == 0, again.stderr[-2000:]  # a second `docker compose up` keeps the demo and its user
