"""The Dockerfile parser: lines, directives, heredocs, every instruction, errors with lines."""

from __future__ import annotations

import textwrap

import pytest

from cais.build import instructions as ins
from cais.build.arguments import parse_duration, parse_words
from cais.build.errors import DockerfileError
from cais.build.parse import parse_dockerfile, parse_trigger
from cais.build.syntax import heredoc_marker, read_dockerfile


def parse(text: str) -> ins.Dockerfile:
    return parse_dockerfile(textwrap.dedent(text).lstrip("\n"))


def only(text: str) -> ins.Instruction:
    """The single instruction after ``FROM scratch``."""
    df = parse("FROM scratch\n" + textwrap.dedent(text).lstrip("\n"))
    assert len(df.stages[0].instructions) == 1
    return df.stages[0].instructions[0]


def error(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        parse(text)
    return info.value


# lines, comments, continuations, directives


def test_comments_blank_lines_and_continuations() -> None:
    df = parse(
        """
        # a comment
        FROM scratch

        RUN echo a \\
            # a comment inside a continuation is dropped
            && echo b \\

            && echo c
        """
    )
    run = df.stages[0].instructions[0]
    assert isinstance(run, ins.Run)
    assert run.command.args == ("echo a     && echo b     && echo c",)
    assert (run.location.line, run.location.end) == (4, 8)


def test_continuation_with_trailing_blanks_and_escaped_escape() -> None:
    df = parse("FROM scratch\nENV A=1 \\  \n  B=2\nLABEL x=a\\\\\n")
    env, label = df.stages[0].instructions
    assert isinstance(env, ins.Env) and isinstance(label, ins.Label)
    assert [(p.key, p.value) for p in env.pairs] == [("A", "1"), ("B", "2")]
    assert label.location.line == 4


def test_escape_directive_changes_continuation_and_escape() -> None:
    df = parse(
        """
        # escape=`
        FROM scratch
        RUN dir c:\\ `
            && echo done
        """
    )
    assert df.escape == "`"
    run = df.stages[0].instructions[0]
    assert isinstance(run, ins.Run)
    assert run.command.args == ("dir c:\\     && echo done",)


def test_directives_only_at_the_top() -> None:
    df = parse(
        """
        # syntax=docker/dockerfile:1.7
        # escape=\\
        # unknown=directive ends the directives
        # escape=`
        FROM scratch
        """
    )
    assert df.syntax == "docker/dockerfile:1.7"
    assert df.escape == "\\"
    assert parse("# Syntax = x\nFROM scratch\n").syntax == "x"


def test_directive_errors() -> None:
    assert "only one escape parser directive" in str(error("# escape=\\\n# escape=`\nFROM a\n"))
    assert "invalid escape token" in str(error("# escape=x\nFROM a\n"))


def test_flags_and_keyword_case() -> None:
    copy = only("copy --chown=1:2 --chmod=640 a /b/")
    assert isinstance(copy, ins.Copy)
    assert (copy.chown, copy.chmod) == ("1:2", "640")
    quoted = only('COPY --chown="a b" x /y')
    assert isinstance(quoted, ins.Copy) and quoted.chown == "a b"
    not_a_flag = only('COPY "--chown=a" x /y')
    assert isinstance(not_a_flag, ins.Copy) and not_a_flag.chown == ""


# heredocs


def test_heredocs() -> None:
    df = parse(
        """
        FROM scratch
        RUN <<EOF
        echo one
          echo two
        EOF
        RUN <<-'END' python3
        \tprint("$HOME")
        \tEND
        COPY <<a.txt <<"b.txt" /dest/
        a $X
        a.txt
        b $X
        b.txt
        RUN echo after
        """
    )
    run1, run2, copy, after = df.stages[0].instructions
    assert isinstance(run1, ins.Run) and isinstance(run2, ins.Run)
    assert run1.heredocs[0].content == "echo one\n  echo two\n"
    assert run1.heredocs[0].expand
    doc = run2.heredocs[0]
    assert (doc.name, doc.chomp, doc.expand) == ("END", True, False)
    assert doc.content == '\tprint("$HOME")\n' and doc.text == 'print("$HOME")\n'
    assert run2.command.args == ("<<-'END' python3",)
    assert isinstance(copy, ins.Copy)
    assert copy.sources.paths == ()
    assert [(f.name, f.data, f.expand) for f in copy.sources.inline] == [
        ("a.txt", "a $X\n", True),
        ("b.txt", "b $X\n", False),
    ]
    assert copy.sources.dest == "/dest/"
    assert isinstance(after, ins.Run) and after.location.line == 14


def test_heredoc_markers() -> None:
    marker = heredoc_marker("<<EOF")
    assert marker is not None and marker.name == "EOF" and marker.expand
    quoted = heredoc_marker("<<-'E O F'")
    assert quoted is not None and quoted.name == "E O F" and quoted.chomp and not quoted.expand
    fd = heredoc_marker("3<<X")
    assert fd is not None and fd.fd == 3
    assert heredoc_marker("<<") is None
    assert heredoc_marker("a<<b") is None


def test_no_heredocs_in_exec_form_or_other_instructions() -> None:
    run = only('RUN ["sh", "-c", "cat <<EOF"]')
    assert isinstance(run, ins.Run) and not run.heredocs
    label = only("LABEL a=<<EOF")
    assert isinstance(label, ins.Label)


def test_unterminated_heredoc() -> None:
    err = error("FROM scratch\nRUN <<EOF\necho\n")
    assert str(err) == "Dockerfile:2: unterminated heredoc"


def test_heredoc_as_copy_destination_is_refused() -> None:
    assert "cannot accept a heredoc as a destination" in str(
        error("FROM scratch\nCOPY a <<EOF\nx\nEOF\n")
    )


# instructions


def test_from() -> None:
    df = parse("ARG V=1\nFROM --platform=linux/amd64 busybox:$V AS Build\nFROM build\n")
    first, second = df.stages
    assert (first.from_.base, first.from_.stage_name, first.from_.platform) == (
        "busybox:$V",
        "build",
        "linux/amd64",
    )
    assert first.name == "build" and second.label == "stage-1"
    assert df.global_args[0].args == (ins.ArgDefinition("V", "1"),)
    assert df.stage("BUILD") is first and df.stage("1") is second and df.stage("x") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a b", "FROM requires either one or three arguments"),
        ("FROM a AS 1x", "invalid name for build stage"),
        ("FROM --bad=1 a", "unknown flag: --bad"),
        ("FROM a AS x\nFROM b AS x", "duplicate stage name"),
    ],
)
def test_from_errors(text: str, message: str) -> None:
    assert message in str(error(text + "\n"))


