"""``pixelpilot eval``: a model's held-out success on many tasks, in a folder a person can open.

The folder holds ``results.jsonl`` (one line per episode, appended as episodes finish, so a killed
evaluation resumes without playing any episode twice), every episode's trajectory and HTML report,
``summary.json``, ``index.html`` (the per-task table, each row linking to its episodes' reports)
and ``success.png`` (success per task with its 95% interval). Episodes are played by
``evaluation.evaluate``, the path the trainers' ``eval`` section takes too.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pixelpilot.agent import Agent
from pixelpilot.model import load_model
from pixelpilot.model.base import SamplingParams
from pixelpilot.rl.evaluation import EpisodeResult, TaskSummary, evaluate, summarize, task_name
from pixelpilot.rl.pages import page
from pixelpilot.rl.rollout import EnvPool, Query

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
INDEX_FILE = "index.html"
PLOT_FILE = "success.png"
GREEDY = SamplingParams(temperature=0.0, top_p=1.0, top_k=0, max_new_tokens=256)
"""Evaluation decodes greedily by default: the agent's best guess, the same at every run."""


def suite_env_ids(suite: str) -> list[str]:
    """Every registered environment id of a suite (``miniwob``, ``desktop``, ``android``, ...)."""
    from pixelpilot.envs.core.registry import registered_envs

    ids = [entry[0] for entry in registered_envs() if entry[1] == suite]
    if not ids:
        raise ValueError(f"no environments in suite {suite!r}")
    return ids


def read_results(out: str | Path) -> list[EpisodeResult]:
    """The episodes already evaluated in ``out`` (a line cut off by a kill is ignored)."""
    path = Path(out) / RESULTS_FILE
    if not path.exists():
        return []
    results = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            results.append(EpisodeResult.model_validate_json(line))
        except ValueError:
            continue
    return results


