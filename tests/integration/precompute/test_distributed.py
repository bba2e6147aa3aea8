"""Distributed precompute on a private JetStream: jobs enqueued once, run, redelivered,
extended when slow, dead-lettered when they keep failing. Part of the NATS suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from bench.natsd import NatsServer
from ml.precompute.dispatch import DistributedPrecompute
from ml.precompute.jobs import JobQueue, SweepJob
from ml.precompute.loops import dispatcher
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge_infra.events.jetstream import DEAD_STREAM, JOBS_STREAM
from nudge_infra.storage.tables import agent_outputs
from tests.conftest import FixedClock, MakeSettings, gateway_headers

pytestmark = pytest.mark.nats


@pytest.fixture
def server(nats_server: NatsServer) -> NatsServer:
    nats_server.start()
    return nats_server


@pytest.fixture
def nudge(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Nudge]:
    n = bootstrap(settings_for(sweep_batch_size=1), clock=clock, llm=FakeLLM())
    seed_demo(n, clock())
    yield n
    n.stop()


@pytest.fixture
def queues(server: NatsServer) -> Iterator[Callable[..., JobQueue]]:
    made: list[JobQueue] = []

    def make(**options: float) -> JobQueue:
        queue = JobQueue(server.url, **options)  # type: ignore[arg-type]
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()


def _precompute(nudge: Nudge, queue: JobQueue) -> DistributedPrecompute:
    return dispatcher(nudge.engine, nudge.sweeper, nudge.registry, nudge.clock, queue)


def _stream_count(queue: JobQueue, stream: str) -> int:
    async def count() -> int:
        js = await queue.jetstream()
        return int((await js.stream_info(stream)).state.messages)

    return queue.run(count())


class Worker:
    """``JobQueue.work`` in a thread, with a record of what it handled."""

    def __init__(self, queue: JobQueue, handle: Callable[[SweepJob], None]) -> None:
        self.handled: list[SweepJob] = []
        self.dead: list[tuple[SweepJob, str]] = []
        self.stop = threading.Event()

        def run(job: SweepJob) -> None:
            self.handled.append(job)
            handle(job)

        self.thread = threading.Thread(
            target=queue.work, args=(run, self.stop, lambda j, r: self.dead.append((j, r)))
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=15)


def _wait(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_two_schedulers_enqueue_each_job_once_and_workers_run_them(
    nudge: Nudge, queues: Callable[..., JobQueue]
) -> None:
    first, second = _precompute(nudge, queues()), _precompute(nudge, queues())
    new = first.enqueue_sweep("tasks")
    assert new == 2  # alice and bob, one per batch
    assert second.enqueue_sweep("tasks") == 0  # same window: the server drops the copies
    queue = queues()
    assert _stream_count(queue, JOBS_STREAM) == 2
    with nudge.engine.begin() as conn:
        conn.execute(delete(agent_outputs))
    worker = Worker(queue, _precompute(nudge, queue).handle)
    try:
        _wait(lambda: len(worker.handled) == 2)
        _wait(lambda: _stream_count(queue, JOBS_STREAM) == 0)  # acked: gone from the queue
    finally:
        worker.close()
    with nudge.engine.connect() as conn:
        users = set(
            conn.execute(
                select(agent_outputs.c.user_id).where(agent_outputs.c.agent_id == "tasks")
            ).scalars()
        )
    assert users == {"alice", "bob"}
    assert sorted(j.user_ids for j in worker.handled) == [("alice",), ("bob",)]


def test_a_slow_job_extends_its_deadline_instead_of_being_redelivered(
    nudge: Nudge, queues: Callable[..., JobQueue]
) -> None:
    queue = queues(ack_wait_s=1.0)
    queue.enqueue(SweepJob("tasks", 1, ("alice",), "slow"))
    worker = Worker(queue, lambda job: time.sleep(3.5))  # 3.5 ack-waits
    try:
        _wait(lambda: _stream_count(queue, JOBS_STREAM) == 0)
    finally:
        worker.close()
    assert len(worker.handled) == 1


def test_a_failing_job_is_dead_lettered_and_reported(
    nudge: Nudge, queues: Callable[..., JobQueue]
) -> None:
    queue = queues(ack_wait_s=2.0, max_deliver=3, retry_max_s=0.1)
    precompute = _precompute(nudge, queue)
    queue.enqueue(SweepJob("tasks", 1, ("alice",), "doomed"))

    def broken(job: SweepJob) -> None:
        raise RuntimeError("database on fire")

    worker = Worker(queue, broken)
    try:
        _wait(lambda: len(worker.dead) == 1)
    finally:
        worker.close()
    assert len(worker.handled) == 3
    job, reason = worker.dead[0]
    assert job.window == "doomed" and "database on fire" in reason
    assert _stream_count(queue, DEAD_STREAM) == 1
    assert _stream_count(queue, JOBS_STREAM) == 0
    precompute.dead_letter(job, reason)  # what `nudge worker` does with it
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
        agents = {a["id"]: a for a in c.get("/v1/agents").json()["agents"]}
        metrics = c.get("/metrics").text
    assert agents["tasks"]["last_sweep"]["status"] == "dead_letter"
    assert 'nudge_sweep_last_ok{agent="tasks"} 0.0' in metrics


KILLED_WORKER = """
import sys, time, threading
from pathlib import Path
from ml.precompute.jobs import JobQueue
url, mark = sys.argv[1], Path(sys.argv[2])
def handle(job):
    mark.write_text(job.window)
    time.sleep(120)
