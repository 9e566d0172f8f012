"""The simulated phone's data: settings, contacts, conversations, alarms, notes and events.

``PhoneState`` is the one shape both sides share: Python draws it from a seed and hands it to the
phone web app (``window.phone.boot(state)``), the app keeps it as ``window.phone.state`` while the
agent acts, and task checks read it back, validated, through the same model. A seed fixes the
whole world (who is in the contacts, what the notes say, the date), as AndroidWorld's seeded
task parameters do, so that an episode can be replayed exactly.
"""

from __future__ import annotations

import datetime as dt
import random

from pydantic import BaseModel, ConfigDict, Field

FIRST_NAMES = (
    "Aisha", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
    "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tara", "Umar", "Vera", "Wen", "Xavier",
    "Yara", "Zoe", "Amir", "Bianca", "Chen", "Diego", "Emma", "Felix", "Hannah", "Ivan", "Julia", "Kai",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Brooks", "Castro", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan",
    "Lopez", "Morel", "Novak", "Okafor", "Park", "Quist", "Rossi", "Silva", "Tanaka", "Unger", "Vargas",
    "Weber", "Young", "Zhang", "Moreau", "Nilsson", "Costa",
)  # fmt: skip
MESSAGE_TEXTS = (
    "Are we still on for lunch tomorrow?", "Running 10 minutes late, sorry!", "Can you send me the photos?",
    "Happy birthday! Have a great day.", "Did you see the game last night?", "The meeting moved to 3pm.",
    "Thanks for your help today.", "Call me when you get a chance.", "I left my keys at your place.",
    "See you at the station at 8.", "Don't forget to bring the charger.", "Great news about the new job!",
)  # fmt: skip
NOTE_TOPICS = (
    ("Groceries", "Milk, eggs, bread, spinach, coffee beans"),
    ("Packing list", "Passport, charger, sunscreen, hiking boots"),
    ("Book ideas", "A lighthouse keeper who collects letters"),
    ("Gift ideas", "Scarf for Mum, puzzle for Leo"),
    ("Wi-Fi password", "The guest network password is in the drawer"),
    ("Recipes to try", "Lentil soup, mushroom risotto, banana bread"),
    ("Meeting notes", "Ship the beta on Friday; review the budget"),
    ("Workout plan", "Monday run, Wednesday swim, Friday weights"),
    ("Movies", "Watch the documentary about octopuses"),
    ("Garden", "Plant tomatoes after the last frost"),
)
EVENT_TITLES = (
    "Dentist appointment", "Team standup", "Yoga class", "Dinner with Sam", "Project review", "Flight to Lisbon",
    "Piano lesson", "Parent-teacher meeting", "Car service", "Book club", "Haircut", "Quarterly planning",
    "Birthday party", "Farmers market", "Job interview", "Volunteer shift",
)  # fmt: skip
ALARM_LABELS = ("Wake up", "Gym", "Medicine", "School run", "Meeting", "Take out trash", "Call home", "Stretch")
SCREEN_TIMEOUTS = (15, 30, 60, 120, 300, 600, 1800)
"""The screen-timeout choices the Display settings offer, in seconds."""


def timeout_label(seconds: int) -> str:
    """How the Settings app names a screen timeout ("30 seconds", "2 minutes")."""
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


class Settings(BaseModel):
    wifi: bool = True
    mobile_data: bool = True
    airplane_mode: bool = False
    bluetooth: bool = False
    dark_theme: bool = False
    brightness: int = Field(default=60, ge=0, le=100)
    screen_timeout: int = 60
    volume: int = Field(default=50, ge=0, le=100)
    do_not_disturb: bool = False
    location: bool = True
    battery_saver: bool = False


class Contact(BaseModel):
    id: int
    first: str
    last: str = ""
    phone: str = ""
    email: str = ""
    favorite: bool = False

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}".strip()


class Message(BaseModel):
    outgoing: bool
    text: str
    time: str


class Thread(BaseModel):
    id: int
    address: str
    """The contact's full name, or a phone number for someone not in the contacts."""
    messages: list[Message] = Field(default_factory=list)


