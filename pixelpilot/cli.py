"""The ``pixelpilot`` command: run and evaluate agents, list environments, view reports, build, train, export."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
CHECK_HELP = "only check the config and every environment, file and path it names (seconds), then exit"
CHANGE_HELP = "resume even though the config changed since the run started, applying the new values"
OVERRIDE_HELP = "override a config value, e.g. --set steps=10 --set optim.lr=1e-4 --set demos.0.oracle.num_seeds=2"


def _cmd_envs(args: argparse.Namespace) -> int:
    from pixelpilot.envs.registration import registered_envs

    table = Table(title="pixelpilot environments")
    table.add_column("environment id")
    table.add_column("suite")
    table.add_column("oracle")
    count = 0
    for env_id, suite, has_oracle in registered_envs():
        if args.suite and suite != args.suite:
            continue
        table.add_row(env_id, suite, "yes" if has_oracle else "")
        count += 1
    console.print(table)
    console.print(f"{count} environment(s)")
    return 0


def _cmd_tiny_checkpoint(args: argparse.Namespace) -> int:
    from pixelpilot.agent.prompt import gui_system_texts
    from pixelpilot.model.tiny import build_tiny_checkpoint

    # nano is trained: its tokenizer learns the system prompts it will read on every turn.
    corpus = gui_system_texts() if args.size == "nano" else ()
    with console.status(f"building the {args.size} Qwen3-VL{' MoE' if args.moe else ''} checkpoint"):
        path = build_tiny_checkpoint(args.dir, moe=args.moe, seed=args.seed, size=args.size, corpus=corpus)
    console.print(f"{args.size} checkpoint written to [bold]{path}[/] (load it with --model hf:{path})")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import pixelpilot  # noqa: F401  (registers the environment ids)
    from pixelpilot.agent import Agent
    from pixelpilot.agent.live import LiveView
    from pixelpilot.model import load_model

    with console.status(f"loading {args.model}"):
        model = load_model(args.model)
    agent = Agent(model, max_steps=args.max_steps)
    out = Path(args.out)
    env = gym.make(args.env)
    successes = 0
    try:
        for episode in range(args.episodes):
            seed = args.seed + episode
            console.rule(f"{args.env}  seed {seed}")
            with LiveView(console) as view:
                trajectory = agent.run(env, seed=seed, callbacks=[view])
            directory = out if args.episodes == 1 else out / f"episode-{episode:03d}"
            trajectory.save(directory)
            report = trajectory.to_html(directory / "report.html")
            successes += int(trajectory.success)
            console.print(
                f"reward {trajectory.reward:g}  success {trajectory.success}  steps {len(trajectory.steps)}  "
                f"ended: {trajectory.end_reason}  report: {report}"
            )
    finally:
        env.close()
        model.close()
    console.print(f"[bold]{successes}/{args.episodes}[/] episode(s) succeeded")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    from pixelpilot.agent import Trajectory

    directory = Path(args.dir)
    report = Trajectory.load(directory).to_html(directory / "report.html")
    console.print(f"report written to [bold]{report}[/]")
    if args.open:
        webbrowser.open(report.resolve().as_uri())
    return 0


def _check(args: argparse.Namespace, kind: str) -> int:
    """``--check``: validate the config and everything it names, without loading the model."""
    from pixelpilot.rl.config import RLConfig, SFTConfig, load_config

    config = load_config(args.config, SFTConfig if kind == "sft" else RLConfig, args.set)
    config.check()
    console.print(f"{args.config}: the config is valid and every environment, file and path it names exists")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from pixelpilot.rl.config_reference import markdown

    print(markdown(args.kind), end="")
    return 0


def _cmd_sft(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args, "sft")
    from pixelpilot.rl.sft import run_sft

    last = run_sft(args.config, args.set, allow_config_change=args.allow_config_change)
    console.print(f"last checkpoint: [bold]{last}[/] (load it with --model hf:{last})", soft_wrap=True)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args, "train")
    from pixelpilot.rl.trainer import run_train

    last = run_train(args.config, args.set, allow_config_change=args.allow_config_change)
    console.print(f"last checkpoint: [bold]{last}[/] (load it with --model hf:{last})", soft_wrap=True)
    return 0


def _seeds(text: str) -> range:
    start, sep, stop = text.partition(":")
    try:
        seeds = range(int(start), int(stop)) if sep else range(int(start), int(start) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are START:STOP (e.g. 10000:10100), not {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"the seed range {text!r} is empty")
    return seeds


def _cmd_eval(args: argparse.Namespace) -> int:
    import pixelpilot  # noqa: F401  (registers the environment ids)
    from pixelpilot.model.base import SamplingParams
    from pixelpilot.rl.eval_run import GREEDY, run_eval, suite_env_ids

    env_ids = list(args.env or [])
    for suite in args.suite or []:
        env_ids += suite_env_ids(suite)
    if not env_ids:
        console.print("[red]error:[/] name at least one --env or --suite")
        return 2
    sampling = GREEDY if args.temperature == 0 else SamplingParams(temperature=args.temperature, max_new_tokens=256)
    summaries = run_eval(
        env_ids,
        args.model,
        args.seeds,
        args.out,
        workers=args.workers,
        max_steps=args.max_steps,
        sampling=sampling,
        console=console,
    )
    overall = summaries[-1] if summaries else None
    if overall is not None:
        console.print(
            f"overall success [bold]{overall.success_rate:.1%}[/] ({overall.successes}/{overall.episodes}); "
            f"index: {Path(args.out) / 'index.html'}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pixelpilot.model.export import export_checkpoint

    path = export_checkpoint(args.src, args.dst, dtype=args.dtype, greedy=args.greedy)
    console.print(f"exported to [bold]{path}[/]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelpilot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent on an environment and save the trajectory and its report")
    run.add_argument("--env", required=True, help="environment id, e.g. pixelpilot/miniwob-click-button-v0")
    run.add_argument("--model", required=True, help="nano, random, hf:DIR, openai:URL#NAME or vllm:NAME")
    run.add_argument("--max-steps", type=int, default=15)
    run.add_argument("--episodes", type=int, default=1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", default="runs/latest", help="directory for the trajectory and report.html")
    run.set_defaults(func=_cmd_run)

    ev = sub.add_parser("eval", help="held-out success of a model on tasks x seeds: results.jsonl, index.html, a plot")
    ev.add_argument("--env", action="append", help="an environment id (repeatable)")
    ev.add_argument("--suite", action="append", help="every environment of a suite: miniwob, desktop, android")
    ev.add_argument("--model", required=True, help="nano, random, hf:DIR, openai:URL#NAME or vllm:NAME")
    ev.add_argument("--seeds", type=_seeds, default=range(10000, 10100), help="START:STOP (default 10000:10100)")
    ev.add_argument("--workers", type=int, default=4, help="episodes in flight at once, each in its own environment")
    ev.add_argument("--max-steps", type=int, default=15)
    ev.add_argument("--temperature", type=float, default=0.0, help="0 decodes greedily (default)")
    ev.add_argument("--out", required=True, help="directory for results.jsonl, the episodes and index.html")
    ev.set_defaults(func=_cmd_eval)

    export = sub.add_parser("export", help="write a trained checkpoint's model and processor for shipping")
    export.add_argument("src", help="a checkpoint's model directory (e.g. runs/x/checkpoints/step-000100/model)")
    export.add_argument("dst")
    export.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    export.add_argument("--greedy", action="store_true", help="make greedy decoding the checkpoint's default")
    export.set_defaults(func=_cmd_export)

    envs = sub.add_parser("envs", help="list the registered environments and their suites")
    envs.add_argument("--suite", help="only this suite (e.g. miniwob)")
    envs.set_defaults(func=_cmd_envs)

    view = sub.add_parser("view", help="write (and optionally open) the HTML report of a saved trajectory")
    view.add_argument("dir")
    view.add_argument("--open", action="store_true", help="open the report in a web browser")
    view.set_defaults(func=_cmd_view)

    tiny = sub.add_parser("tiny-checkpoint", help="build the offline tiny Qwen3-VL checkpoint (random weights)")
    tiny.add_argument("dir")
    tiny.add_argument("--moe", action="store_true", help="the mixture-of-experts variant")
    tiny.add_argument(
        "--size", choices=("tiny", "nano"), default="tiny", help="nano: pixelpilot-nano's untrained start"
    )
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(func=_cmd_tiny_checkpoint)

    sft = sub.add_parser("sft", help="cold-start SFT from a YAML config (resumes from its last checkpoint)")
    sft.add_argument("config")
    sft.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=OVERRIDE_HELP)
    sft.add_argument("--allow-config-change", action="store_true", help=CHANGE_HELP)
    sft.add_argument("--check", action="store_true", help=CHECK_HELP)
    sft.set_defaults(func=_cmd_sft)

    config = sub.add_parser("config", help="show every key of a trainer's config: type, default, meaning")
    config.add_argument("action", choices=("show",))
    config.add_argument("kind", choices=("sft", "train"))
    config.set_defaults(func=_cmd_config)

    train = sub.add_parser("train", help="RL (SAPO/GRPO) from a YAML config (resumes; torchrun for several processes)")
    train.add_argument("config")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=OVERRIDE_HELP)
    train.add_argument("--allow-config-change", action="store_true", help=CHANGE_HELP)
    train.add_argument("--check", action="store_true", help=CHECK_HELP)
    train.set_defaults(func=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from pixelpilot.errors import PixelpilotError

    try:
        return args.func(args)
    except (PixelpilotError, ValidationError) as error:
        console.print(f"[red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
