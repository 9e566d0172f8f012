"""The agent: prompt building, response parsing, the episode state machine, the loop and trajectories."""

from pixelpilot.agent.episode import Callback, Episode
from pixelpilot.agent.live import LiveView
from pixelpilot.agent.loop import Agent
from pixelpilot.agent.parser import ParsedCall, ParsedResponse, parse_response
from pixelpilot.agent.prompt import History, system_text
from pixelpilot.agent.trajectory import CallRecord, EndReason, Landing, Step, Trajectory

__all__ = [
    "Agent",
    "CallRecord",
    "Callback",
    "EndReason",
    "Episode",
    "History",
    "Landing",
    "LiveView",
    "ParsedCall",
    "ParsedResponse",
    "Step",
    "Trajectory",
    "parse_response",
    "system_text",
]