def run_eval(
    env_ids: list[str],
    model: str,
    seeds: range,
    out: str | Path,
    *,
    workers: int = 1,
    max_steps: int = 15,
    sampling: SamplingParams = GREEDY,
    sampling_seed: int = 0,
    console: Console | None = None,
) -> list[TaskSummary]:
    """Play every (task, seed) not yet in ``out/results.jsonl``, then write the summary, index and plot.

    ``workers`` episodes are in flight at once, each in its own environment; results do not
    depend on it (see ``evaluation``). Returns the per-task summaries and the overall one, last.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    console = console or Console()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    done = {result.key for result in read_results(folder)}
    plan = [
        [Query(env_id=env_id, seed=seed) for seed in seeds if (_short(env_id), seed) not in done] for env_id in env_ids
    ]
    todo = sum(len(queries) for queries in plan)
    if todo:
        chat_model = load_model(model)
        agent = Agent(chat_model, max_steps=max_steps, sampling=sampling)
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
        )
        hits = {"success": 0, "played": 0}
        with progress, _append_results(folder) as results_file:
            bar = progress.add_task(f"eval {model}", total=todo, status="")

            def record(result: EpisodeResult) -> None:
                results_file.write(result.model_dump_json() + "\n")
                results_file.flush()
                hits["success"] += result.success
                hits["played"] += 1
                status = f"{result.task}  success {hits['success']}/{hits['played']}"
                progress.update(bar, advance=1, status=status)

            try:
                # One task's environments at a time: a sweep of 100 tasks starts no 100 browsers.
                for queries in filter(None, plan):
                    with EnvPool() as envs:
                        evaluate(
                            agent,
                            queries,
                            envs,
                            sampling=sampling,
                            sampling_seed=sampling_seed,
                            batch_size=workers,
                            out_dir=folder,
                            on_episode=record,
                        )
            finally:
                chat_model.close()
    wanted = {(_short(env_id), seed) for env_id in env_ids for seed in seeds}
    results = [result for result in read_results(folder) if result.key in wanted]
    summaries = summarize(results)
    (folder / SUMMARY_FILE).write_text(
        json.dumps({"model": model, "summaries": [s.model_dump() for s in summaries]}, indent=1), encoding="utf-8"
    )
    write_index(folder, model, summaries, results)
    if summaries:
        plot_success(folder / PLOT_FILE, summaries, title=f"{model}: held-out success")
    console.print(summary_table(summaries, title=f"{model} on seeds {seeds.start}-{seeds.stop - 1}"))
    return summaries


def _append_results(folder: Path) -> TextIO:
    """``results.jsonl`` opened for appending, without the cut-off last line a kill may have left."""
    path = folder / RESULTS_FILE
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
    return path.open("a", encoding="utf-8")


def _short(env_id: str) -> str:
    return task_name(Query(env_id=env_id))


def summary_table(summaries: list[TaskSummary], title: str = "") -> Table:
    table = Table(title=title)
    for column in ("task", "episodes", "success", "95% interval", "mean steps", "mean s"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for s in summaries:
        style = "bold" if s.task == "overall" else None
        table.add_row(
            s.task,
            str(s.episodes),
            f"{s.success_rate:.0%}",
            f"{s.ci_low:.0%}-{s.ci_high:.0%}",
            f"{s.mean_steps:.1f}",
            f"{s.mean_seconds:.2f}",
            style=style,
        )
    return table


def write_index(folder: Path, model: str, summaries: list[TaskSummary], results: list[EpisodeResult]) -> Path:
    """``index.html``: the summary table; each task row opens onto links to its episodes' reports."""
    by_task: dict[str, list[EpisodeResult]] = {}
    for result in results:
        by_task.setdefault(result.task, []).append(result)
    rows = []
    for s in summaries:
        links = "".join(
            f'<a class="{"ok" if r.success else "fail"}" href="{escape(r.trajectory)}/report.html">{r.seed}</a> '
            for r in sorted(by_task.get(s.task, []), key=lambda r: r.seed)
            if r.trajectory
        )
        episodes = f"<details><summary>episodes</summary>{links}</details>" if links else ""
        rows.append(
            f"<tr><td>{escape(s.task)}</td><td>{s.episodes}</td><td>{s.success_rate:.1%}</td>"
            f"<td>{s.ci_low:.1%} – {s.ci_high:.1%}</td><td>{s.mean_steps:.2f}</td><td>{s.mean_seconds:.2f}</td>"
            f"<td>{episodes}</td></tr>"
        )
    plot = f'<img src="{PLOT_FILE}" alt="success per task">' if summaries else ""
    table = (
        '<table id="summary" class="numbers"><tr><th>task</th><th>episodes</th><th>success</th><th>95% interval</th>'
        f"<th>mean steps</th><th>mean seconds</th><th>reports</th></tr>\n{''.join(rows)}\n</table>"
    )
    html = page(f"pixelpilot eval: {model}", table + plot)
    path = folder / INDEX_FILE
    path.write_text(html, encoding="utf-8")
    return path


def plot_success(path: Path, summaries: list[TaskSummary], title: str) -> Path:
    """A bar per task (and overall) with its Wilson 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.task for s in summaries]
    rates = [100 * s.success_rate for s in summaries]
    below = [max(0.0, 100 * (s.success_rate - s.ci_low)) for s in summaries]
    above = [max(0.0, 100 * (s.ci_high - s.success_rate)) for s in summaries]
    colors = ["#555555" if s.task == "overall" else "#2f6fb0" for s in summaries]
    figure, axis = plt.subplots(figsize=(max(5.0, 0.6 * len(names) + 2), 4))
    axis.bar(names, rates, yerr=[below, above], color=colors, capsize=3)
    axis.set_ylim(0, 105)
    axis.set_ylabel("success (%)")
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=45)
    for label in axis.get_xticklabels():
        label.set_horizontalalignment("right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
