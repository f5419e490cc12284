from django.db import migrations, models


def issuing_server_fill(apps, schema_editor):
    """Tokens stored before this field were issued by their organisation's server as it is now."""
    TMIConnection = apps.get_model("accounts", "TMIConnection")
    for connection in TMIConnection.objects.select_related("organization").iterator():
        connection.tmi_base_url = connection.organization.tmi_base_url.strip().rstrip("/")
        connection.save(update_fields=["tmi_base_url"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="tmiconnection",
            name="tmi_base_url",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(issuing_server_fill, migrations.RunPython.noop),
    ]
