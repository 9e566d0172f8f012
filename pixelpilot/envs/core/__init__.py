"""What every kind of screen shares: actions on the 0–1000 grid, tool-call text, keys, spaces, the
``ScreenEnv`` base, the ``Task`` contract and the registry of suites. Nothing here imports a browser,
an X server or a phone."""
