"""The simulated phone's task suite, in the spirit of AndroidWorld: settings, contacts, messages, clock,
notes and calendar.

Each task draws a whole phone (``world.random_world``) and its own parameters from the seed, states
the goal in plain words, and checks success on the phone's data after every step (answer tasks check
the agent's ``answer``). Checks accept what a person would (case, spacing and phone-number formatting
do not matter) and refuse side effects a person would notice (deleting more than was asked). Every
task has an oracle that solves it by reading the screen (see ``oracle.PhoneScreen``).

Environment ids are ``pixelpilot/android-<task>-v0`` in the suite ``android``.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from pixelpilot.envs.android.base import AndroidDevice, AndroidTask
from pixelpilot.envs.android.world import (
    ALARM_LABELS,
    FIRST_NAMES,
    LAST_NAMES,
    SCREEN_TIMEOUTS,
    Message,
    PhoneState,
    digits,
    normalize,
    phone_number,
    random_world,
    timeout_label,
)
from pixelpilot.envs.core.actions import MobileAction
from pixelpilot.envs.core.registry import Suite
from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.web.oracle import OracleError
from pixelpilot.errors import EnvError

if TYPE_CHECKING:
    from pixelpilot.envs.android.env import AndroidEnv
    from pixelpilot.envs.android.oracle import PhoneScreen
    from pixelpilot.envs.android.sim import SimPhone

NEW_MESSAGES = (
    "On my way", "Can we move dinner to 8?", "I booked the tickets", "Happy new year!", "Thanks, see you soon",
    "Please call me back", "Lunch at noon works for me", "I will bring the cake",
)  # fmt: skip
NEW_NOTES = (
    ("Trip budget", "Train 120, hotel 340, food 150"), ("Call list", "Bank, dentist, landlord"),
    ("Birthday plan", "Order balloons and the cake"), ("Reading list", "Dune, Middlemarch, The Overstory"),
    ("Car", "Check the tire pressure on Sunday"), ("Passwords to reset", "Email and the router"),
)  # fmt: skip
NEW_LINES = ("Buy stamps", "Ask about the parking permit", "Water the plants", "Pick up the dry cleaning")
NEW_EVENTS = ("Coffee with Ana", "Museum visit", "Tennis match", "Vet appointment", "Team lunch", "Guitar lesson")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_TIME = re.compile(r"\b(\d{1,2})\s*[:.h]\s*(\d{2})\s*([ap])?\.?\s*m?\.?", re.IGNORECASE)


def spoken_date(date: dt.date) -> str:
    """How an instruction names a date: "Tuesday, July 21, 2026"."""
    return f"{date.strftime('%A')}, {date.strftime('%B')} {date.day}, {date.year}"


def times_in(text: str) -> set[tuple[int, int]]:
    """The clock times a reply names ("7:30", "07:30", "7:30 pm", "19h30") as (hour, minute)."""
    found = set()
    for hour, minute, half in _TIME.findall(text):
        h, m = int(hour), int(minute)
        if half and half.lower() == "p" and h < 12:
            h += 12
        if half and half.lower() == "a" and h == 12:
            h = 0
        if h < 24 and m < 60:
            found.add((h, m))
    return found


def names_date(text: str, date: dt.date) -> bool:
    """Whether a reply names date: ISO form, or month and day (with a year, it must be date's)."""
    lowered = text.lower()
    if date.isoformat() in lowered:
        return True
    month = MONTHS[date.month - 1]
    for match in re.finditer(
        rf"\b(?:{month}|{month[:3]})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{month}|{month[:3]})\b",
        lowered,
    ):
        day = int(match.group(1) or match.group(2))
        years = re.findall(r"\b(20\d\d)\b", lowered)
        if day == date.day and all(int(year) == date.year for year in years):
            return True
    return False


def _sim(device: AndroidDevice) -> SimPhone:
    from pixelpilot.envs.android.sim import SimPhone

    if not isinstance(device, SimPhone):
        raise EnvError("this task runs on the simulated phone (device='sim')")
    return device


class SimTask(AndroidTask):
    """A task on the simulated phone: ``generate`` sets up the world, ``check`` reads it, ``solve`` plays it."""

    app: ClassVar[str]
    """The app the task is about (the name ``open`` takes)."""
    answers: ClassVar[bool] = False
    """Whether success is an ``answer`` (checked once, when given) rather than a state of the phone."""
    _goal: dict[str, Any] = PrivateAttr(default_factory=dict)

    def setup(self, device: AndroidDevice, seed: int) -> str:
        phone = _sim(device)
        rng = random.Random(f"{self.name}/{seed}")
        world = random_world(rng)
        instruction, goal = self.generate(world, rng)
        self._goal = goal
        phone.boot(world)
        return instruction

    def validate(self, device: AndroidDevice, answer: str | None = None) -> TaskStatus:
        if self.answers:
            if answer is None:
                return TaskStatus(0.0, False)
            right = self.check_answer(answer)
            return TaskStatus(float(right), True, "right answer" if right else "wrong answer")
        if self.check(_sim(device).read_state()):
            return TaskStatus(1.0, True, "done")
        return TaskStatus(0.0, False)

    def oracle(self, env: AndroidEnv) -> Iterator[str]:
        from pixelpilot.envs.android.oracle import PhoneScreen

        return self.solve(PhoneScreen(env))

    @property
    def goal(self) -> dict[str, Any]:
        """The episode's parameters (what the instruction says), for inspection."""
        return dict(self._goal)

    @abstractmethod
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        """Adjust the world for this task and return (instruction, goal parameters)."""

    def check(self, state: PhoneState) -> bool:
        raise NotImplementedError

    def check_answer(self, answer: str) -> bool:
        raise NotImplementedError

    @abstractmethod
    def solve(self, s: PhoneScreen) -> Iterator[str]:
        """The oracle's steps for the current episode."""


TASKS: dict[str, type[SimTask]] = {}


def _task(name: str) -> Any:
    def register(cls: type[SimTask]) -> type[SimTask]:
        TASKS[name] = cls
        return cls

    return register


# ---------------------------------------------------------------------------------------------- settings


class _SwitchTask(SimTask):
    """Turn one settings switch to a target position."""

    app: ClassVar[str] = "Settings"
    key: ClassVar[str]
    title: ClassVar[str]
    section: ClassVar[str]
    target: ClassVar[bool | None] = None
    """The position asked for; None draws it from the seed."""

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        target = self.target if self.target is not None else rng.random() < 0.5
        setattr(world.settings, self.key, not target)
        if self.key == "wifi":
            world.settings.airplane_mode = False
        return f"Turn {'on' if target else 'off'} {self.title}.", {"on": target}

    def check(self, state: PhoneState) -> bool:
        return getattr(state.settings, self.key) is self._goal["on"]

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.tap(s.button("Settings"), "The Settings icon is on the home screen; I tap it.")
        yield s.tap(s.text(self.section), f'{self.title_on_screen} is under "{self.section}".')
        yield s.tap(s.switch(self.title_on_screen), f"I flip the {self.title} switch.")

    @property
    def title_on_screen(self) -> str:
        return self.title


@_task("settings-wifi-off")
class WifiOff(_SwitchTask):
    key: ClassVar[str] = "wifi"
    title: ClassVar[str] = "Wi-Fi"
    section: ClassVar[str] = "Network & internet"
    target: ClassVar[bool | None] = False


@_task("settings-bluetooth-on")
class BluetoothOn(_SwitchTask):
    key: ClassVar[str] = "bluetooth"
    title: ClassVar[str] = "Bluetooth"
    section: ClassVar[str] = "Connected devices"
    target: ClassVar[bool | None] = True

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield s.tap(s.text(self.section), f'Bluetooth is under "{self.section}".')
        yield s.tap(s.switch("Bluetooth"), "I turn the Bluetooth switch on.")


@_task("settings-airplane-mode")
class AirplaneMode(_SwitchTask):
    key: ClassVar[str] = "airplane_mode"
    title: ClassVar[str] = "airplane mode"
    section: ClassVar[str] = "Network & internet"

    @property
    def title_on_screen(self) -> str:
        return "Airplane mode"


@_task("settings-dark-theme")
class DarkTheme(_SwitchTask):
    key: ClassVar[str] = "dark_theme"
    title: ClassVar[str] = "dark theme"
    section: ClassVar[str] = "Display"

    @property
    def title_on_screen(self) -> str:
        return "Dark theme"


@_task("settings-do-not-disturb")
class DoNotDisturb(_SwitchTask):
    key: ClassVar[str] = "do_not_disturb"
    title: ClassVar[str] = "Do Not Disturb"
    section: ClassVar[str] = "Sound & vibration"
    target: ClassVar[bool | None] = True


@_task("settings-brightness")
class Brightness(SimTask):
    app: ClassVar[str] = "Settings"

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        level = rng.randrange(10, 101, 10)
        world.settings.brightness = rng.choice([b for b in range(5, 101, 5) if abs(b - level) >= 20])
        return f"Set the screen brightness to {level}%.", {"level": level}

    def check(self, state: PhoneState) -> bool:
        return abs(state.settings.brightness - self._goal["level"]) <= 3

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield s.tap(s.text("Display"), "Brightness is a Display setting.")
        slider = s.page.get_by_role("slider", name="Brightness level")
        box = slider.bounding_box()
        if box is None:
            raise OracleError("no brightness slider on the screen")
        x = box["x"] + box["width"] * self._goal["level"] / 100
        point = s.to_grid(min(x, box["x"] + box["width"] - 1), box["y"] + box["height"] / 2)
        yield s.say(
            f"The slider runs from 0% at its left end to 100% at its right; I tap at {self._goal['level']}%.",
            MobileAction(action="click", coordinate=point),
        )


@_task("settings-screen-timeout")
class ScreenTimeout(SimTask):
    app: ClassVar[str] = "Settings"

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        seconds = rng.choice(SCREEN_TIMEOUTS)
        world.settings.screen_timeout = rng.choice([t for t in SCREEN_TIMEOUTS if t != seconds])
        return f"Set the screen timeout to {timeout_label(seconds)}.", {"seconds": seconds}

    def check(self, state: PhoneState) -> bool:
        return state.settings.screen_timeout == self._goal["seconds"]

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield s.tap(s.text("Display"), "Screen timeout is a Display setting.")
        yield s.tap(s.text("Screen timeout"), "I open Screen timeout.")
        label = timeout_label(self._goal["seconds"])
        yield s.tap(s.button(label), f'I choose "{label}".')


@_task("settings-volume-up")
class VolumeUp(SimTask):
    app: ClassVar[str] = "Settings"

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        world.settings.volume = rng.randrange(10, 71, 10)
        presses = rng.randint(1, 3)
        level = world.settings.volume + 10 * presses
        return (
            f"The media volume is at {world.settings.volume}%. Turn it up to {level}% with the volume keys.",
            {"level": level, "presses": presses},
        )

    def check(self, state: PhoneState) -> bool:
        return state.settings.volume == self._goal["level"]

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        for i in range(self._goal["presses"]):
            yield s.key("KEYCODE_VOLUME_UP", f"Each press raises the volume by 10%; press {i + 1}.")


# ---------------------------------------------------------------------------------------------- contacts


def _fresh_name(world: PhoneState, rng: random.Random) -> tuple[str, str]:
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if world.contact(f"{first} {last}") is None:
            return first, last


class _ContactTask(SimTask):
    app: ClassVar[str] = "Contacts"

    def open_contact(self, s: PhoneScreen, name: str) -> Iterator[str]:
        yield s.open(self.app)
        yield from s.scroll_and_tap(s.text(name), f"I open {name}'s contact.")


@_task("contacts-add")
class AddContact(_ContactTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        first, last = _fresh_name(world, rng)
        number = phone_number(rng)
        return f"Add a contact named {first} {last} with the phone number {number}.", {
            "first": first,
            "last": last,
            "phone": number,
        }

    def check(self, state: PhoneState) -> bool:
        contact = state.contact(f"{self._goal['first']} {self._goal['last']}")
        return contact is not None and digits(contact.phone) == digits(self._goal["phone"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        goal = self._goal
        yield s.open(self.app)
        yield s.tap(s.button("Create contact"), 'I tap "+" to create a contact.')
        yield from s.fill("First name", goal["first"])
        yield from s.fill("Last name", goal["last"])
        yield from s.fill("Phone", goal["phone"])
        yield s.tap(s.button("Save"), "I save the contact.")


@_task("contacts-delete")
class DeleteContact(_ContactTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        target = rng.choice(world.contacts)
        return f"Delete the contact {target.name}.", {
            "name": target.name,
            "keep": [c.id for c in world.contacts if c is not target],
        }

    def check(self, state: PhoneState) -> bool:
        return sorted(c.id for c in state.contacts) == sorted(self._goal["keep"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        name = self._goal["name"]
        yield s.open(self.app)
        yield from s.reveal(s.text(name))
        yield s.long_press(s.text(name), f"I long-press {name} for the contact's actions.")
        yield s.tap(s.button("Delete"), 'I choose "Delete".')
        yield s.tap(s.page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True), "I confirm.")


@_task("contacts-favorite")
class FavoriteContact(_ContactTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        target = rng.choice(world.contacts)
        target.favorite = False
        return f"Add {target.name} to your favorite contacts.", {"name": target.name}

    def check(self, state: PhoneState) -> bool:
        contact = state.contact(self._goal["name"])
        return contact is not None and contact.favorite

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield from self.open_contact(s, self._goal["name"])
        yield s.tap(s.button("Add to favorites"), "I tap the star to make this contact a favorite.")


@_task("contacts-edit-phone")
class EditContactPhone(_ContactTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        target = rng.choice(world.contacts)
        number = phone_number(rng)
        while digits(number) == digits(target.phone):
            number = phone_number(rng)
        return f"Change {target.name}'s phone number to {number}.", {"name": target.name, "phone": number}

    def check(self, state: PhoneState) -> bool:
        contact = state.contact(self._goal["name"])
        return contact is not None and digits(contact.phone) == digits(self._goal["phone"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield from self.open_contact(s, self._goal["name"])
        yield s.tap(s.button("Edit contact"), "I edit the contact.")
        yield s.tap(s.button("Clear Phone"), "I clear the old phone number.")
        yield s.type(self._goal["phone"])
        yield s.tap(s.button("Save"), "I save the change.")


@_task("contacts-phone-number")
class ContactPhoneNumber(_ContactTask):
    answers: ClassVar[bool] = True

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        target = rng.choice(world.contacts)
        return f"What is {target.name}'s phone number? Answer with the number.", {
            "name": target.name,
            "phone": target.phone,
        }

    def check_answer(self, answer: str) -> bool:
        wanted = digits(self._goal["phone"])
        return digits(answer).endswith(wanted) and len(digits(answer)) <= len(wanted) + 2

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield from self.open_contact(s, self._goal["name"])
        number = s.read(s.page.locator(".info-row", has=s.text("Phone")).locator(".v"))
        yield s.answer(number, f"The contact page shows the phone number {number}.")


# ---------------------------------------------------------------------------------------------- messages


class _MessagesTask(SimTask):
    app: ClassVar[str] = "Messages"


@_task("messages-send")
class SendMessage(_MessagesTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        talked = {normalize(t.address) for t in world.threads}
        target = rng.choice([c for c in world.contacts if normalize(c.name) not in talked])
        text = rng.choice(NEW_MESSAGES)
        return f'Send a text message to {target.name} saying "{text}".', {"name": target.name, "text": text}

    def check(self, state: PhoneState) -> bool:
        thread = state.thread(self._goal["name"])
        return thread is not None and any(
            m.outgoing and normalize(m.text) == normalize(self._goal["text"]) for m in thread.messages
        )

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        name, text = self._goal["name"], self._goal["text"]
        yield s.tap(s.button("Messages"), "I open Messages from the home screen.")
        yield s.tap(s.button("Start chat"), "I start a new chat.")
        yield from s.fill("To", name.split()[0])
        yield from s.scroll_and_tap(s.text(name), f"{name} is among the suggestions; I pick them.")
        yield from s.fill("Text message", text)
        yield s.tap(s.button("Send"), "I send the message.")


@_task("messages-reply")
class ReplyMessage(_MessagesTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        thread = rng.choice(world.threads)
        last = thread.messages[-1]
        thread.messages[-1] = Message(outgoing=False, text=last.text, time=last.time)
        text = rng.choice(NEW_MESSAGES)
        return f'Reply "{text}" to the latest message from {thread.address}.', {"name": thread.address, "text": text}

    def check(self, state: PhoneState) -> bool:
        thread = state.thread(self._goal["name"])
        return (
            thread is not None
            and thread.messages[-1].outgoing
            and normalize(thread.messages[-1].text) == normalize(self._goal["text"])
        )

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        name, text = self._goal["name"], self._goal["text"]
        yield s.open(self.app)
        yield from s.scroll_and_tap(s.text(name), f"I open the conversation with {name}.")
        yield from s.fill("Text message", text)
        yield s.system_button("Enter", "I press Enter to send.")


@_task("messages-delete-conversation")
class DeleteConversation(_MessagesTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        thread = rng.choice(world.threads)
        keep = [t.id for t in world.threads if t is not thread]
        return f"Delete your conversation with {thread.address}.", {"name": thread.address, "keep": keep}

    def check(self, state: PhoneState) -> bool:
        return sorted(t.id for t in state.threads) == sorted(self._goal["keep"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        name = self._goal["name"]
        yield s.open(self.app)
        yield from s.reveal(s.text(name))
        yield s.long_press(s.text(name), "I long-press the conversation.")
        yield s.tap(s.button("Delete"), 'I choose "Delete".')
        yield s.tap(s.page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True), "I confirm.")


# ---------------------------------------------------------------------------------------------- clock


def _unique_labels(world: PhoneState, rng: random.Random) -> None:
    labels = rng.sample(ALARM_LABELS, len(world.alarms))
    for alarm, label in zip(world.alarms, labels, strict=True):
        alarm.label = label


class _ClockTask(SimTask):
    app: ClassVar[str] = "Clock"


@_task("clock-add-alarm")
class AddAlarm(_ClockTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        taken = {(a.hour, a.minute) for a in world.alarms}
        hour, minute = rng.randint(4, 23), rng.randrange(0, 60, 5)
        while (hour, minute) in taken:
            hour, minute = rng.randint(4, 23), rng.randrange(0, 60, 5)
        return f"Set an alarm for {hour:02d}:{minute:02d}.", {"hour": hour, "minute": minute}

    def check(self, state: PhoneState) -> bool:
        return any(
            a.hour == self._goal["hour"] and a.minute == self._goal["minute"] and a.enabled for a in state.alarms
        )

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield s.tap(s.button("Add alarm"), 'I tap "+" to add an alarm.')
        yield from s.fill("Hour (0-23)", str(self._goal["hour"]))
        yield from s.fill("Minute (0-59)", f"{self._goal['minute']:02d}")
        yield s.tap(s.button("Save"), "I save the alarm.")


@_task("clock-disable-alarm")
class DisableAlarm(_ClockTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        alarm = rng.choice(world.alarms)
        alarm.enabled = True
        return f"Turn off the {alarm.time} alarm without deleting it.", {"id": alarm.id, "time": alarm.time}

    def check(self, state: PhoneState) -> bool:
        alarm = next((a for a in state.alarms if a.id == self._goal["id"]), None)
        return alarm is not None and not alarm.enabled

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        switch = s.switch(f"Alarm {self._goal['time']} on")
        yield from s.scroll_and_tap(switch, f"I flip the switch of the {self._goal['time']} alarm.")


@_task("clock-delete-alarm")
class DeleteAlarm(_ClockTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        _unique_labels(world, rng)
        alarm = rng.choice(world.alarms)
        keep = [a.id for a in world.alarms if a is not alarm]
        return f'Delete the alarm labelled "{alarm.label}".', {"label": alarm.label, "keep": keep}

    def check(self, state: PhoneState) -> bool:
        return sorted(a.id for a in state.alarms) == sorted(self._goal["keep"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        label = s.text(self._goal["label"])
        yield s.open(self.app)
        yield from s.reveal(label)
        yield s.long_press(label, f'I long-press the "{self._goal["label"]}" alarm.')
        yield s.tap(s.button("Delete"), 'I choose "Delete".')
        yield s.tap(s.page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True), "I confirm.")


@_task("clock-alarm-time")
class AlarmTime(_ClockTask):
    answers: ClassVar[bool] = True

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        _unique_labels(world, rng)
        alarm = rng.choice(world.alarms)
        return f'What time is the "{alarm.label}" alarm set for?', {
            "hour": alarm.hour,
            "minute": alarm.minute,
            "label": alarm.label,
        }

    def check_answer(self, answer: str) -> bool:
        return (self._goal["hour"], self._goal["minute"]) in times_in(answer)

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        card = s.page.locator(".alarm", has=s.text(self._goal["label"]))
        yield from s.reveal(card)
        time = s.read(card.locator(".atime"))
        yield s.answer(time, f'The "{self._goal["label"]}" alarm shows {time}.')


# ---------------------------------------------------------------------------------------------- notes


class _NotesTask(SimTask):
    app: ClassVar[str] = "Notes"


def _note_card(s: PhoneScreen, title: str) -> Any:
    return s.page.locator(".card", has=s.text(title))


@_task("notes-create")
class CreateNote(_NotesTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        title, body = rng.choice(NEW_NOTES)
        return f'Create a note titled "{title}" that says "{body}".', {"title": title, "body": body}

    def check(self, state: PhoneState) -> bool:
        return any(
            normalize(n.title) == normalize(self._goal["title"]) and normalize(n.body) == normalize(self._goal["body"])
            for n in state.notes
        )

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield s.tap(s.button("New note"), "I start a new note.")
        yield from s.fill("Title", self._goal["title"])
        yield from s.fill("Note", self._goal["body"])
        yield s.system_button("Back", "Going back saves the note.")


@_task("notes-delete")
class DeleteNote(_NotesTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        note = rng.choice(world.notes)
        return f'Delete the note "{note.title}".', {
            "title": note.title,
            "keep": [n.id for n in world.notes if n is not note],
        }

    def check(self, state: PhoneState) -> bool:
        return sorted(n.id for n in state.notes) == sorted(self._goal["keep"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield from s.scroll_and_tap(_note_card(s, self._goal["title"]), "I open the note.")
        yield s.system_button("Menu", "The note's menu has Delete.")
        yield s.tap(s.button("Delete"), 'I choose "Delete".')
        yield s.tap(s.page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True), "I confirm.")


@_task("notes-append")
class AppendToNote(_NotesTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        note = rng.choice(world.notes)
        line = rng.choice(NEW_LINES)
        return f'Add the line "{line}" at the end of the note "{note.title}".', {
            "id": note.id,
            "title": note.title,
            "body": note.body,
            "line": line,
        }

    def check(self, state: PhoneState) -> bool:
        note = next((n for n in state.notes if n.id == self._goal["id"]), None)
        if note is None:
            return False
        lines = [line for line in note.body.splitlines() if line.strip()]
        return normalize("\n".join(lines[:-1])) == normalize(self._goal["body"]) and normalize(lines[-1]) == normalize(
            self._goal["line"]
        )

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield from s.scroll_and_tap(_note_card(s, self._goal["title"]), "I open the note.")
        body = s.field("Note")
        box = body.bounding_box()
        if box is None:
            raise OracleError("the note's text field is not on the screen")
        end = s.to_grid(box["x"] + box["width"] - 16, box["y"] + box["height"] - 16)
        yield s.say("I tap below the text to put the cursor at its end.", MobileAction(action="click", coordinate=end))
        yield s.key("KEYCODE_ENTER", "I start a new line.")
        yield s.type(self._goal["line"])
        yield s.system_button("Back", "Going back saves the note.")


# ---------------------------------------------------------------------------------------------- calendar


class _CalendarTask(SimTask):
    app: ClassVar[str] = "Calendar"


@_task("calendar-add-event")
class AddEvent(_CalendarTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        title = rng.choice(NEW_EVENTS)
        date = world.today + dt.timedelta(days=rng.randint(1, 14))
        time = f"{rng.randint(8, 20):02d}:{rng.choice((0, 15, 30, 45)):02d}"
        return f'Add an event "{title}" to the calendar on {spoken_date(date)} at {time}.', {
            "title": title,
            "date": date.isoformat(),
            "time": time,
        }

    def check(self, state: PhoneState) -> bool:
        goal = self._goal
        return any(
            normalize(e.title) == normalize(goal["title"]) and e.date == goal["date"] and e.time == goal["time"]
            for e in state.events
        )

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield s.tap(s.button("New event"), 'I tap "+" for a new event.')
        yield from s.fill("Title", self._goal["title"])
        yield from s.fill("Date", self._goal["date"])
        yield from s.fill("Time", self._goal["time"])
        yield s.tap(s.button("Save"), "I save the event.")


@_task("calendar-delete-event")
class DeleteEvent(_CalendarTask):
    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        event = rng.choice(world.events)
        date = dt.date.fromisoformat(event.date)
        keep = [e.id for e in world.events if e is not event]
        return f'Delete the "{event.title}" event on {spoken_date(date)}.', {"title": event.title, "keep": keep}

    def check(self, state: PhoneState) -> bool:
        return sorted(e.id for e in state.events) == sorted(self._goal["keep"])

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield from s.scroll_and_tap(s.text(self._goal["title"]), "I open the event.")
        yield s.tap(s.button("Delete event"), "I tap the trash can.")
        yield s.tap(s.page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True), "I confirm.")


@_task("calendar-event-date")
class EventDate(_CalendarTask):
    answers: ClassVar[bool] = True

    def generate(self, world: PhoneState, rng: random.Random) -> tuple[str, dict[str, Any]]:
        event = rng.choice(world.events)
        return f'On what date is "{event.title}"?', {"title": event.title, "date": event.date}

    def check_answer(self, answer: str) -> bool:
        return names_date(answer, dt.date.fromisoformat(self._goal["date"]))

    def solve(self, s: PhoneScreen) -> Iterator[str]:
        yield s.open(self.app)
        yield from s.scroll_and_tap(s.text(self._goal["title"]), "I open the event to see its date.")
        date = s.read(s.page.locator(".info-row", has=s.text("Date")).locator(".v"))
        yield s.answer(date, f"The event is on {date}.")


# ---------------------------------------------------------------------------------------------- the suite


def android_tasks() -> list[str]:
    """The names of the simulated phone's tasks (``settings-wifi-off``, ...)."""
    return sorted(TASKS)


def android_task(name: str) -> SimTask:
    if name not in TASKS:
        raise ValueError(f"unknown Android task {name!r}; known: {', '.join(android_tasks())}")
    return TASKS[name](name=name)


def _has_oracle(task: str) -> bool:
    return task in TASKS


ANDROID = Suite(
    name="android",
    id_format="pixelpilot/android-{task}-v0",
    entry_point="pixelpilot.envs.android.env:make_android_env",
    tasks=android_tasks,
    has_oracle=_has_oracle,
)
env_id = ANDROID.env_id
