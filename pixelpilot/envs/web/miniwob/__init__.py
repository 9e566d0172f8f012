"""MiniWoB++: the PyPI ``miniwob`` package's 125 task pages as gymnasium ids (``suite``), and oracles
that solve them through ``computer_use`` text (``oracles``)."""
