"""What each instruction does to a stage's config and build environment (pure)."""

from __future__ import annotations

import pytest

from cais.build import instructions as ins
from cais.build.parse import parse_dockerfile
from cais.build.state import (
    DEFAULT_PATH,
    InstructionError,
    StageState,
    apply_arg,
    apply_metadata,
    apply_workdir,
    command_args,
    global_scope,
    normalize_workdir,
    start_stage,
)
from cais.build.words import Lexer
from cais.oci.config import ContainerConfig, HealthConfig

LEX = Lexer()


def steps(text: str) -> tuple[ins.Instruction, ...]:
    return parse_dockerfile("FROM scratch\n" + text).stages[0].instructions


def apply(state: StageState, text: str, **build_args: str) -> StageState:
    for instruction in steps(text):
        if isinstance(instruction, ins.Arg):
            state = apply_arg(
                state, instruction, build_args=build_args, global_args={"G": "global"}, lexer=LEX
            ).state
        elif isinstance(instruction, ins.Workdir):
            state = apply_workdir(state, instruction, lexer=LEX).state
        else:
            state = apply_metadata(state, instruction, lexer=LEX).state
    return state


def fresh() -> StageState:
    return start_stage(ContainerConfig(env=("PATH=/bin",), cmd=("sh",), on_build=("RUN x",)))


def test_start_stage_sets_path_and_drops_triggers() -> None:
    state = start_stage(ContainerConfig())
    assert state.config.env == (f"PATH={DEFAULT_PATH}",)
    assert state.environment() == {"PATH": DEFAULT_PATH}
    assert fresh().config.on_build == ()


def test_env_replaces_in_place_and_sees_the_previous_environment() -> None:
    state = apply(fresh(), "ENV A=1 PATH=/usr/bin:$PATH\nENV B=$A C=${A}x\nENV A=2\n")
    assert state.config.env == ("PATH=/usr/bin:/bin", "A=2", "B=1", "C=1x")
    one_line = apply(fresh(), "ENV X=1 Y=$X\n")
    assert one_line.environment()["Y"] == ""  # values on one line see the old environment


def test_env_quotes_and_escapes() -> None:
    state = apply(fresh(), "ENV A=\"a b\" B='$HOME' C=\\$x\n")
    env = dict(e.partition("=")[::2] for e in state.config.env)
    assert env["A"] == "a b" and env["B"] == "$HOME" and env["C"] == "$x"
    state = apply(fresh(), "ENV D hello  world\n")
    assert state.environment()["D"] == "hello  world"


def test_arg_values_scoping_and_precedence() -> None:
    state = apply(fresh(), "ARG A=default\nARG B\nARG G\nARG C=$A-x\n")
    env = state.environment()
    assert env["A"] == "default" and "B" not in env and env["G"] == "global"
    assert env["C"] == "default-x"
    assert state.config.env == ("PATH=/bin",)  # ARGs are not in the image
    overridden = apply(fresh(), "ARG A=default\n", A="cli")
    assert overridden.environment()["A"] == "cli"
    assert overridden.visible_args() == (("A", "cli"),)
    # ENV wins over ARG for what follows, and ARG after ENV sets the build environment
    state = apply(fresh(), "ARG V=arg\nENV V=env\n")
    assert state.environment()["V"] == "env"


def test_global_scope_for_from_lines() -> None:
    df = parse_dockerfile("ARG A=1\nARG B=${A}2\nARG C\nFROM scratch\n")
    used: set[str] = set()
    scope = global_scope(
        df.global_args, {"C": "3"}, defaults={"TARGETOS": "linux"}, lexer=LEX, used=used
    )
    assert scope == {"TARGETOS": "linux", "A": "1", "B": "12", "C": "3"}
    assert used == {"A", "B", "C"}


