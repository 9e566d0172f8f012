"""Small, randomly initialised Qwen3-VL checkpoints built fully offline.

Tests, demos and CI exercise every code path (processor, chat template, vision tower, M-RoPE,
deepstack, MoE routing, serving) without downloading anything. The checkpoint uses the real
architecture classes and the real file layout, so loading it is exactly loading a downloaded
Qwen3-VL; only the sizes and the vocabulary are small.

Two sizes: ``tiny`` (a few hundred thousand weights, for tests that need every code path but no
skill) and ``nano``, the untrained starting point of pixelpilot-nano, sized so that pixelpilot's
own SFT and RL teach it MiniWoB++ tasks on a laptop CPU (see ``NANO`` for the reasons).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from pixelpilot.envs.core.actions import COMPUTER_ACTIONS, MOBILE_ACTIONS
from pixelpilot.model.base import PROMPT_STYLE_KEY

# Qwen's added tokens in Qwen's order: ids follow the BPE vocabulary exactly as 151643.. do in
# the real tokenizer. The tool/think markers are *not* special there (decoding with
# skip_special_tokens keeps them), and neither are they here.
ENDOFTEXT = "<|endoftext|>"
SPECIAL_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
PLAIN_ADDED_TOKENS = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)

BPE_VOCAB_SIZE = 3000
COMPACT_VOCAB_SIZE = 4000
CHAT_TEMPLATE_FILE = "qwen3_vl_chat_template.jinja"
# Each visual token covers (16 * 2)^2 pixels; the tiny processor keeps screenshots to at most 256
# tokens so that CPU tests stay fast (the real checkpoints allow 16384).
TINY_MIN_PIXELS = 32 * 32 * 4
TINY_MAX_PIXELS = 32 * 32 * 256
NANO_MAX_PIXELS = 32 * 32 * 100
NANO_MAX_NEW_TOKENS = 256

_WORD_LIST = (
    "button submit cancel ok search login password email name address city country phone date time "
    "menu file edit view help settings profile home back next previous page tab window dialog form "
    "field input box checkbox radio option list item link image icon text label title header footer "
    "red green blue yellow black white orange purple left right top bottom center first second third "
    "click press type select scroll drag drop open close save delete copy paste find enter escape "
    "the a an of to in on at for with from by and or is are be this that it you your please then "
    "account order cart checkout price total quantity product review rating shipping payment card "
    "number code message inbox reply forward send draft subject recipient attachment calendar event "
    "meeting schedule today tomorrow week month year morning evening hour minute second duration "
    "user username sign register logout welcome dashboard report chart table row column cell value "
    "filter sort ascending descending newest oldest popular price low high category tag folder "
    "document upload download share print export import refresh reload update install remove enable "
    "disable toggle switch slider range minimum maximum volume brightness notification alert warning "
    "error success failure done finished complete pending active inactive visible hidden selected "
    "current screen display desktop browser terminal editor mobile app application contact map "
    "location route flight hotel booking ticket seat passenger departure arrival destination origin "
    "airport station question answer correct wrong true false yes no maybe because so if when where "
    "which who what how must should can could would will may might need want see look show shown "
    "appears contains small large big tiny wide narrow long short tall round square triangle circle "
    "shape color size zoom crop region area bounding coordinate position pixel width height corner "
    "edge middle step task goal instruction action observation result reward episode trajectory "
    "agent model"
)
_WORDS = tuple(_WORD_LIST.split())
_KEYS = ("ctrl", "alt", "shift", "enter", "tab", "esc", "backspace", "a", "c", "v", "up", "down", "F5")
_INSTRUCTIONS = (
    "Click on the {w} button.",
    "Type '{w} {w}' into the {w} field and press enter.",
    "Select {w} from the list and click Submit.",
    "Find the {w} {w} and open it.",
    "Scroll down until you see the {w} link, then click it.",
    "What is the {w} shown in the image? Answer with one word.",
    "Zoom in on the {w} region to read the small text.",
    "Drag the {w} item to the {w} box.",
)
_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
_POSTAMBLE = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
    "\n</tool_call>"
)


def _tool_schemas() -> list[dict]:
    """The shapes of pixelpilot's GUI and zoom tools, so the BPE learns their words and JSON.

    A tokenizer corpus, not the tools' definition (``pixelpilot.tools`` is): its bytes decide the
    merges, so they stay fixed and ``scripts/train_nano.sh`` rebuilds the shipped tokenizer exactly.
    The action names are the environments' own."""
    point = {"type": "array", "description": "(x, y) on a 1000x1000 screen"}
    return [
        {
            "type": "function",
            "function": {
                "name": "computer_use",
                "description": "Use a mouse and keyboard to interact with a computer. The screen is 1000x1000.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string", "enum": list(COMPUTER_ACTIONS)},
                        "keys": {"type": "array"},
                        "text": {"type": "string"},
                        "coordinate": point,
                        "pixels": {"type": "number"},
                        "time": {"type": "number"},
                        "status": {"type": "string", "enum": ["success", "failure"]},
                    },
                    "required": ["action"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "mobile_use",
                "description": "Use a touchscreen to interact with a mobile device.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string", "enum": list(MOBILE_ACTIONS)},
                        "coordinate": point,
                        "coordinate2": point,
                        "text": {"type": "string"},
                        "button": {"type": "string", "enum": ["Back", "Home", "Menu", "Enter"]},
                    },
                    "required": ["action"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "image_zoom_in_tool",
                "description": "Zoom in on a region of an image by cropping it with a bounding box.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "bbox_2d": {"type": "array", "description": "[x1, y1, x2, y2] in 0-1000"},
                        "label": {"type": "string"},
                        "img_idx": {"type": "number"},
                    },
                    "required": ["bbox_2d"],
                },
            },
        },
    ]


