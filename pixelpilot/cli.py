"""The ``pixelpilot`` command: run an agent, list environments, view reports, build the tiny checkpoint, train."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()


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
    from pixelpilot.model.tiny import build_tiny_checkpoint

    with console.status(f"building the tiny Qwen3-VL{' MoE' if args.moe else ''} checkpoint"):
        path = build_tiny_checkpoint(args.dir, moe=args.moe, seed=args.seed)
    console.print(f"tiny checkpoint written to [bold]{path}[/] (load it with --model hf:{path})")
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


def _cmd_sft(args: argparse.Namespace) -> int:
    from pixelpilot.rl.sft import run_sft

    console.print(f"last checkpoint: [bold]{run_sft(args.config)}[/]")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from pixelpilot.rl.trainer import run_train

    console.print(f"last checkpoint: [bold]{run_train(args.config)}[/]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelpilot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent on an environment and save the trajectory and its report")
    run.add_argument("--env", required=True, help="environment id, e.g. pixelpilot/miniwob-click-button-v0")
    run.add_argument("--model", required=True, help="hf:DIR, openai:http://HOST:PORT/v1#NAME or vllm:NAME")
    run.add_argument("--max-steps", type=int, default=15)
    run.add_argument("--episodes", type=int, default=1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", default="runs/latest", help="directory for the trajectory and report.html")
    run.set_defaults(func=_cmd_run)

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
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(func=_cmd_tiny_checkpoint)

    sft = sub.add_parser("sft", help="cold-start SFT from a YAML config (resumes from its last checkpoint)")
    sft.add_argument("config")
    sft.set_defaults(func=_cmd_sft)

    train = sub.add_parser("train", help="RL (SAPO/GRPO) from a YAML config (resumes; torchrun for several processes)")
    train.add_argument("config")
    train.set_defaults(func=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pixelpilot.errors import PixelpilotError

    try:
        return args.func(args)
    except PixelpilotError as error:
        console.print(f"[red]error:[/] {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
