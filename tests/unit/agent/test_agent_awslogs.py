"""awslogs: stream names, joined partial lines, batches within PutLogEvents' limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent_fakes import inline

from cais.agent import protocol as p
from cais.agent.awslogs import (
    EVENT_OVERHEAD,
    Batcher,
    LineJoiner,
    LogShipper,
    LogTarget,
    log_target,
    read_lines,
)
from cais.runtime.logs import parse_line
from ecs_fake_control_plane import task_spec

T1 = "2026-11-25T21:00:00.250000000Z"
T2 = "2026-11-25T21:00:01.500000000Z"


def _awslogs(**options: str) -> p.ContainerSpec:
    return p.ContainerSpec(
        name="web", image="busybox", log_configuration=p.LogConfiguration("awslogs", options)
    )


def test_stream_names_follow_ecs() -> None:
    spec = task_spec("t", [])
    task_id = spec.task_arn.rsplit("/", 1)[1]
    target = log_target(
        spec,
        _awslogs(
            **{
                "awslogs-group": "/ecs/web",
                "awslogs-stream-prefix": "prod",
                "awslogs-create-group": "true",
                "awslogs-region": "eu-west-1",
            }
        ),
        "cid",
    )
    assert target == LogTarget("/ecs/web", f"prod/web/{task_id}", "eu-west-1", True)
    no_prefix = log_target(spec, _awslogs(**{"awslogs-group": "g"}), "cid")
    assert no_prefix is not None and no_prefix.stream == "cid"
    assert log_target(spec, p.ContainerSpec(name="x", image="busybox"), "cid") is None


def test_partial_lines_are_joined_with_the_first_timestamp() -> None:
    joiner = LineJoiner()
    first = parse_line(f"{T1} stdout P hello ".encode())
    second = parse_line(f"{T2} stdout F world".encode())
    other = parse_line(f"{T2} stderr F apart".encode())
    assert first and second and other
    assert joiner.feed(first) is None
    assert joiner.feed(other) == p.LogEvent(1795640401500, "apart")
    assert joiner.feed(second) == p.LogEvent(1795640400250, "hello world")


def test_batches_keep_within_count_and_size_and_are_in_time_order() -> None:
    batcher = Batcher(max_events=3)
    out = [batcher.add(p.LogEvent(t, "x")) for t in (3, 1, 2, 4)]
    assert out[:3] == [None, None, None]
    assert out[3] is not None and [e.timestamp_ms for e in out[3]] == [1, 2, 3]
    assert [e.timestamp_ms for e in batcher.take()] == [4]
    sized = Batcher(max_bytes=2 * (10 + EVENT_OVERHEAD))
    assert sized.add(p.LogEvent(1, "a" * 10)) is None
    assert sized.add(p.LogEvent(2, "b" * 10)) is None
    full = sized.add(p.LogEvent(3, "c"))
    assert full is not None and len(full) == 2


def test_read_lines_stops_at_the_last_complete_line(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes(f"{T1} stdout F one\n{T1} stdout F tw".encode())
    lines, offset = read_lines(log, 0)
    assert [x.text for x in lines] == [b"one"]
    assert read_lines(log, offset) == ([], offset)
    with open(log, "ab") as fh:
        fh.write(b"o\n")
    lines, offset2 = read_lines(log, offset)
    assert [x.text for x in lines] == [b"two"] and offset2 == log.stat().st_size
    log.write_bytes(f"{T2} stdout F new file\n".encode())  # conmon began a new file
    lines, _ = read_lines(log, offset2)
    assert [x.text for x in lines] == [b"new file"]


def test_a_shipper_sends_everything_then_ends_and_records_its_offset(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes("".join(f"{T1} stdout F line {i}\n" for i in range(5)).encode())
    sent: list[p.LogsRequest] = []
    offsets: list[int] = []

    async def send(request: p.LogsRequest) -> None:
        sent.append(request)

    async def progress(offset: int) -> None:
        offsets.append(offset)

    async def scenario() -> None:
        shipper = LogShipper(
            target=LogTarget("g", "s"),
            path=log,
            offset=0,
            send=send,
            run=inline,
            progress=progress,
            flush_interval=0.01,
            poll=0.01,
        )
        done = asyncio.Event()
        job = asyncio.create_task(shipper.follow(done.is_set))
        await asyncio.sleep(0.05)
        with open(log, "ab") as fh:
            fh.write(f"{T2} stderr F last\n".encode())
        done.set()
        await asyncio.wait_for(job, 5)

    asyncio.run(scenario())
    messages = [e.message for r in sent for e in r.events]
    assert messages == [f"line {i}" for i in range(5)] + ["last"]
    assert offsets[-1] == log.stat().st_size
    assert all(r.group == "g" and r.stream == "s" for r in sent)