def _tool_call(rng: random.Random) -> str:
    action = rng.choice(COMPUTER_ACTIONS)
    arguments: dict = {"action": action}
    if action in ("left_click", "right_click", "double_click", "mouse_move", "left_click_drag"):
        arguments["coordinate"] = [rng.randint(0, 1000), rng.randint(0, 1000)]
    elif action == "type":
        arguments["text"] = " ".join(rng.choices(_WORDS, k=rng.randint(1, 4)))
    elif action == "key":
        arguments["keys"] = rng.sample(_KEYS, k=rng.randint(1, 3))
    elif action in ("scroll", "hscroll"):
        arguments["pixels"] = rng.randint(-500, 500)
    elif action == "terminate":
        arguments["status"] = rng.choice(["success", "failure"])
    if rng.random() < 0.2:
        call = {"name": "image_zoom_in_tool", "arguments": {"bbox_2d": sorted(rng.sample(range(1001), 4))}}
    else:
        call = {"name": "computer_use", "arguments": arguments}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"


def _corpus(rng: random.Random, lines: int = 3000, texts: tuple[str, ...] = ()) -> Iterator[str]:
    """Text shaped like the agent's conversations: tool blocks, instructions, calls, numbers.

    ``texts`` are prompts the checkpoint will read on every turn (a system prompt): repeated as often
    as the tool blocks, their words become single tokens, which shortens every training sequence.
    """
    schemas = "\n".join(json.dumps(schema) for schema in _tool_schemas())
    for _ in range(20):
        yield _PREAMBLE + schemas + _POSTAMBLE
        yield from texts
    for _ in range(lines):
        instruction = rng.choice(_INSTRUCTIONS)
        while "{w}" in instruction:
            instruction = instruction.replace("{w}", rng.choice(_WORDS), 1)
        thought = " ".join(rng.choices(_WORDS, k=rng.randint(3, 12)))
        yield (
            f"system\nYou are a helpful assistant.\nuser\n{instruction}\nassistant\n<think>\n{thought}\n</think>\n\n"
            f"{thought.capitalize()}.\n{_tool_call(rng)}\nuser\n<tool_response>\nStep {rng.randint(1, 30)}: "
            f"the page shows {rng.choice(_WORDS)}.\n</tool_response>"
        )
    yield " ".join(str(n) for n in range(1001))


def _train_tokenizer(seed: int, texts: tuple[str, ...] = (), compact: bool = False):
    """Byte-level BPE, then Qwen's added tokens after the vocabulary.

    The default splits text as Qwen2 does (words, single digits) before BPE, so a token never spans
    a word boundary. ``compact`` splits off single digits only: merges then run across words, and
    text the corpus repeats (the system prompt, the tool-call JSON) becomes a few long tokens, while
    numbers stay digit by digit as a model must write coordinates.
    """
    from transformers import PreTrainedTokenizerFast, Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    split = Regex(r"\p{N}") if compact else Regex(PRETOKENIZE_REGEX)
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(split, behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=COMPACT_VOCAB_SIZE if compact else BPE_VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        max_token_length=48 if compact else None,
    )
    bpe.train_from_iterator(_corpus(random.Random(seed), texts=texts), trainer)
    common = {"eos_token": ENDOFTEXT, "pad_token": ENDOFTEXT, "model_max_length": 262144}
    if compact:
        # A plain fast tokenizer keeps this pre-tokenizer in tokenizer.json; Qwen2Tokenizer would
        # impose Qwen's word split again on loading.
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, **common)
    else:
        trained = json.loads(bpe.to_str())["model"]
        tokenizer = Qwen2Tokenizer(
            vocab=trained["vocab"],
            merges=[tuple(pair) for pair in trained["merges"]],
            unk_token=None,
            errors="replace",
            **common,
        )
    tokenizer.add_special_tokens(
        {"extra_special_tokens": [AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS]}
    )
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in PLAIN_ADDED_TOKENS])
    tokenizer.eos_token = "<|im_end|>"
    return tokenizer


