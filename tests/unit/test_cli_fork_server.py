"""The ``cais`` client and its fork server: commands served by a preloaded process behave as
if they ran in the caller (argv, environment, working directory, umask, streams, exit code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cais.cli import forkserver, launch


def _served_pids(runroot: Path) -> list[int]:
    """Processes running the fork server's program for this run root (server + its children)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        mine = b"cais.cli.forkserver" in args and str(runroot).encode() in args
        if mine and forkserver._alive(int(proc.name)):
            pids.append(int(proc.name))
    return pids


def wait_until(predicate: object, timeout: float = 20.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def runroot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    run = tmp_path / "run"
    monkeypatch.setenv("CAIS_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("CAIS_RUNROOT", str(run))
    monkeypatch.setenv("CAIS_FORK_SERVER_IDLE", "30")
    monkeypatch.delenv("CAIS_FORK_SERVER", raising=False)
    yield run
    forkserver.stop(run)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Popen for clients that wait; any still there after the test (it failed) is killed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], **kw: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, **kw)  # type: ignore[call-overload]
        procs.append(proc)
        return proc  # type: ignore[no-any-return]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def client(*args: str, cwd: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cais.cli.launch", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def my_address(runroot: Path) -> str:
    """The server address for this test process's context (the one its clients get)."""
    key = launch.context_key(launch.process_context(), launch.origin())
    address = launch.server_address(str(runroot), key)
    assert address is not None
    return address


def server_pid(runroot: Path) -> int:
    (pid_file,) = runroot.glob("cli-*.pid")
    return int(pid_file.read_text())


def started(runroot: Path, **kw: object) -> None:
    """The first commands of a context run in their own process; the second starts a server."""
    deadline = time.monotonic() + 30
    while not forkserver.is_running(runroot):
        assert time.monotonic() < deadline, "no server started"
        first = client("version", **kw)
        assert first.returncode == 0 and first.stdout.startswith("cais version ")
        time.sleep(0.05)


def test_global_flags_choose_the_run_root_and_find_the_command() -> None:
    env = {"CAIS_RUNROOT": "/srv/run"}
    assert launch._runroot_and_command(["ps", "-a"], env) == ("/srv/run", "ps")
    assert launch._runroot_and_command(["--runroot", "/x", "run"], env) == ("/x", "run")
    assert launch._runroot_and_command(["--root=/r", "--runroot=/y", "ps"], env) == ("/y", "ps")
    assert launch._runroot_and_command(["--help"], env) == ("/srv/run", None)
    assert launch._runroot_and_command(["--runroot"], {}) == ("/run/cais", None)
    assert launch._runroot_and_command([], {}) == ("/run/cais", None)


def test_a_command_is_served_by_the_server_once_it_runs(
    runroot: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert launch.try_server(str(runroot), ["version"]) is None  # nothing to talk to yet
    started(runroot)
    capfd.readouterr()
    assert launch.try_server(str(runroot), ["version"]) == 0
    assert capfd.readouterr().out.startswith("cais version 0.1.0\n Python: ")
    # the command's own exit code and stderr come back as they would from the CLI itself
    assert launch.try_server(str(runroot), ["frobnicate"]) == 125
    assert "'frobnicate' is not a cais command" in capfd.readouterr().err


def test_served_commands_see_the_callers_environment_cwd_and_streams(
    runroot: Path, tmp_path: Path
) -> None:
    started(runroot)
    info = client("info", "--format", "json", env={**os.environ, "CAIS_ROOT": str(tmp_path / "b")})
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["CaisRootDir"] == str(tmp_path / "b")
    # a relative path is the caller's: load reads the tar from the caller's directory
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "broken.tar").write_bytes(b"not a tar")
    load = client("load", "-i", "broken.tar", cwd=tmp_path / "work")
    assert load.returncode != 0 and "no such file" not in load.stderr.lower()
    missing = client("load", "-i", "absent.tar", cwd=tmp_path / "work")
    assert missing.returncode != 0
    # stdin is the caller's too
    piped = client("load", input="also not a tar")
    assert piped.returncode != 0 and piped.stderr
    assert len(_served_pids(runroot)) == 1  # every command's process has ended


