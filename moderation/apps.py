import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class ModerationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "moderation"
    verbose_name = "Moderation and escalation"

    def ready(self) -> None:
        # Load and compile the detector at start-up, not on the first message of the day.
        # If it cannot load, every message is held and escalated until it can: say so loudly.
        from django.conf import settings

        from moderation.screening import load_detector

        try:
            load_detector(settings.MODERATION_DETECTOR)
        except Exception:
            logger.critical(
                "The crisis detector %r failed to load: every message will be held and "
                "escalated until it does.",
                settings.MODERATION_DETECTOR,
                exc_info=True,
            )