def chat_template() -> str:
    """The Qwen3-VL Instruct chat template shipped with pixelpilot."""
    return resources.files("pixelpilot.model").joinpath(CHAT_TEMPLATE_FILE).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Sizes:
    """The shape of a small Qwen3-VL: its language model, its vision tower and its screenshot budget."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    mrope_section: tuple[int, int, int]
    vision_hidden: int
    vision_intermediate: int
    vision_depth: int
    vision_heads: int
    deepstack: tuple[int, ...]
    min_pixels: int
    max_pixels: int
    tie_embeddings: bool = False
    greedy: bool = False
    """Decode greedily by default (the checkpoint's generation config): a model trained to act."""
    compact_tokenizer: bool = False
    """BPE merges across words (``_train_tokenizer``): the fixed prompt costs a fifth of the tokens."""
    prompt_style: str | None = None
    """The prompt style the checkpoint will be trained on, written into its generation config so that every
    checkpoint trained from it (and the exported model) names it: ``pixelpilot`` for nano."""
    sincos_vision_positions: bool = False
    """Start the ViT's position-embedding table as a 2D sine-cosine grid (MAE's) instead of the config's
    N(0, 0.02). A model trained from scratch with its vision tower frozen knows where a patch is only
    from this table: drawn at 0.02 it is a twentieth of a patch's content, and drawn at random at any
    scale it gives each cell an unrelated code the language model must memorise; a sinusoid makes
    column and row smooth, linear functions of the features (docs/nano.md, "Seeing the screen")."""


TINY = Sizes(
    hidden=64,
    intermediate=128,
    layers=3,
    heads=4,
    kv_heads=2,
    head_dim=32,
    # 6:5:5 of the 16 rotary frequencies, the real 24:20:20 scaled down; interleaved as in Qwen3-VL.
    mrope_section=(6, 5, 5),
    vision_hidden=32,
    vision_intermediate=64,
    vision_depth=2,
    vision_heads=2,
    # Both vision layers feed deepstack features into the first two LM layers.
    deepstack=(0, 1),
    min_pixels=TINY_MIN_PIXELS,
    max_pixels=TINY_MAX_PIXELS,
)

NANO = Sizes(
    hidden=256,
    intermediate=768,
    layers=4,
    heads=4,
    kv_heads=2,
    head_dim=64,
    mrope_section=(12, 10, 10),
    vision_hidden=192,
    vision_intermediate=576,
    vision_depth=4,
    vision_heads=3,
    deepstack=(1, 3),
    min_pixels=32 * 32 * 4,
    max_pixels=NANO_MAX_PIXELS,
    tie_embeddings=True,
    greedy=True,
    compact_tokenizer=True,
    prompt_style="pixelpilot",
    sincos_vision_positions=True,
)
"""pixelpilot-nano's shape; docs/nano.md gives the measurements behind each choice."""

SIZES = {"tiny": TINY, "nano": NANO}


def _config(tokenizer, moe: bool, sizes: Sizes = TINY):
    """Real Qwen3-VL configs at small sizes; ratios (M-RoPE sections, patch/merge) kept as in the report."""
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in (*SPECIAL_TOKENS, ENDOFTEXT)}
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": sizes.hidden,
        "intermediate_size": sizes.intermediate,
        "num_hidden_layers": sizes.layers,
        "num_attention_heads": sizes.heads,
        "num_key_value_heads": sizes.kv_heads,
        "head_dim": sizes.head_dim,
        "max_position_embeddings": 32768,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5_000_000.0,
            "mrope_section": list(sizes.mrope_section),
            "mrope_interleaved": True,
        },
        "bos_token_id": ids[ENDOFTEXT],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids[ENDOFTEXT],
        "dtype": "float32",
    }
    vision = {
        "depth": sizes.vision_depth,
        "hidden_size": sizes.vision_hidden,
        "intermediate_size": sizes.vision_intermediate,
        "num_heads": sizes.vision_heads,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": sizes.hidden,
        "num_position_embeddings": 256,
        "deepstack_visual_indexes": list(sizes.deepstack),
    }
    tokens = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    if moe:
        from transformers import Qwen3VLMoeConfig

        text.update(
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            decoder_sparse_step=1,
            norm_topk_prob=True,
        )
        return Qwen3VLMoeConfig(text_config=text, vision_config=vision, **tokens)
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=sizes.tie_embeddings, **tokens)


