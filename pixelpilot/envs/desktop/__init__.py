"""A Linux desktop as an environment: ``DesktopEnv`` on its own Xvfb (``xserver``), tasks by program
family (``tasks/``) and the small Tk apps pixelpilot ships for them (``apps/``)."""
