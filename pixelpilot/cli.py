"""The ``pixelpilot`` command: run and evaluate agents, list environments, view reports, build, train, export."""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import webbrowser
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pixelpilot.agent.prompt import HISTORY_LAYOUTS
from pixelpilot.tools.base import PROMPT_STYLES

console = Console()
CHECK_HELP = "only check the config and every environment, file and path it names (seconds), then exit"
CHANGE_HELP = "resume even though the config changed since the run started, applying the new values"
OVERRIDE_HELP = "config values to override, read as YAML: steps=10 optim.lr=1e-4 demos.0.oracle.num_seeds=2"


def _cmd_envs(args: argparse.Namespace) -> int:
    from pixelpilot.envs.core.registry import registered_envs

    table = Table(title="pixelpilot environments")
    table.add_column("environment id", no_wrap=True)
    table.add_column("suite")
    table.add_column("oracle")
    count = 0
    for env_id, suite, has_oracle, unsolved in registered_envs():
        if args.suite and suite != args.suite:
            continue
        table.add_row(env_id, suite, "yes" if has_oracle else f"no: {unsolved}" if unsolved else "")
        count += 1
    console.print(table)
    console.print(f"{count} environment(s)")
    return 0


def _cmd_tiny_checkpoint(args: argparse.Namespace) -> int:
    from pixelpilot.agent.prompt import gui_system_texts
    from pixelpilot.model.tiny import SIZES, build_tiny_checkpoint

    # nano is trained, on its prompt style: its tokenizer learns the system prompts it will read on every turn.
    style = SIZES[args.size].prompt_style
    corpus = gui_system_texts(style) if style else ()
    with console.status(f"building the {args.size} Qwen3-VL{' MoE' if args.moe else ''} checkpoint"):
        path = build_tiny_checkpoint(args.dir, moe=args.moe, seed=args.seed, size=args.size, corpus=corpus)
    console.print(f"{args.size} checkpoint written to [bold]{path}[/] (load it with --model hf:{path})")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pixelpilot.agent import Agent
    from pixelpilot.agent.live import LiveView, ReportWriter
    from pixelpilot.model import load_model

    env = _run_env(args)  # cheap (nothing starts before reset), and its errors come before the model loads
    try:
        with console.status(f"loading {args.model}"):
            model = load_model(args.model)
    except BaseException:
        env.close()
        raise
    agent = Agent(
        model,
        max_steps=args.max_steps,
        approve=_approver(args),
        prompt_style=args.prompt_style,
        history_layout=args.history_layout,
    )
    out = Path(args.out)
    title = args.env or args.url or "desktop"
    successes = 0
    try:
        for episode in range(args.episodes):
            seed = args.seed + episode
            console.rule(f"{title}  seed {seed}")
            directory = out if args.episodes == 1 else out / f"episode-{episode:03d}"
            report = directory / "report.html"
            watchers = [ReportWriter(report, open_browser=True)] if args.watch else []
            if args.watch:
                console.print(f"watching: {report.resolve().as_uri()}", soft_wrap=True)
            with LiveView(console, spinner=not args.confirm) as view:
                trajectory = agent.run(env, seed=seed, callbacks=[view, *watchers])
            trajectory.save(directory)
            trajectory.to_html(report)
            successes += int(trajectory.success)
            console.print(
                f"reward {trajectory.reward:g}  success {trajectory.success}  steps {len(trajectory.steps)}  "
                f"ended: {trajectory.end_reason}  report: {report}",
                soft_wrap=True,
            )
            if trajectory.answer is not None:
                console.print(f"answer: [bold]{escape(trajectory.answer)}[/]", soft_wrap=True)
    finally:
        env.close()
        model.close()
    console.print(f"[bold]{successes}/{args.episodes}[/] episode(s) succeeded")
    return 0


def _approver(args: argparse.Namespace) -> Any:
    """The approval hook the flags ask for (None: every action goes through)."""
    from pixelpilot.agent import approval

    chosen = []
    if args.deny_passwords:
        chosen.append(approval.deny_password_typing)
    if args.deny_text:
        chosen.append(approval.deny_click_text(args.deny_text))
    if args.confirm:
        chosen.append(approval.ask_on_terminal(ask=console.input, show=lambda text: console.print(text, markup=False)))
    return approval.all_of(*chosen) if chosen else None