def sincos_grid(cells: int, width: int) -> torch.Tensor:
    """A square grid's 2D sine-cosine position table, one row per cell in row-major order.

    A quarter of the width each for sin and cos of the column and of the row, at frequencies from π
    per cell (neighbours apart) down to π / side (monotonic across the grid, so a linear read-out
    gives the position); unit amplitude, as large as the patch content it is added to.
    """
    side = int(cells**0.5)
    if side * side != cells or width % 4:
        raise ValueError(
            f"a sine-cosine grid needs a square number of cells and a width divisible by 4, not {cells}, {width}"
        )
    rows, columns = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    quarter = width // 4
    frequencies = torch.pi / side ** (torch.arange(quarter) / (quarter - 1))
    angles = [coordinate.flatten().float()[:, None] * frequencies for coordinate in (columns, rows)]
    return torch.cat([part for angle in angles for part in (angle.sin(), angle.cos())], dim=1)


def generation_config(
    pad_token_id: int, eos_token_ids: list[int], greedy: bool = False, prompt_style: str | None = None
) -> Any:
    """Qwen3-VL Instruct's shipped sampling defaults, or greedy decoding for a checkpoint trained to act
    (pixelpilot-nano: a few million weights put their mass on one answer; sampling only adds slips);
    with ``prompt_style``, the prompt style the checkpoint is to be trained on."""
    from transformers import GenerationConfig

    ids: dict[str, Any] = {"bos_token_id": pad_token_id, "pad_token_id": pad_token_id, "eos_token_id": eos_token_ids}
    if prompt_style is not None:
        ids[PROMPT_STYLE_KEY] = prompt_style
    if greedy:
        return GenerationConfig(**ids, do_sample=False, max_new_tokens=NANO_MAX_NEW_TOKENS)
    return GenerationConfig(**ids, do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.0)


def build_tiny_checkpoint(
    path: str | Path,
    moe: bool = False,
    seed: int = 0,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    size: str | Sizes = "tiny",
    corpus: tuple[str, ...] = (),
) -> Path:
    """Write a small Qwen3-VL (dense, or MoE with ``moe=True``) with processor and template to ``path``.

    ``size`` is ``tiny``, ``nano`` (``SIZES``) or any ``Sizes``; the pixel budget defaults to the size's own.
    ``corpus`` adds texts the tokenizer should encode compactly (the agent's system prompt).
    Loadable with ``AutoProcessor.from_pretrained(path)`` and ``Qwen3VLForConditionalGeneration``
    (``Qwen3VLMoeForConditionalGeneration``), servable by ``transformers serve``. Same seed, same
    weights and vocabulary.
    """
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3VLForConditionalGeneration,
        Qwen3VLMoeForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    if isinstance(size, str) and size not in SIZES:
        raise ValueError(f"unknown checkpoint size {size!r}: use one of {', '.join(SIZES)}")
    sizes = SIZES[size] if isinstance(size, str) else size
    min_pixels = sizes.min_pixels if min_pixels is None else min_pixels
    max_pixels = sizes.max_pixels if max_pixels is None else max_pixels
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(seed, corpus, compact=sizes.compact_tokenizer)
    template = chat_template()
    tokenizer.chat_template = template

    config = _config(tokenizer, moe, sizes)
    model_class = Qwen3VLMoeForConditionalGeneration if moe else Qwen3VLForConditionalGeneration
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
        if sizes.sincos_vision_positions:
            table = model.model.visual.pos_embed.weight
            table.data.copy_(sincos_grid(table.shape[0], table.shape[1]))
    im_end, endoftext = tokenizer.convert_tokens_to_ids(["<|im_end|>", ENDOFTEXT])
    # Qwen3-VL Instruct's shipped defaults, token ids remapped to the tiny vocabulary.
    model.generation_config = generation_config(
        endoftext, [im_end, endoftext], greedy=sizes.greedy, prompt_style=sizes.prompt_style
    )
    model.save_pretrained(out)

    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    image_processor = Qwen2VLImageProcessor(
        size=size,
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    video_processor = Qwen3VLVideoProcessor(
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels * 4},
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=template,
    )
    processor.save_pretrained(out)
    return out
