"""Oracles of the figure tasks: points and angles on a grid, shapes to click or count, pies, shades, colours."""

from __future__ import annotations

import cmath
import colorsys
import math
import re
from collections.abc import Iterator

from PIL import ImageColor

from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.web.miniwob.oracles.screen import UNSOLVED, MiniWoBScreen, match_instruction, oracle
from pixelpilot.envs.web.oracle import OracleError

Point = tuple[float, float]


def _mark(s: MiniWoBScreen, point: Point, what: str) -> Iterator[str]:
    """Click the grid at point; if the blue dot the page draws lands off it, click again to make up the gap."""
    x, y = point
    yield s.say(f"I click {what}.", ComputerAction(action="left_click", coordinate=s.to_grid(x, y)))
    (dot_x, dot_y), *_ = s.centres("#blue-circle")
    if math.hypot(dot_x - x, dot_y - y) > 1:
        x, y = 2 * x - dot_x, 2 * y - dot_y
        thought = f"The dot landed {math.hypot(dot_x - point[0], dot_y - point[1]):.0f} px off; I click again."
        yield s.say(thought, ComputerAction(action="left_click", coordinate=s.to_grid(x, y)))


def _inside(s: MiniWoBScreen, selector: str, start: Point, direction: Point, longest: float) -> Point:
    """The point furthest along direction from start, at most longest px, that stays 5 px inside selector."""
    box = s.box(selector)
    reach = longest
    axes = ((0, direction[0], box["x"], box["width"]), (1, direction[1], box["y"], box["height"]))
    for coordinate, step, lo, size in axes:
        if step > 0:
            reach = min(reach, (lo + size - 5 - start[coordinate]) / step)
        elif step < 0:
            reach = min(reach, (lo + 5 - start[coordinate]) / step)
    return start[0] + reach * direction[0], start[1] + reach * direction[1]


def _unit(x: float, y: float) -> Point:
    length = math.hypot(x, y)
    return x / length, y / length


@oracle("circle-center")
def _circle_center(s: MiniWoBScreen) -> Iterator[str]:
    (centre,) = s.centres("#svg-grid circle")
    yield from _mark(s, centre, "the centre of the circle")
    yield s.click("#subbtn", "I press Submit.")


@oracle("find-midpoint")
def _find_midpoint(s: MiniWoBScreen) -> Iterator[str]:
    (ax, ay), (bx, by) = s.centres("#svg-grid circle")
    yield from _mark(s, ((ax + bx) / 2, (ay + by) / 2), "halfway between the two points")
    yield s.click("#subbtn", "I press Submit.")


@oracle("right-angle")
def _right_angle(s: MiniWoBScreen) -> Iterator[str]:
    """Put the third point on the perpendicular to the line at the blue vertex, on the side with more room."""
    (ax, ay), vertex = s.centres("#init-black, #init-blue")
    ux, uy = _unit(ax - vertex[0], ay - vertex[1])
    ends = [_inside(s, "#svg-grid", vertex, (side * -uy, side * ux), 50) for side in (1, -1)]
    end = max(ends, key=lambda p: math.dist(p, vertex))
    yield from _mark(s, end, "a point square to the line at the blue vertex")
    yield s.click("#subbtn", "I press Submit.")


@oracle("bisect-angle")
def _bisect_angle(s: MiniWoBScreen) -> Iterator[str]:
    """Click far out along the sum of the unit vectors of the two arms, which halves the angle."""
    (vertex,) = s.centres(".init-blue")
    arms = [_unit(x - vertex[0], y - vertex[1]) for x, y in s.centres(".init-black")]
    direction = _unit(arms[0][0] + arms[1][0], arms[0][1] + arms[1][1])
    yield from _mark(s, _inside(s, "#svg-grid", vertex, direction, 80), "a point on the line halving the angle")
    yield s.click("#subbtn", "I press Submit.")


_FIGURE_JS = """(el) => {
  const tag = el.tagName.toLowerCase(), box = el.getBBox();
  const size = tag === 'text' ? parseFloat(el.getAttribute('font-size')) : box.width;
  return [tag, el.textContent, el.getAttribute('fill'), size];
}"""

_SHAPE_NAMES = {"rect": "rectangle", "circle": "circle", "polygon": "triangle"}


