"""The same code runs on embedded defaults and on real services, chosen by environment variables."""
import os

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_the_database_follows_DATABASE_URL():
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


async def test_the_channel_layer_follows_REDIS_URL_and_delivers_messages():
    layer = get_channel_layer()
    expected = "RedisChannelLayer" if os.environ.get("REDIS_URL") else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected
    channel = await layer.new_channel()
    await layer.group_add("settings-test", channel)
    await layer.group_send("settings-test", {"type": "probe", "text": "hello"})
    assert await layer.receive(channel) == {"type": "probe", "text": "hello"}
    await layer.group_discard("settings-test", channel)


def test_the_celery_broker_follows_REDIS_URL():
    if os.environ.get("REDIS_URL"):
        assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    else:
        assert settings.CELERY_BROKER_URL == "filesystem://"