def _run_env(args: argparse.Namespace) -> Any:
    """A registered environment (``--env``), or an instruction on any page (``--url``) or desktop (``--desktop``)."""
    import gymnasium as gym

    import pixelpilot  # noqa: F401  (registers the environment ids)
    from pixelpilot.errors import ConfigError

    browser_flags = [flag for flag, dest in BROWSER_FLAGS.items() if getattr(args, dest)]
    if browser_flags and not args.url:
        raise ConfigError(f"{', '.join(browser_flags)}: browser options, for --url runs only")
    if args.env:
        return gym.make(args.env)
    if not args.task:
        raise ConfigError(f"{'--url' if args.url else '--desktop'} needs --task: the instruction the agent is given")
    if args.desktop:
        from pixelpilot.envs.desktop.env import DesktopEnv
        from pixelpilot.envs.desktop.tasks import InstructionTask

        task = InstructionTask(instruction=args.task, argv=tuple(shlex.split(args.app or "")))
        return DesktopEnv(task, screen_size=tuple(args.viewport or (1280, 800)))
    from pixelpilot.envs import URLTask, WebEnv

    task = URLTask(url=args.url, instruction=args.task)
    return WebEnv(
        task,
        allowed_origins=(*task.origins(), *(args.allow or ())),  # --allow adds to the page's own origin
        viewport=tuple(args.viewport) if args.viewport else None,
        device=args.device,
        headless=not (args.headed or args.show),
        show=args.show,
        user_data_dir=args.profile,
        storage_state=args.storage_state,
        save_storage_state=args.save_storage_state,
        cdp_url=args.cdp,
        cdp_default_context=args.cdp_default_context,
        downloads_path=args.downloads,
    )


def _cmd_view(args: argparse.Namespace) -> int:
    """One page for a folder: a trajectory's report, a training run's overview or an evaluation's index."""
    from pixelpilot.agent import Trajectory
    from pixelpilot.rl.eval_run import INDEX_FILE, RESULTS_FILE
    from pixelpilot.rl.run_view import is_run_folder, write_run_index

    directory = Path(args.dir)
    if (directory / "trajectory.json").exists():
        page = Trajectory.load(directory).to_html(directory / "report.html")
    elif is_run_folder(directory):
        page = write_run_index(directory)
    elif (directory / RESULTS_FILE).exists() and (directory / INDEX_FILE).exists():
        page = directory / INDEX_FILE
    else:
        console.print(f"[red]error:[/] {directory} holds no trajectory, training run or evaluation", soft_wrap=True)
        return 2
    console.print(f"[bold]{page}[/]", soft_wrap=True)
    if args.open:
        webbrowser.open(page.resolve().as_uri())
    return 0


def _check(args: argparse.Namespace, kind: str) -> int:
    """``--check``: validate the config and everything it names, without loading the model."""
    from pixelpilot.rl.config import load_config
    from pixelpilot.rl.config_reference import KINDS

    config = load_config(args.config, KINDS[kind], args.overrides)
    config.check()
    console.print(f"{args.config}: the config is valid and every environment, file and path it names exists")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from pixelpilot.rl.config_reference import markdown

    print(markdown(args.kind), end="")
    return 0


TRAINERS = {
    "sft": "pixelpilot.rl.sft:run_sft",
    "read": "pixelpilot.rl.reading:run_reading",
    "train": "pixelpilot.rl.trainer:run_train",
}
"""Each trainer command's run function, imported when the command runs (torch loads only then)."""


def _cmd_trainer(args: argparse.Namespace) -> int:
    """``pixelpilot sft|read|train CONFIG``: check the config, or run it (resuming from its last checkpoint)."""
    if args.check:
        return _check(args, args.command)
    module, function = TRAINERS[args.command].split(":")
    run = getattr(importlib.import_module(module), function)
    last = run(args.config, args.overrides, allow_config_change=args.allow_config_change)
    console.print(f"last checkpoint: [bold]{last}[/] (load it with --model hf:{last})", soft_wrap=True)
    return 0


