"""The embedded broker (portal/embedded_broker.py): a worker never sees a message before it is written whole."""

from __future__ import annotations

import os
from queue import Empty

import pytest
from kombu import Connection

from portal import embedded_broker


@pytest.fixture
def channel(tmp_path):
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }
    with Connection("filesystem://", transport=embedded_broker.Transport, transport_options=options) as connection:
        yield connection.default_channel, folders["queue"]


def test_the_portal_uses_it_exactly_when_there_is_no_redis(settings):
    from kombu.transport.redis import Transport as RedisTransport

    from portal.celery import app

    with app.connection_for_write() as connection:  # the class only: nothing is connected
        transport = connection.get_transport_cls()
    assert transport is (RedisTransport if settings.REDIS_URL else embedded_broker.Transport)
    if not settings.REDIS_URL:
        with app.connection_for_write() as connection:
            assert isinstance(connection.default_channel, embedded_broker.Channel)


def test_a_message_is_seen_only_once_written_whole(channel, monkeypatch):
    """kombu wrote into the queue's own file, and a worker listing the folder meanwhile took it empty, failed to
    parse it and stopped, losing the message."""
    channel, folder = channel
    seen_while_writing = []
    real_rename = os.rename

    def rename(source, target):
        if not os.path.basename(source).startswith(embedded_broker.WRITING):
            return real_rename(source, target)  # a worker taking a message (shutil.move)
        # The moment before the message appears: a worker listing the folder now finds nothing to take.
        try:
            taken = channel._get("tasks")
        except Empty:
            taken = None
        seen_while_writing.append((sorted(os.listdir(folder)), channel._size("tasks"), taken))
        real_rename(source, target)

    monkeypatch.setattr(embedded_broker.os, "rename", rename)
    channel._put("tasks", {"body": "x" * 100_000})
    ((names, size, taken),) = seen_while_writing
    assert len(names) == 1 and names[0].startswith(embedded_broker.WRITING)
    assert size == 0 and taken is None
    assert channel._size("tasks") == 1
    assert channel._get("tasks") == {"body": "x" * 100_000}
    assert os.listdir(folder) == []