def test_a_server_of_another_cais_refuses_and_the_command_runs_here(runroot: Path) -> None:
    started(runroot)
    other = ("/other/python", "/other/cais")
    assert launch.run_served(my_address(runroot), ["version"], other) is None
    assert forkserver.is_running(runroot)  # it only said no
    assert launch.run_served(my_address(runroot), ["version"], launch.origin()) == 0


def test_a_changed_module_makes_the_server_refuse_and_leave(runroot: Path, tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("x = 1\n")
    mtimes = {str(module): module.stat().st_mtime_ns}
    assert forkserver._unchanged(mtimes)
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1))
    assert not forkserver._unchanged(mtimes)
    module.unlink()
    assert not forkserver._unchanged(mtimes)


def test_opting_out_runs_every_command_in_its_own_process(runroot: Path) -> None:
    out = client("version", env={**os.environ, "CAIS_FORK_SERVER": "0"})
    assert out.returncode == 0
    time.sleep(0.5)
    assert not forkserver.is_running(runroot)


def test_the_server_leaves_when_stopped_or_when_its_run_root_goes(runroot: Path) -> None:
    started(runroot)
    forkserver.stop(runroot)
    assert not forkserver.is_running(runroot) and not _served_pids(runroot)
    started(runroot)
    (pids,) = [_served_pids(runroot)]
    for entry in runroot.iterdir():
        entry.unlink()
    runroot.rmdir()
    wait_until(lambda: not any(Path(f"/proc/{p}").exists() for p in pids))