class Alarm(BaseModel):
    id: int
    hour: int = Field(ge=0, le=23)
    minute: int = Field(ge=0, le=59)
    label: str = ""
    enabled: bool = True

    @property
    def time(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


class Note(BaseModel):
    id: int
    title: str = ""
    body: str = ""


class Event(BaseModel):
    id: int
    title: str
    date: str
    """YYYY-MM-DD"""
    time: str
    """HH:MM"""
    location: str = ""


class PhoneState(BaseModel):
    """Everything the simulated phone knows; what ``window.phone.state`` holds."""

    model_config = ConfigDict(extra="ignore")

    now: str
    """The phone's clock, ``YYYY-MM-DD HH:MM``: fixed for the episode so that screenshots replay exactly."""
    battery: int = 80
    settings: Settings = Field(default_factory=Settings)
    contacts: list[Contact] = Field(default_factory=list)
    threads: list[Thread] = Field(default_factory=list)
    alarms: list[Alarm] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    @property
    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.now[:10])

    def contact(self, name: str) -> Contact | None:
        wanted = normalize(name)
        return next((c for c in self.contacts if normalize(c.name) == wanted), None)

    def thread(self, address: str) -> Thread | None:
        wanted = normalize(address)
        return next((t for t in self.threads if normalize(t.address) == wanted), None)


def normalize(text: str) -> str:
    """Text as a check compares it: case and runs of whitespace do not matter."""
    return " ".join(text.split()).casefold()


def digits(text: str) -> str:
    """The digits of a phone number (formatting does not matter)."""
    return "".join(ch for ch in text if ch.isdigit())


def phone_number(rng: random.Random) -> str:
    return f"{rng.choice((415, 510, 650, 212, 617, 206))}-555-{rng.randint(100, 199):04d}"


def random_contacts(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """count distinct (first, last) names."""
    names: set[tuple[str, str]] = set()
    while len(names) < count:
        names.add((rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)))
    return sorted(names)


def random_world(rng: random.Random) -> PhoneState:
    """A plausible phone drawn from rng: some contacts, conversations, alarms, notes and events."""
    today = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
    hour = rng.randint(11, 21)
    state = PhoneState(
        now=f"{today.isoformat()} {hour:02d}:{rng.randint(0, 59):02d}",
        battery=rng.randint(25, 98),
        settings=Settings(
            wifi=rng.random() < 0.8,
            bluetooth=rng.random() < 0.4,
            dark_theme=rng.random() < 0.3,
            brightness=rng.randrange(20, 90, 5),
            screen_timeout=rng.choice(SCREEN_TIMEOUTS),
            volume=rng.randrange(20, 90, 10),
            location=rng.random() < 0.7,
        ),
    )
    phones: set[str] = set()
    for first, last in random_contacts(rng, rng.randint(14, 20)):
        number = phone_number(rng)
        while number in phones:
            number = phone_number(rng)
        phones.add(number)
        email = f"{first.lower()}.{last.lower()}@example.com" if rng.random() < 0.5 else ""
        state.contacts.append(
            Contact(id=state.new_id(), first=first, last=last, phone=number, email=email, favorite=rng.random() < 0.15)
        )
    for contact in rng.sample(state.contacts, rng.randint(3, 5)):
        messages = [
            Message(
                outgoing=rng.random() < 0.4, text=rng.choice(MESSAGE_TEXTS), time=f"{h:02d}:{rng.randint(0, 59):02d}"
            )
            for h in sorted(rng.sample(range(7, hour), rng.randint(1, 3)))  # earlier today
        ]
        state.threads.append(Thread(id=state.new_id(), address=contact.name, messages=messages))
    for hour, minute in sorted({(rng.randint(5, 22), rng.choice((0, 15, 30, 45))) for _ in range(rng.randint(2, 4))}):
        state.alarms.append(
            Alarm(
                id=state.new_id(), hour=hour, minute=minute, label=rng.choice(ALARM_LABELS), enabled=rng.random() < 0.6
            )
        )
    for title, body in rng.sample(NOTE_TOPICS, rng.randint(3, 5)):
        state.notes.append(Note(id=state.new_id(), title=title, body=body))
    for title in rng.sample(EVENT_TITLES, rng.randint(4, 7)):
        day = today + dt.timedelta(days=rng.randint(-3, 20))
        state.events.append(
            Event(
                id=state.new_id(),
                title=title,
                date=day.isoformat(),
                time=f"{rng.randint(8, 19):02d}:{rng.choice((0, 30)):02d}",
            )
        )
    return state
