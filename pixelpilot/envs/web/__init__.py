"""Web pages as environments: ``WebEnv`` over a Playwright browser session, ``WebTask``/``URLTask``,
the scripts run in pages (``dom``), and the MiniWoB++ suite with its oracles (``miniwob/``).

Only ``env`` and ``browser`` import Playwright; the tasks and the suite stay light so that
``import pixelpilot`` can register their ids."""