def _figure_words(s: MiniWoBScreen, selector: str) -> list[tuple[set[str], str]]:
    """Each figure's describing words (size, colour, what it is and its kind), with the figure's selector."""
    figures = []
    drawn = s.page.locator(selector).evaluate_all(f"els => els.map({_FIGURE_JS})")
    for index, (tag, text, colour, size) in enumerate(drawn):
        if tag in _SHAPE_NAMES:
            what, kind = _SHAPE_NAMES[tag], "shape"
        else:
            what, kind = text.strip(), "digit" if text.strip().isdigit() else "letter"
        words = {"large" if size >= 15 else "small", colour, what, kind, "item"}
        figures.append((words, f"{selector} >> nth={index}"))
    return figures


def _matching(figures: list[tuple[set[str], str]], description: str) -> list[str]:
    """The figures a description such as "large red letter" fits (its last word names the figure or its kind)."""
    *adjectives, noun = description.split()
    return [where for words, where in figures if noun in words and set(adjectives) <= words]


@oracle("click-shape")
def _click_shape(s: MiniWoBScreen) -> Iterator[str]:
    description = match_instruction(r"^Click on an? (.+)$", s.query()).group(1)
    found = _matching(_figure_words(s, "#area_svg > *"), description)
    if not found:
        raise OracleError(f"no figure is a {description}")
    yield s.click(found[0], f"I click the {description}.")


@oracle("count-shape")
def _count_shape(s: MiniWoBScreen) -> Iterator[str]:
    description = match_instruction(r"^How many (.+)s are there\?$", s.query()).group(1)
    count = len(_matching(_figure_words(s, "#area_svg > *"), description))
    yield s.click(s.exact("#count-buttons button", str(count)), f"I count {count} of them ({description}).")


_OUTLINE_JS = """() => {
  const c = document.getElementById('c');
  return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];
}"""


@oracle("count-sides")
def _count_sides(s: MiniWoBScreen) -> Iterator[str]:
    """Trace the outline's distance from the drawing's centre all round; its corners make the strongest ripple."""
    width, height, rgba = s.page.evaluate(_OUTLINE_JS)
    cx, cy = width / 2, height / 2

    def reach(angle: float) -> float:
        for r in range(int(min(cx, cy)) - 1, 0, -1):
            x, y = round(cx + r * math.cos(angle)), round(cy + r * math.sin(angle))
            if rgba[(y * width + x) * 4 + 3] > 128:
                return r
        return 0

    angles = [2 * math.pi * i / 360 for i in range(360)]
    profile = [reach(a) for a in angles]
    sides = max(
        range(3, 8), key=lambda n: abs(sum(r * cmath.exp(-1j * n * a) for r, a in zip(profile, angles, strict=True)))
    )
    yield s.click(s.exact("#form button", str(sides)), f"The shape has {sides} corners, so {sides} sides.")


@oracle("click-shades")
def _click_shades(s: MiniWoBScreen) -> Iterator[str]:
    """A shade of red, green or blue has that channel as its strongest; select each such square."""
    wanted = match_instruction(r"shades of (\w+)", s.query()).group(1)
    squares = s.page.locator("#area span")
    colours = squares.evaluate_all("els => els.map(el => getComputedStyle(el).backgroundColor)")
    for index, colour in enumerate(colours):
        red, green, blue = (int(v) for v in re.findall(r"\d+", colour)[:3])
        channels = {"red": red, "green": green, "blue": blue}
        if max(channels, key=channels.__getitem__) == wanted:
            yield s.click(squares.nth(index), f"This square ({colour}) is a shade of {wanted}.")
    yield s.submit()


@oracle("visual-addition")
def _visual_addition(s: MiniWoBScreen) -> Iterator[str]:
    first = s.page.locator("#visual-1 .addition-block").count()
    second = s.page.locator("#visual-2 .addition-block").count()
    total = str(first + second)
    yield from s.fill("#math-answer", total, f"the answer box ({first} + {second} blocks)")
    yield s.submit()