def test_a_caller_killed_with_sigkill_takes_its_command_with_it(
    runroot: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    started(runroot)
    # a command that waits: ``load`` reads the archive from a stdin that stays open
    reader, writer = os.pipe()
    proc = spawn([sys.executable, "-m", "cais.cli.launch", "load"], stdin=reader)
    os.close(reader)
    wait_until(lambda: len(_served_pids(runroot)) == 3)  # server, handler, command
    proc.kill()
    proc.wait()
    wait_until(lambda: len(_served_pids(runroot)) == 1)
    os.close(writer)


def test_signals_reach_the_served_command(
    runroot: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    started(runroot)
    reader, writer = os.pipe()
    proc = spawn(
        [sys.executable, "-m", "cais.cli.launch", "load"],
        stdin=reader,
        stderr=subprocess.PIPE,
    )
    os.close(reader)
    wait_until(lambda: len(_served_pids(runroot)) == 3)
    proc.send_signal(2)  # Ctrl-C: the command stops as the CLI would, with 130
    assert proc.wait(timeout=30) == 130
    os.close(writer)
    wait_until(lambda: len(_served_pids(runroot)) == 1)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _command_pid(runroot: Path) -> int:
    """The served command: a server's grandchild (server → handler → command)."""
    servers = {int(p.read_text()) for p in runroot.glob("cli-*.pid")}
    served = _served_pids(runroot)
    handlers = {p for p in served if _parent(p) in servers}
    (command,) = [p for p in served if _parent(p) in handlers]
    return command


def _proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_the_command_keeps_the_callers_limits_ignored_signals_and_job_control(
    runroot: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    import resource
    import signal

    def as_under_nohup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_NOFILE, (777, resource.getrlimit(7)[1]))

    # other limits make another context: its commands start a server of its own
    started(runroot, preexec_fn=as_under_nohup)
    assert len(list(runroot.glob("cli-*.pid"))) == 1
    reader, writer = os.pipe()
    proc = spawn(
        [sys.executable, "-m", "cais.cli.launch", "load"],
        stdin=reader,
        stderr=subprocess.PIPE,
        preexec_fn=as_under_nohup,  # the test process is single-threaded
    )
    os.close(reader)
    wait_until(lambda: len(_served_pids(runroot)) == 3)  # server, handler, command
    command = _command_pid(runroot)
    limits = Path(f"/proc/{command}/limits").read_text()
    assert any(line.startswith("Max open files") and " 777 " in line for line in limits.split("\n"))
    sig_ign = int(
        next(
            line.split()[1]
            for line in Path(f"/proc/{command}/status").read_text().splitlines()
            if line.startswith("SigIgn:")
        ),
        16,
    )
    assert sig_ign & (1 << (signal.SIGHUP - 1))
    proc.send_signal(signal.SIGHUP)  # ignored here, so ignored there
    # Ctrl-Z stops the command with the client, and fg (SIGCONT) resumes both
    proc.send_signal(signal.SIGTSTP)
    wait_until(lambda: _proc_state(command) == "T" and _proc_state(proc.pid) == "T")
    proc.send_signal(signal.SIGCONT)
    wait_until(lambda: _proc_state(command) != "T" and _proc_state(proc.pid) != "T")
    os.close(writer)  # end of the archive: load fails on its own terms, not by a signal
    assert proc.wait(timeout=30) == 125  # as without the server (not 129: HUP was ignored)
    assert proc.stderr is not None
    assert "not a valid image archive" in proc.stderr.read().decode()


def _children_cpu_ticks(pid: int) -> int:
    """CPU time of the reaped children of ``pid`` (fields cutime + cstime of its stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[13]) + int(fields[14])


def test_concurrent_commands_each_get_their_own_process_and_answer(runroot: Path) -> None:
    started(runroot)
    server = server_pid(runroot)
    before = _children_cpu_ticks(server)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cais.cli.launch", "version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(12)
    ]
    outs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 12
    assert all(out.startswith(b"cais version ") and not err for out, err in outs)
    wait_until(lambda: len(_served_pids(runroot)) == 1)
    # they ran in the server's children (reaped by it), not in the clients
    wait_until(lambda: _children_cpu_ticks(server) > before)


def test_idle_time_comes_from_the_environment_with_a_sane_default() -> None:
    assert forkserver._idle_seconds("30") == 30.0
    assert forkserver._idle_seconds("") == forkserver.IDLE_EXIT
    assert forkserver._idle_seconds("soon") == forkserver.IDLE_EXIT
    assert forkserver._idle_seconds("-5") == forkserver.IDLE_EXIT


def test_an_idle_server_leaves_by_itself(runroot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIS_FORK_SERVER_IDLE", "1")
    started(runroot)
    wait_until(lambda: not _served_pids(runroot), timeout=15)
    assert not list(runroot.glob("cli-*.pid"))


def test_a_closed_standard_stream_stays_closed_not_the_servers_socket(runroot: Path) -> None:
    started(runroot)
    # stdin closed: load must fail at once, as in-process, not read from the connection
    out = client("load", preexec_fn=lambda: os.close(0), timeout=30)
    assert out.returncode == 125 and "not a valid image archive" in out.stderr
    served = client("version", preexec_fn=lambda: os.close(1), timeout=30)
    assert served.returncode == 0 and served.stdout == ""


def test_served_output_is_encoded_as_the_callers_python_would(runroot: Path) -> None:
    started(runroot)
    for env in ({"PYTHONIOENCODING": "latin-1"}, {"LC_ALL": "C.UTF-8"}):
        args = [sys.executable, "-m", "cais.cli.launch", "frobnicé"]
        full = {**os.environ, **env}
        served = subprocess.run(args, env=full, capture_output=True, check=False)
        here = subprocess.run(
            args, env={**full, "CAIS_FORK_SERVER": "0"}, capture_output=True, check=False
        )
        assert served.returncode == here.returncode == 125
        assert served.stderr == here.stderr and b"frobnic" in served.stderr


def test_a_command_killed_by_a_signal_kills_its_client_the_same_way(
    runroot: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    started(runroot)
    reader, writer = os.pipe()
    proc = spawn([sys.executable, "-m", "cais.cli.launch", "load"], stdin=reader)
    os.close(reader)
    wait_until(lambda: len(_served_pids(runroot)) == 3)
    proc.terminate()  # SIGTERM: load has no handler for it, so it dies of it
    assert proc.wait(timeout=30) == -15
    os.close(writer)


def test_stopping_the_server_does_not_start_another(runroot: Path) -> None:
    started(runroot)
    assert client("system", "forkserver", "stop").stdout == "not running\n"
    time.sleep(1.5)
    assert client("system", "forkserver", "status").stdout == "not running\n"
    time.sleep(1.5)
    assert not forkserver.is_running(runroot)
