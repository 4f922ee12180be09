"""Message catalogs (gettext .po files read with Babel): Simplified Chinese by default, English."""

from i18n.catalog import LANGUAGES, DEFAULT_LANGUAGE, normalise_language, t

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "normalise_language", "t"]
