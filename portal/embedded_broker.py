"""The embedded Celery broker: kombu's filesystem transport, each message written whole before a worker can see it.

kombu creates a message's file in the queue folder and then writes it. A worker that lists the folder in between
moves the still empty file away, cannot parse it and stops ("Unrecoverable error"), and the message is lost: the
test suite met it about once in fifteen runs of a test with three workers polling every 0.02 s. Here the message is
written under a name no queue reads, then renamed into place, which a folder does at once.

Used only with the embedded defaults (`CELERY_BROKER_TRANSPORT` in portal/settings.py); Redis replaces it.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# A file being written starts with this: kombu's readers take only "<time>_<id>.<queue>.msg".
WRITING = ".writing-"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu's own name (its readers take files in the order of the time in front), written elsewhere first.
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        writing = os.path.join(self.data_folder_out, WRITING + name)
        try:
            with open(writing, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.rename(writing, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with contextlib.suppress(OSError):  # never made, or gone: no half-written message is left either way
                os.remove(writing)
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
