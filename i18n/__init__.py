"""Message catalogs (gettext .po files read with Babel): Simplified Chinese by default, English."""

from i18n.catalog import DEFAULT_LANGUAGE, LANGUAGES, t

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "t"]