def test_run_cmd_entrypoint_forms() -> None:
    shell = only("RUN echo $HOME")
    assert isinstance(shell, ins.Run)
    assert shell.command == ins.CommandLine(("echo $HOME",), shell_form=True)
    exec_form = only('CMD ["nginx", "-g", "daemon off;"]')
    assert isinstance(exec_form, ins.Cmd)
    assert exec_form.command == ins.CommandLine(("nginx", "-g", "daemon off;"), shell_form=False)
    not_json = only("ENTRYPOINT [not json")
    assert isinstance(not_json, ins.Entrypoint)
    assert not_json.command == ins.CommandLine(("[not json",), shell_form=True)
    empty = only("ENTRYPOINT []")
    assert isinstance(empty, ins.Entrypoint) and empty.command.args == ()
    net = only("RUN --network=host wget x")
    assert isinstance(net, ins.Run) and net.network == "host"


def test_json_arrays_must_hold_strings() -> None:
    assert "arrays must be comprised of strings only" in str(error("FROM a\nCMD [1, 2]\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN", "RUN requires at least one argument"),
        ("RUN --mount=type=cache,target=/x make", "RUN --mount is not supported"),
        ("RUN --network=bridge x", "unsupported network mode"),
        ("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV A", "ENV must have two arguments"),
        ("ENV A=1 B", "can't find = in 'B'"),
        ("ENV =1", "ENV names can not be blank"),
        ("LABEL", "LABEL requires at least one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ('VOLUME [""]', "VOLUME specified can not be an empty string"),
        ("USER", "USER requires exactly one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("COPY a", "COPY requires at least two arguments"),
        ("ADD", "ADD requires at least two arguments"),
        ("COPY --chown a b", "missing a value on flag: --chown"),
        ("COPY --link=maybe a b", "expecting boolean value for flag --link"),
        ("COPY --from=a --from=b x y", "duplicate flag specified: --from"),
        ("COPY --parents a b", "COPY --parents is not supported"),
        ("ADD --keep-git-dir x y", "git sources are not supported"),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CURL x", 'Unknown type "CURL" in HEALTHCHECK'),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK --interval=1ns CMD x", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative"),
        ("HEALTHCHECK --interval=soon CMD x", "invalid duration"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("ONBUILD RUNN x", "unknown instruction: RUNN"),
        ("ENV --x=1 A=1", "unknown flag: --x"),
    ],
)
def test_instruction_errors_name_the_line(text: str, message: str) -> None:
    err = error(f"FROM scratch\n\n{text}\n")
    assert str(err).startswith("Dockerfile:3: ")
    assert message in str(err)
    assert err.line == 3


def test_env_and_label_forms() -> None:
    env = only('ENV A=1 B="two words" C=\\$D E=')
    assert isinstance(env, ins.Env)
    assert [(p.key, p.value) for p in env.pairs] == [
        ("A", "1"),
        ("B", '"two words"'),
        ("C", "\\$D"),
        ("E", ""),
    ]
    legacy = only("ENV GREETING hello   world")
    assert isinstance(legacy, ins.Env)
    assert legacy.pairs == (ins.KeyValue("GREETING", "hello   world"),)
    label = only('LABEL "com.example.vendor"="ACME Inc" version=1.0')
    assert isinstance(label, ins.Label)
    assert [(p.key, p.value) for p in label.pairs] == [
        ('"com.example.vendor"', '"ACME Inc"'),
        ("version", "1.0"),
    ]


def test_parse_words_keeps_quotes() -> None:
    assert parse_words('a=\'b c\' d="e\\"f" g\\ h', "\\") == ["a='b c'", 'd="e\\"f"', "g\\ h"]
    assert parse_words("  ", "\\") == []
    assert parse_words("x=''", "\\") == ["x=''"]


def test_arg_expose_volume_user_workdir_stopsignal_maintainer_shell() -> None:
    arg = only("ARG A B=2 C=")
    assert isinstance(arg, ins.Arg)
    assert arg.args == (
        ins.ArgDefinition("A"),
        ins.ArgDefinition("B", "2"),
        ins.ArgDefinition("C", ""),
    )
    expose = only("EXPOSE 80 443/tcp 53/udp")
    assert isinstance(expose, ins.Expose) and expose.ports == ("80", "443/tcp", "53/udp")
    volume = only('VOLUME ["/data", "/var/log"]')
    assert isinstance(volume, ins.Volume) and volume.paths == ("/data", "/var/log")
    volume2 = only("VOLUME /a /b")
    assert isinstance(volume2, ins.Volume) and volume2.paths == ("/a", "/b")
    user = only("USER www-data:www-data")
    assert isinstance(user, ins.User) and user.user == "www-data:www-data"
    workdir = only("WORKDIR /srv/app")
    assert isinstance(workdir, ins.Workdir) and workdir.path == "/srv/app"
    sig = only("STOPSIGNAL SIGQUIT")
    assert isinstance(sig, ins.StopSignal) and sig.signal == "SIGQUIT"
    maint = only("MAINTAINER Jane <jane@example.com>")
    assert isinstance(maint, ins.Maintainer) and maint.name == "Jane <jane@example.com>"
    shell = only('SHELL ["/bin/bash", "-euo", "pipefail", "-c"]')
    assert isinstance(shell, ins.Shell) and shell.shell == ("/bin/bash", "-euo", "pipefail", "-c")


def test_copy_and_add() -> None:
    copy = only(
        'COPY --from=build --chown=app --chmod=0755 --link --exclude=*.md ["a b", "c", "/d/"]'
    )
    assert isinstance(copy, ins.Copy)
    assert copy.sources == ins.FileSources(("a b", "c"), (), "/d/")
    assert (copy.from_, copy.chown, copy.chmod, copy.link) == ("build", "app", "0755", True)
    assert copy.excludes == ("*.md",)
    add = only("ADD --checksum=sha256:abc --unpack=false http://x/y.tar.gz /z")
    assert isinstance(add, ins.Add)
    assert add.sources.paths == ("http://x/y.tar.gz",)
    assert (add.checksum, add.unpack) == ("sha256:abc", False)


def test_healthcheck() -> None:
    check = only(
        "HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --retries=5 CMD wget -q x"
    )
    assert isinstance(check, ins.Healthcheck)
    assert check.check == ins.HealthcheckSpec(
        test=("CMD-SHELL", "wget -q x"),
        interval_ns=30_000_000_000,
        timeout_ns=3_000_000_000,
        start_period_ns=60_000_000_000,
        retries=5,
    )
    exec_form = only('HEALTHCHECK CMD ["/bin/check", "--fast"]')
    assert isinstance(exec_form, ins.Healthcheck) and exec_form.check is not None
    assert exec_form.check.test == ("CMD", "/bin/check", "--fast")
    none = only("HEALTHCHECK NONE")
    assert isinstance(none, ins.Healthcheck) and none.check is None


@pytest.mark.parametrize(
    ("text", "ns"),
    [("0", 0), ("1s", 10**9), ("1m30s", 90 * 10**9), ("1.5h", 5400 * 10**9), ("250ms", 25 * 10**7)],
)
def test_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


def test_onbuild() -> None:
    onbuild = only("ONBUILD COPY --chown=1 . /app/src")
    assert isinstance(onbuild, ins.Onbuild)
    assert onbuild.expression == "COPY --chown=1 . /app/src"
    assert isinstance(onbuild.trigger, ins.Copy) and onbuild.trigger.chown == "1"
    trigger = parse_trigger("RUN echo $X", line=7)
    assert isinstance(trigger, ins.Run) and trigger.location.line == 7


# whole files


def test_unknown_instruction() -> None:
    err = error("FROM scratch\nRUN true\n\n\n\n\nRUNN echo\n")
    assert str(err) == "Dockerfile:7: unknown instruction: RUNN"


def test_no_from() -> None:
    assert str(error("RUN x\n")).startswith("Dockerfile:1: no build stage in current context")
    assert "no stages to build" in str(error("ARG A=1\n"))
    assert "cannot be empty" in str(error("\n\n"))
    assert "file with no instructions" in str(error("# just a comment\n"))


def test_filename_in_errors() -> None:
    with pytest.raises(DockerfileError, match=r"^web\.Dockerfile:2: unknown instruction: X$"):
        parse_dockerfile("FROM a\nX y\n", filename="web.Dockerfile")


def test_stages_and_global_args() -> None:
    df = parse(
        """
        ARG BASE=alpine
        ARG TAG
        FROM $BASE:$TAG AS one
        RUN a
        FROM one
        RUN b
        """
    )
    assert [a.args[0].name for a in df.global_args] == ["BASE", "TAG"]
    assert [len(s.instructions) for s in df.stages] == [1, 1]
    assert df.stages[1].from_.base == "one"


def test_raw_reader_keeps_bom_and_crlf_out() -> None:
    raw = read_dockerfile("\ufeffFROM a\r\nRUN b\r\n")
    assert [r.keyword for r in raw.instructions] == ["FROM", "RUN"]
    assert raw.instructions[1].rest == "b"