UNSOLVED["click-pie-nodelay"] = (
    "the wheelnav menu never sets `hovered` on its selected item (hoverEffect: `this.selected || (this.hovered = "
    "true)`), so each mouseover of the first slice, selected from the start, reruns hoverEffect, whose redraw moves "
    "the item's elements to the front (remove + append) and fires mouseover again: while the pointer is on that "
    "slice it is redrawn without end and presses land on the svg behind (measured). click-pie's oracle clicks while "
    "the opening animation still locks hover effects, but this variant sets animatetime = 0, so the lock ends within "
    "a frame and an episode asking for the first slice's label (1 in 4 to 9; seeds 1, 12, 18, 19 of 0-19) cannot "
    "be clicked"
)

_TOP_JS = "([x, y]) => { const el = document.elementFromPoint(x, y); return el ? el.id : null; }"


@oracle("click-pie")
def _click_pie(s: MiniWoBScreen) -> Iterator[str]:
    """Open the menu with its centre button and click the labelled slice as soon as it lies under the spot
    chosen on it, near the hub and a little round from the label's letters.

    Once the menu stops moving, the slice selected at the start (the first) is redrawn over and over while
    the pointer is on it, and clicks on it are lost; while it still opens, pointing at a slice redraws nothing.
    """
    label = s.quoted()[0]
    yield s.click("[id$=spreader]", 'I click the "+" in the middle to open the pie menu.')
    titles = s.page.locator("[id^=wheelnav-divWheel-title-]")
    title = titles.filter(has_text=re.compile(rf"^{re.escape(label)}$"))
    slice_id = (title.get_attribute("id") or "").replace("-title-", "-slice-")
    turn = math.pi / titles.count() * 0.6
    for _ in range(100):
        (hub,), (centre,) = s.centres("[id$=spreader]"), s.centres(title)
        if math.dist(hub, centre) > 1:
            ux, uy = _unit(centre[0] - hub[0], centre[1] - hub[1])
            x = hub[0] + 36 * (ux * math.cos(turn) - uy * math.sin(turn))
            y = hub[1] + 36 * (ux * math.sin(turn) + uy * math.cos(turn))
            if s.page.evaluate(_TOP_JS, [x, y]) == slice_id:
                thought = f'I click the slice labelled "{label}".'
                yield s.say(thought, ComputerAction(action="left_click", coordinate=s.to_grid(x, y)))
                return
        s.page.wait_for_timeout(20)
    raise OracleError(f'the slice "{label}" never opened')


def _pick_colour(s: MiniWoBScreen, rgb: tuple[int, int, int], name: str) -> Iterator[str]:
    """Open the picker; click the square at the colour's hue (across) and saturation (down), then the bar at its
    brightness (down); the picker's transparent cover takes the clicks, so they go by where the gradients are."""
    hue, saturation, value = colorsys.rgb_to_hsv(*(channel / 255 for channel in rgb))
    yield s.click("#col", "I click the colour field to open the picker.")
    canvases = s.page.locator("body > div canvas").all()
    square, bar = sorted((s.box(canvas) for canvas in canvases), key=lambda box: -box["width"])
    x = square["x"] + 0.5 + hue * (square["width"] - 1)
    y = square["y"] + 0.5 + (1 - saturation) * (square["height"] - 1)
    thought = f"{name} has hue {hue * 360:.0f} and saturation {saturation:.0%}; I click there in the square."
    yield s.say(thought, ComputerAction(action="left_click", coordinate=s.to_grid(x, y)))
    y = bar["y"] + 0.5 + (1 - value) * (bar["height"] - 1)
    thought = f"Its brightness is {value:.0%}; I click there on the bar."
    yield s.say(thought, ComputerAction(action="left_click", coordinate=s.to_grid(bar["x"] + bar["width"] / 2, y)))
    yield s.click("#query", "The picker covers the Submit button; I click outside it to close it.")
    yield s.submit()


@oracle("use-colorwheel")
def _use_colorwheel(s: MiniWoBScreen) -> Iterator[str]:
    name = match_instruction(r"^Select (\w+) with the color picker", s.query()).group(1)
    yield from _pick_colour(s, ImageColor.getrgb(name)[:3], name)


@oracle("use-colorwheel-2")
def _use_colorwheel_2(s: MiniWoBScreen) -> Iterator[str]:
    shown = s.page.locator("#query .cc").evaluate("el => getComputedStyle(el).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", shown)[:3])
    yield from _pick_colour(s, (red, green, blue), f"The colour shown ({shown})")
