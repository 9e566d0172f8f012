"""The desktop suite: tasks over Debian programs and the shipped Tk apps, one module per program family.

This package stays light (no X, mss or numpy import) because ``import pixelpilot`` registers the ids.
"""

from __future__ import annotations

from pixelpilot.envs.core.registry import Suite
from pixelpilot.envs.desktop.tasks.apps import (
    ChecklistSelect,
    FormFill,
    GalleryPick,
    LongListOpen,
    NotesType,
    RecordsDelete,
    SettingsApply,
    ShapesDrag,
)
from pixelpilot.envs.desktop.tasks.base import DesktopTask, InstructionTask
from pixelpilot.envs.desktop.tasks.editor import CalculatorToEditor, EditorAppendLine, EditorNewFile, EditorReplaceWord
from pixelpilot.envs.desktop.tasks.files import FilesDelete, FilesNewFolder, FilesRename
from pixelpilot.envs.desktop.tasks.terminal import (
    TerminalCreateFile,
    TerminalMakeDirs,
    TerminalRenameFile,
    TerminalSumNumbers,
)

__all__ = ["DESKTOP", "TASKS", "DesktopTask", "InstructionTask", "desktop_task", "desktop_tasks", "env_id"]

TASKS: dict[str, type[DesktopTask]] = {
    cls.model_fields["name"].default: cls
    for cls in (
        TerminalCreateFile,
        TerminalMakeDirs,
        TerminalRenameFile,
        TerminalSumNumbers,
        EditorAppendLine,
        EditorReplaceWord,
        EditorNewFile,
        FilesRename,
        FilesNewFolder,
        FilesDelete,
        CalculatorToEditor,
        FormFill,
        ChecklistSelect,
        RecordsDelete,
        SettingsApply,
        ShapesDrag,
        LongListOpen,
        GalleryPick,
        NotesType,
    )
}
"""Task name (``terminal-create-file``, ...) -> its class."""


def desktop_tasks() -> list[str]:
    """Every desktop task name, sorted."""
    return sorted(TASKS)


def desktop_task(name: str) -> DesktopTask:
    """A fresh instance of a task (each environment gets its own: tasks keep their episode's parameters)."""
    if name not in TASKS:
        raise ValueError(f"unknown desktop task {name!r}; known: {', '.join(desktop_tasks())}")
    return TASKS[name]()


def _has_oracle(name: str) -> bool:
    return TASKS[name].oracle is not DesktopTask.oracle


DESKTOP = Suite(
    name="desktop",
    id_format="pixelpilot/desktop-{task}-v0",
    entry_point="pixelpilot.envs.desktop.env:make_desktop_env",
    tasks=desktop_tasks,
    has_oracle=_has_oracle,
)
env_id = DESKTOP.env_id
