"""Device presets for a web environment: the page size, pixel density and mobile traits of a screen.

Kept free of Playwright so that the command line can list the names without starting anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixelpilot.errors import ConfigError

PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
"""Chrome on Android: sites pick their mobile layout from the user agent as much as from the width."""


@dataclass(frozen=True)
class Device:
    """What a browser context emulates: ``viewport`` in CSS px, the screenshot is that times ``device_scale_factor``.

    ``is_mobile`` honours the page's ``<meta name="viewport">``; ``has_touch`` gives the page touch
    events and a coarse pointer; ``user_agent`` None keeps Chromium's own.
    """

    viewport: tuple[int, int]
    device_scale_factor: float = 1.0
    is_mobile: bool = False
    has_touch: bool = False
    user_agent: str | None = None


DEVICES = {
    "desktop": Device((1280, 800)),
    "laptop": Device((1440, 900)),
    "phone": Device((390, 844), 3.0, is_mobile=True, has_touch=True, user_agent=PHONE_USER_AGENT),
}
"""The presets ``WebEnv(device=...)`` and ``pixelpilot run --device`` accept by name."""


def device_named(name: str) -> Device:
    """The preset called name, or a ConfigError that lists the presets."""
    try:
        return DEVICES[name]
    except KeyError:
        raise ConfigError(f"unknown device {name!r}: one of {', '.join(DEVICES)}") from None