JobQueue(url, ack_wait_s=2.0).work(handle, threading.Event(), lambda j, r: None)
"""


def test_a_job_of_a_killed_worker_is_redelivered_to_another(
    nudge: Nudge, queues: Callable[..., JobQueue], server: NatsServer, tmp_path: Path
) -> None:
    queue = queues(ack_wait_s=2.0)
    mark = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, server.url, str(mark)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    try:
        queue.enqueue(SweepJob("tasks", 1, ("alice",), "orphan"))
        _wait(mark.exists, 30)
        proc.send_signal(signal.SIGKILL)  # mid-job: no ack, no goodbye
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with nudge.engine.begin() as conn:
        conn.execute(delete(agent_outputs))
    worker = Worker(queue, _precompute(nudge, queue).handle)
    try:
        _wait(lambda: _stream_count(queue, JOBS_STREAM) == 0, 30)
    finally:
        worker.close()
    assert [j.window for j in worker.handled] == ["orphan"]
    with nudge.engine.connect() as conn:
        done = conn.execute(
            select(func.count())
            .select_from(agent_outputs)
            .where(agent_outputs.c.user_id == "alice")
        ).scalar_one()
    assert done == 1


def test_a_poison_agent_is_dead_lettered_and_the_others_are_unaffected(
    settings_for: MakeSettings, clock: FixedClock, tmp_path: Path, server: NatsServer
) -> None:
    from tests.integration.precompute import sweep_agents

    manifests = tmp_path / "manifests"
    sweep_agents.write_manifest(manifests, "poison", "FailingAgent")
    sweep_agents.write_manifest(manifests, "echo", "EchoAgent")
    nudge = bootstrap(
        settings_for(
            manifests_dir=manifests, agent_packages=sweep_agents.PACKAGES, sweep_batch_size=10
        ),
        clock=clock,
        llm=FakeLLM(),
    )
    queue = JobQueue(server.url, ack_wait_s=2.0, max_deliver=3, retry_max_s=0.1)
    try:
        nudge.profiles.upsert_user("fail-1", timezone="UTC")
        precompute = _precompute(nudge, queue)
        assert precompute.enqueue_sweep("poison") == 1
        assert precompute.enqueue_sweep("echo") == 1
        dead: list[tuple[SweepJob, str]] = []

        def record(job: SweepJob, reason: str) -> None:
            dead.append((job, reason))
            precompute.dead_letter(job, reason)

        stop = threading.Event()
        thread = threading.Thread(target=queue.work, args=(precompute.handle, stop, record))
        thread.start()
        try:
            _wait(lambda: len(dead) == 1 and _stream_count(queue, JOBS_STREAM) == 0, 30)
        finally:
            stop.set()
            thread.join(timeout=15)
        job, reason = dead[0]
        assert job.agent_id == "poison" and "boom for fail-1" in reason
        assert _stream_count(queue, DEAD_STREAM) == 1
        with nudge.engine.connect() as conn:
            outputs = set(conn.execute(select(agent_outputs.c.agent_id)).scalars())
        assert outputs == {"echo"}  # the other agent ran for the same user, once
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
            agents = {a["id"]: a for a in c.get("/v1/agents").json()["agents"]}
        assert agents["poison"]["last_sweep"]["status"] == "dead_letter"
        assert agents["echo"]["last_sweep"]["status"] == "ok"
    finally:
        queue.close()
        nudge.stop()


DYING_WORKER = """
import sys, time, threading
from pathlib import Path
from ml.precompute.jobs import JobQueue
url, mark = sys.argv[1], Path(sys.argv[2])
def handle(job):
    mark.write_text(job.window)
    time.sleep(120)
JobQueue(url, ack_wait_s=2.0, max_deliver=2).work(handle, threading.Event(), lambda j, r: None)
"""


def test_a_job_whose_workers_die_on_every_delivery_is_dead_lettered(
    nudge: Nudge, queues: Callable[..., JobQueue], server: NatsServer, tmp_path: Path
) -> None:
    queue = queues(ack_wait_s=2.0, max_deliver=2)
    queue.enqueue(SweepJob("tasks", 1, ("alice",), "cursed"))
    for delivery in (1, 2):  # each delivery dies with its worker: no ack, no term, no nak
        mark = tmp_path / f"started-{delivery}"
        proc = subprocess.Popen(
            [sys.executable, "-c", DYING_WORKER, server.url, str(mark)],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        )
        try:
            _wait(mark.exists, 30)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    survivor = Worker(queue, _precompute(nudge, queue).handle)
    try:
        _wait(lambda: len(survivor.dead) == 1, 30)
        _wait(lambda: _stream_count(queue, JOBS_STREAM) == 0, 10)
    finally:
        survivor.close()
    job, reason = survivor.dead[0]
    assert job.window == "cursed" and "worker lost" in reason
    assert survivor.handled == []  # never run a third time
    assert _stream_count(queue, DEAD_STREAM) == 1
