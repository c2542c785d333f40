"""Machine translation of message texts (docs/residents.md, 多言語 / Languages).

:mod:`hub.translate.providers` talks to the configured translator through deep-translator;
:mod:`hub.translate.fill` gives a composition the languages its audience reads, marking each
machine translation as such and putting a fixed notice before the Japanese text when one fails
(:mod:`hub.translate.fallback`).
"""

from hub.translate.providers import PROVIDERS, TranslationFailed, translate, translator_ready

__all__ = ["PROVIDERS", "TranslationFailed", "translate", "translator_ready"]
