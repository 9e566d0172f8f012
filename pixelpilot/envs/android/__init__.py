"""The Android environment: one ``AndroidEnv`` over a simulated phone (Chromium) or a real one (adb).

Importing this package stays light (no browser, no subprocess): the environment and the devices
are imported when first asked for, so that ``import pixelpilot`` can register the suite's ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelpilot.envs.android.base import AndroidDevice, AndroidTask, InstructionTask
from pixelpilot.envs.android.tasks import ANDROID, SimTask, android_task, android_tasks, env_id
from pixelpilot.envs.android.world import PhoneState, random_world

if TYPE_CHECKING:
    from pixelpilot.envs.android.adb import AdbDevice
    from pixelpilot.envs.android.env import AndroidEnv, make_android_env
    from pixelpilot.envs.android.sim import SimPhone

__all__ = [
    "ANDROID",
    "AdbDevice",
    "AndroidDevice",
    "AndroidEnv",
    "AndroidTask",
    "InstructionTask",
    "PhoneState",
    "SimPhone",
    "SimTask",
    "android_task",
    "android_tasks",
    "env_id",
    "make_android_env",
    "random_world",
]

_LAZY = {
    "AndroidEnv": "pixelpilot.envs.android.env",
    "make_android_env": "pixelpilot.envs.android.env",
    "SimPhone": "pixelpilot.envs.android.sim",
    "AdbDevice": "pixelpilot.envs.android.adb",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pixelpilot.envs.android' has no attribute {name!r}")
