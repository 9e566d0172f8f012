"""Every config section a YAML file can reach refuses a key it does not know, and says which.

A misspelt key (``loss: {tua_neg: 3}``) that is silently ignored trains the wrong experiment; the
sections are found by walking the run configs' fields, so a section added later is covered too.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from pixelpilot.model.random_click import RandomClickModel
from pixelpilot.rl.config import EvalRunConfig, RLConfig, SFTConfig, load_config
from pixelpilot.rl.rewards.hybrid import ComponentKind, HybridRewardConfig, build_hybrid

TYPO = "zz_typo"


def _models_in(annotation: object) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple, dict, typing.Annotated):
        return set().union(*(_models_in(arg) for arg in typing.get_args(annotation)))
    return set()


def sections() -> list[type[BaseModel]]:
    """Every model reachable from the run configs' fields, the roots included."""
    found: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [RLConfig, SFTConfig, EvalRunConfig]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return sorted(found, key=lambda model: model.__name__)


def test_the_walk_finds_the_sections_people_mistype() -> None:
    names = {model.__name__ for model in sections()}
    assert {"PolicyLossConfig", "AdvantageConfig", "FilterConfig", "SamplingParams", "LoraConfig"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize("section", sections(), ids=lambda model: model.__name__)
def test_every_section_refuses_an_unknown_key(section: type[BaseModel]) -> None:
    with pytest.raises(ValidationError) as raised:
        section.model_validate({TYPO: 1})
    assert any(error["type"] == "extra_forbidden" and error["loc"][-1] == TYPO for error in raised.value.errors())


@pytest.mark.parametrize("kind", typing.get_args(ComponentKind))
def test_every_reward_component_refuses_an_unknown_key(kind: str) -> None:
    config = HybridRewardConfig.model_validate({"components": [{"kind": kind, "config": {TYPO: 1}}]})
    with pytest.raises(ValidationError, match=TYPO):
        build_hybrid(config, judge=RandomClickModel())


@pytest.mark.parametrize(
    "override", ["loss.tua_neg=3", "rollout.sampling.temprature=0.5", "advantage.normalise_std=false", "filter.x=1"]
)
def test_the_error_names_the_key_and_its_section(tmp_path: Path, override: str) -> None:
    path = tmp_path / "rl.yaml"
    path.write_text(
        "model: {path: x}\noutput_dir: out\nsteps: 1\ntasks: [{env_id: pixelpilot/synthetic-click-button-v0}]\n"
    )
    with pytest.raises(ValidationError) as raised:
        load_config(path, RLConfig, [override])
    assert override.split("=")[0] in str(raised.value)