def test_label_expose_volume_user_stopsignal() -> None:
    state = apply(
        fresh(),
        "ENV V=1.0\nLABEL a=b version=$V\nEXPOSE 80 53/udp 8000-8002/TCP\nVOLUME /data $V\n"
        "USER app:app\nSTOPSIGNAL SIGQUIT\n",
    )
    cfg = state.config
    assert cfg.labels == {"a": "b", "version": "1.0"}
    assert cfg.exposed_ports == ("53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp")
    assert cfg.volumes == ("/data", "1.0")
    assert (cfg.user, cfg.stop_signal) == ("app:app", "SIGQUIT")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("EXPOSE 80/xtp\n", "invalid proto"),
        ("EXPOSE 8080:80\n", "invalid containerPort"),
        ("EXPOSE 0\n", "invalid port range"),
        ("STOPSIGNAL SIGNOPE\n", "invalid signal"),
    ],
)
def test_metadata_errors(text: str, message: str) -> None:
    with pytest.raises(InstructionError, match=message):
        apply(fresh(), text)


def test_cmd_entrypoint_shell() -> None:
    state = apply(fresh(), "CMD echo hi\n")
    assert state.config.cmd == ("/bin/sh", "-c", "echo hi") and state.cmd_set
    state = apply(fresh(), 'SHELL ["/bin/bash", "-c"]\nENTRYPOINT ["app"]\nCMD serve\n')
    assert state.config.entrypoint == ("app",)
    assert state.config.cmd == ("/bin/bash", "-c", "serve")
    # ENTRYPOINT drops a CMD inherited from the base, not one set in this stage
    assert apply(fresh(), "ENTRYPOINT top\n").config.cmd is None
    assert apply(fresh(), 'CMD ["x"]\nENTRYPOINT top\n').config.cmd == ("x",)
    assert apply(fresh(), "ENTRYPOINT []\n").config.entrypoint is None
    run = steps("RUN a b\n")[0]
    assert isinstance(run, ins.Run)
    assert command_args(fresh(), run.command) == ("/bin/sh", "-c", "a b")


def test_healthcheck_maintainer_onbuild() -> None:
    state = apply(
        fresh(),
        "HEALTHCHECK --interval=5s CMD true\nMAINTAINER me\nONBUILD RUN echo child\n",
    )
    assert state.config.healthcheck == HealthConfig(
        test=("CMD-SHELL", "true"), interval_ns=5_000_000_000
    )
    assert state.author == "me"
    assert state.config.on_build == ("RUN echo child",)
    off = apply(state, "HEALTHCHECK NONE\n")
    assert off.config.healthcheck == HealthConfig(test=("NONE",))


def test_workdir() -> None:
    state = apply(fresh(), "WORKDIR /a\nWORKDIR b\nWORKDIR ../c/./d/\nENV X=/x\nWORKDIR $X\n")
    assert state.config.working_dir == "/x"
    assert apply(fresh(), "WORKDIR rel\n").config.working_dir == "/rel"
    assert normalize_workdir("/a", "/") == "/"
    assert normalize_workdir("", "..") == "/"


def test_run_environment_includes_proxies_but_history_does_not() -> None:
    state = apply(fresh(), "ARG HTTP_PROXY\nARG A=1\n")
    assert state.visible_args() == (("A", "1"),)
    env = state.run_env({"HTTP_PROXY": "http://proxy:3128"})
    assert "HTTP_PROXY=http://proxy:3128" in env and "A=1" in env


def test_arg_history_is_the_definition_not_the_build_arg_value() -> None:
    (arg,) = steps("ARG A=default\n")
    assert isinstance(arg, ins.Arg)
    # the value counts where it is used (RUN's args), so the ARG step itself stays cached
    overridden = apply_arg(fresh(), arg, build_args={"A": "cli"}, global_args={}, lexer=LEX)
    assert overridden.history == "ARG A=default"
    assert overridden.state.environment()["A"] == "cli"
    (bare,) = steps("ARG B\n")
    assert isinstance(bare, ins.Arg)
    assert apply_arg(fresh(), bare, build_args={"B": "x"}, global_args={}, lexer=LEX).history == (
        "ARG B"
    )
    # a default that could not expand does not matter when a build arg replaces it
    (strict,) = steps("ARG C=${UNSET:?required}\n")
    assert isinstance(strict, ins.Arg)
    applied = apply_arg(fresh(), strict, build_args={"C": "given"}, global_args={}, lexer=LEX)
    assert applied.state.environment()["C"] == "given"
