from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Digest"

    def ready(self) -> None:
        from digest.tracking import receiver

        receiver.connect()