def _seeds(text: str) -> dict[str, int]:
    """``--seeds START:STOP`` (STOP excluded) or one seed, as the config's ``seed_start`` and ``num_seeds``."""
    start, sep, stop = text.partition(":")
    try:
        seeds = range(int(start), int(stop)) if sep else range(int(start), int(start) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are START:STOP (e.g. 10000:10100), not {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"the seed range {text!r} is empty")
    return {"seed_start": seeds.start, "num_seeds": len(seeds)}


def _cmd_eval(args: argparse.Namespace) -> int:
    import pixelpilot  # noqa: F401  (registers the environment ids)
    from pixelpilot.model.base import SamplingParams
    from pixelpilot.rl.config import EvalRunConfig, load_config
    from pixelpilot.rl.eval_run import GREEDY, run_eval, suite_env_ids

    files = [item for item in args.overrides if "=" not in item]
    if len(files) > 1:
        console.print(f"[red]error:[/] one config file at most, got {', '.join(files)}")
        return 2
    flags = {
        "envs": args.env,
        "suites": args.suite,
        "model": args.model,
        **(args.seeds or {}),
        "workers": args.workers,
        "max_steps": args.max_steps,
        "temperature": args.temperature,
        "out": args.out,
    }
    overrides = [item for item in args.overrides if "=" in item]
    given = {key: value for key, value in flags.items() if value is not None}
    config = load_config(files[0] if files else None, EvalRunConfig, overrides, given)
    env_ids = list(config.envs)
    for suite in config.suites:
        env_ids += suite_env_ids(suite)
    temperature = config.temperature
    sampling = GREEDY if temperature == 0 else SamplingParams(temperature=temperature, max_new_tokens=256)
    summaries = run_eval(
        env_ids,
        config.model,
        config.seeds,
        config.out,
        workers=config.workers,
        max_steps=config.max_steps,
        sampling=sampling,
        console=console,
    )
    overall = summaries[-1] if summaries else None
    if overall is not None:
        console.print(
            f"overall success [bold]{overall.success_rate:.1%}[/] ({overall.successes}/{overall.episodes}); "
            f"index: {Path(config.out) / 'index.html'}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pixelpilot.model.export import export_checkpoint

    path = export_checkpoint(args.src, args.dst, dtype=args.dtype, greedy=args.greedy)
    console.print(f"written to [bold]{path}[/] (load it with --model hf:{path})", soft_wrap=True)
    return 0


BROWSER_FLAGS = {
    "--device": "device",
    "--headed": "headed",
    "--show": "show",
    "--profile": "profile",
    "--storage-state": "storage_state",
    "--save-storage-state": "save_storage_state",
    "--cdp": "cdp",
    "--cdp-default-context": "cdp_default_context",
    "--downloads": "downloads",
}
"""The options of ``pixelpilot run --url``'s browser, by flag and argparse destination."""


def _add_browser_flags(run: argparse.ArgumentParser) -> None:
    from pixelpilot.envs.web.devices import DEVICES

    run.add_argument(
        "--device", choices=tuple(DEVICES), help="with --url: screen preset (desktop 1280x800, laptop 1440x900, phone)"
    )
    run.add_argument(
        "--headed", action="store_true", help="with --url: a headed browser, on a private Xvfb unless --show"
    )
    run.add_argument("--show", action="store_true", help="with --url: show the browser window on your display")
    run.add_argument(
        "--profile", metavar="DIR", help="with --url: a persistent browser profile; logins and cookies survive runs"
    )
    run.add_argument(
        "--storage-state", metavar="FILE", help="with --url: start from cookies and storage saved by Playwright"
    )
    run.add_argument(
        "--save-storage-state", metavar="FILE", help="with --url: save cookies and storage there when the run ends"
    )
    run.add_argument(
        "--cdp",
        metavar="URL",
        help="with --url: attach to a running Chrome started with --remote-debugging-port (it stays open), "
        "e.g. http://127.0.0.1:9222",
    )
    run.add_argument(
        "--cdp-default-context", action="store_true", help="with --cdp: use that browser's own session, not a new one"
    )
    run.add_argument("--downloads", metavar="DIR", help="with --url: save downloaded files there")


def _trainer_parser(sub: Any, name: str, help: str) -> None:
    parser = sub.add_parser(name, help=help)
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDE_HELP)
    parser.add_argument("--allow-config-change", action="store_true", help=CHANGE_HELP)
    parser.add_argument("--check", action="store_true", help=CHECK_HELP)
    parser.set_defaults(func=_cmd_trainer)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelpilot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent on an environment or a page and save the trajectory and report")
    target = run.add_mutually_exclusive_group(required=True)
    target.add_argument("--env", help="environment id, e.g. pixelpilot/miniwob-click-button-v0")
    target.add_argument("--url", help="any page (http://, https://, file://): an open-ended task there, with --task")
    target.add_argument("--desktop", action="store_true", help="a fresh desktop on its own Xvfb, with --task")
    run.add_argument("--task", help="with --url/--desktop: the instruction; the run ends on terminate or answer")
    run.add_argument("--app", help="with --desktop: a program to start first, e.g. mousepad or 'xterm -fs 14'")
    run.add_argument(
        "--allow",
        action="append",
        help="with --url: another origin the page may load from, or its subdomains as https://*.example.com "
        "(default: the page's own origin only)",
    )
    run.add_argument(
        "--viewport", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"), help="page or screen size (default 1280 800)"
    )
    _add_browser_flags(run)
    run.add_argument("--model", required=True, help="nano, random, hf:DIR, openai:URL#NAME or vllm:NAME")
    run.add_argument(
        "--prompt-style",
        choices=PROMPT_STYLES,
        help="qwen: Qwen's own prompt, word for word; pixelpilot: nano's (default: the checkpoint's, else qwen)",
    )
    run.add_argument(
        "--history-layout",
        choices=HISTORY_LAYOUTS,
        default="chat",
        help="chat: every turn with its screenshots; cookbook: Qwen's one user turn with the task progress",
    )
    run.add_argument("--confirm", action="store_true", help="ask on the terminal before every action (y/n/q)")
    run.add_argument(
        "--deny-text", action="append", metavar="PATTERN", help="refuse clicks on elements whose text matches (web)"
    )
    run.add_argument("--deny-passwords", action="store_true", help="refuse typing into password fields (web)")
    run.add_argument("--max-steps", type=int, default=15)
    run.add_argument("--episodes", type=int, default=1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", default="runs/latest", help="directory for the trajectory and report.html")
    run.add_argument(
        "--watch", action="store_true", help="open report.html in a browser now; it shows each step as it happens"
    )
    run.set_defaults(func=_cmd_run)

    ev = sub.add_parser("eval", help="held-out success of a model on tasks x seeds: results.jsonl, index.html, a plot")
    ev.add_argument("overrides", nargs="*", metavar="[CONFIG] KEY=VALUE", help=f"a YAML file of keys; {OVERRIDE_HELP}")
    ev.add_argument("--env", action="append", help="an environment id (repeatable)")
    ev.add_argument("--suite", action="append", help="every environment of a suite: miniwob, desktop, android")
    ev.add_argument("--model", help="nano, random, hf:DIR, run:DIR, openai:URL#NAME or vllm:NAME")
    ev.add_argument("--seeds", type=_seeds, help="START:STOP, STOP excluded (default 10000:10100)")
    ev.add_argument("--workers", type=int, help="episodes in flight at once, each in its own environment (default 4)")
    ev.add_argument("--max-steps", type=int, help="default 15")
    ev.add_argument("--temperature", type=float, help="0 decodes greedily (default)")
    ev.add_argument("--out", help="directory for results.jsonl, the episodes and index.html")
    ev.set_defaults(func=_cmd_eval)

    export = sub.add_parser("export", help="write a trained checkpoint's model and processor for shipping")
    export.add_argument("src", help="a checkpoint's model directory (e.g. runs/x/checkpoints/step-000100/model)")
    export.add_argument("dst")
    export.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    export.add_argument("--greedy", action="store_true", help="make greedy decoding the checkpoint's default")
    export.set_defaults(func=_cmd_export)

    merge = sub.add_parser("merge", help="merge a LoRA checkpoint into its base: a plain Qwen3-VL checkpoint")
    merge.add_argument("src", help="a LoRA run's checkpoint (e.g. runs/x/checkpoints/step-000100) or run folder")
    merge.add_argument("dst")
    merge.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    merge.set_defaults(func=_cmd_export, greedy=False)

    envs = sub.add_parser("envs", help="list the registered environments and their suites")
    envs.add_argument("--suite", help="only this suite (e.g. miniwob)")
    envs.set_defaults(func=_cmd_envs)

    view = sub.add_parser(
        "view", help="the HTML page of a saved trajectory, a training run (curves, eval, rollouts) or an evaluation"
    )
    view.add_argument("dir", help="a trajectory folder, a run's output_dir or a pixelpilot eval --out folder")
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

    _trainer_parser(sub, "sft", "cold-start SFT from a YAML config (resumes from its last checkpoint)")
    _trainer_parser(sub, "read", "teach a model's vision tower to read the words on its pages (resumes)")
    _trainer_parser(sub, "train", "RL (SAPO/GRPO) from a YAML config (resumes; torchrun for several processes)")

    config = sub.add_parser("config", help="show every key of a trainer's config: type, default, meaning")
    config.add_argument("action", choices=("show",))
    config.add_argument("kind", choices=("sft", "read", "train", "eval"))
    config.set_defaults(func=_cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # KEY=VALUE overrides may also follow the flags (argparse stops filling a positional list at the first one).
    if extra and (not hasattr(args, "overrides") or any("=" not in item or item.startswith("-") for item in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    from pydantic import ValidationError

    from pixelpilot.errors import PixelpilotError

    try:
        return args.func(args)
    except (PixelpilotError, ValidationError) as error:
        console.print(f"[red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
