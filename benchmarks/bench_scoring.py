"""Scoring speed, end to end, idle and under a competing load: what `make bench` prints.

Run: `make bench` (or `python benchmarks/bench_scoring.py --help`; `--quick` for a smoke run that checks every
section in about two minutes, its numbers meaningless; `--jsonl` for one JSON object per measurement on
stdout). A full run takes roughly 15 minutes on 2 cores, a third to a half of it `toxmod replay` of 100,000
rows idle and loaded. Nothing is timed inside the test suite.

Why it is built this way:
- Every scoring configuration runs in its own fresh process (bench_worker.py, one JSON line back). torch
  reads OMP_WAIT_POLICY once, when it loads OpenMP, and its thread count is process-wide; a process per
  configuration is the only way to measure "today's default" (bf16 autocast where the CPU has AVX512-BF16
  or AMX, every core, OpenMP threads spinning while idle) beside the engine toxmod now chooses, without one
  run's threads or caches leaking into the next.
- Each one is measured idle and then beside a second process spinning one core (benchkit.competing_load).
  A bot rarely owns its machine, and spinning OpenMP threads that fight another process were the slowdown
  issue 11 found; the idle figure alone hid it.
- The texts are real chat in its original order (GameTox, in-game chat), so message lengths and repeats
  (what the repeat cache feeds on) are as they come, not invented; generated chat only where it is absent.
- Beyond the scorer: `toxmod replay` through the real CLI (wall time, msg/s and the child's own peak RSS,
  at two file sizes to show memory does not grow with the file), and the bot itself under SimCord
  (bench_bot.py: a burst from many members, then a steady 500 msg/s, with the event loop's lag measured).
- The Detoxify-sized baseline is what most bots do: BERT-base in fp32, one message per call.
It ends with a Markdown table for the README's Speed section.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit import ROOT, Output, competing_load, package_version, run_json, wait_with_usage

# the environment as launched: the bot package, imported below, sets OMP_WAIT_POLICY in its own process
LAUNCH_ENV = dict(os.environ)
sys.path.insert(0, str(ROOT))

from bot.scoring.registry import resolve_model_dir  # noqa: E402
from bot.scoring.tuning import cores, cpu_name, thread_options  # noqa: E402
from bot.settings import ENGINE_NAMES, Settings  # noqa: E402

HERE = Path(__file__).resolve().parent
LABEL = 52  # width of a configuration's name in the text table
WORKER, BOT = HERE / "bench_worker.py", HERE / "bench_bot.py"

# sizes of a full run, and of --quick (a smoke run: its numbers mean nothing)
FULL = {"messages": 2000, "baseline_messages": 150, "single": 300, "cache_messages": 20_000,
        "replay_rows": 100_000, "bot_members": 50, "bot_messages": 2000, "paced_messages": 2000}
QUICK = {"messages": 100, "baseline_messages": 10, "single": 20, "cache_messages": 1000,
         "replay_rows": 500, "bot_members": 50, "bot_messages": 100, "paced_messages": 100}

WORDS = ("gg", "anyone", "up", "for", "a", "raid", "tonight", "lol", "that", "was", "wild", "my", "mic", "keeps",
         "cutting", "out", "did", "you", "see", "the", "patch", "notes", "they", "nerfed", "sniper", "again",
         "thanks", "carry", "brb", "dinner", "what", "time", "event", "ends", "server", "lag", "is", "bad",
         "today", "nice", "shot", "team", "push", "mid", "need", "heals", "idiot", "trash", "play")


def chat_messages(n: int, seed: int = 0) -> list[str]:
    """Chat-length messages (2 to 24 words, most under 12), as seen in busy Discord channels."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(min(24, max(2, int(rng.expovariate(1 / 8))))))
            for _ in range(n)]


def chat_stream(n: int) -> tuple[list[str], str]:
    """n consecutive non-empty GameTox messages in their original order (generated chat if it is absent)."""
    path = Settings().data_dir / "gametox" / "gametox.csv"
    if not path.is_file():
        return chat_messages(n), f"generated chat ({path} not found)"
    with path.open(newline="", encoding="utf-8") as f:
        texts = [row["message"] for row in csv.DictReader(f) if (row["message"] or "").strip()]
    return texts[:n], f"GameTox in-game chat, {min(n, len(texts)):,} consecutive messages in their original order"


def cpu_has_fast_bf16() -> bool:
    """The rule toxmod used before it measured engines: bf16 autocast where the CPU has AMX or AVX512-BF16."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


@dataclass(frozen=True)
class Config:
    """One way to run the scorer: engine and threads (None: toxmod's own choice), and OpenMP's wait policy."""

    label: str
    engine: str | None = None
    threads: int | None = None
    omp_active: bool = False

    @property
    def env(self) -> dict[str, str]:
        return {**LAUNCH_ENV, "OMP_WAIT_POLICY": "ACTIVE"} if self.omp_active else LAUNCH_ENV


def describe(engine: str, threads: int) -> str:
    return f"{engine}, {threads} thread{'' if threads == 1 else 's'}"


def configurations(wanted: str) -> tuple[Config, list[Config], Config]:
    """The default path; the alternatives (every engine with one thread and with every core, or those
    `wanted` names as ENGINE/THREADS,...); and today's default, the rule before engines were measured."""
    every = [(engine, threads) for engine in ENGINE_NAMES for threads in thread_options(None)]
    if wanted != "all":
        every = [(name, int(threads)) for name, threads in (item.split("/") for item in wanted.split(","))]
    engine = "torch-bf16" if cpu_has_fast_bf16() else "torch-fp32"
    today = Config(f"today's default: {describe(engine, cores())}, OMP active", engine, cores(), omp_active=True)
    return Config("default"), [Config(describe(e, t), e, t) for e, t in every], today


def rate(value: float) -> str:
    return f"{value:,.0f}"


def ms(value: float) -> str:
    return f"{value / 1000:,.1f} s" if value >= 1000 else f"{value:,.1f} ms"


def share(load_core_share: float | None) -> str:
    """How much of a core the competing process got: well under 100% means the machine was busier still."""
    return "" if load_core_share is None else f"{load_core_share:.0%}"


def config_line(row: dict[str, Any]) -> str:
    if not row["ok"]:
        return f"  {row['label']:<{LABEL}} unavailable: {row['error']}"
    idle, loaded = row["idle"], row["loaded"]
    return (f"  {row['label']:<{LABEL}} {rate(idle['msg_s']):>10} {ms(idle['p50']):>10} {ms(idle['p99']):>10}   "
            f"{rate(loaded['msg_s']):>12} {ms(loaded['p50']):>10} {ms(loaded['p99']):>10} "
            f"{share(loaded['load_core_share']):>6}")


def speedup(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b:
        return "n/a"
    times = a["msg_s"] / b["msg_s"]
    return f"{times:.0f}x" if times >= 10 else f"{times:.1f}x"


def scoring_section(out: Output, args: argparse.Namespace, common: dict[str, Any],
                    model_dir: Path) -> list[dict[str, Any]]:
    """1: every configuration, idle and loaded, each tagged with its role ("default", "alternative", "today",
    "baseline"); the default's worker also measures 2 (the cached stream) and 3 (low load)."""
    default, alternatives, today = configurations(args.engines)
    out.say(f"\n1. Scorer configurations: a burst of {args.messages:,} messages queued at once through ScoringWorker "
            f"(batch ≤ {Settings().score_batch_max}, cache off), each configuration in its own process")
    out.say(f"  {'configuration':<{LABEL}} {'idle msg/s':>10} {'p50':>10} {'p99':>10}   "
            f"{'loaded msg/s':>12} {'p50':>10} {'p99':>10} {'spin':>6}")
    rows: list[dict[str, Any]] = []

    def add(kind: str, label: str, result: dict[str, Any]) -> None:
        rows.append(out.record("scorer", label, {"role": kind, "label": label, **result}))
        out.say(config_line(rows[-1]))

    for kind, config in [("default", default), *(("alternative", c) for c in alternatives), ("today", today)]:
        extra = ({"single": args.single, "cache_messages": args.cache_messages} if kind == "default"
                 else {"single": 0, "cache_messages": 0})
        result = run_json(WORKER, {"mode": "toxmod", **common, "engine": config.engine, "threads": config.threads,
                                   **extra}, config.env)
        if kind != "default":
            add(kind, config.label, result)
        elif result["ok"]:
            add(kind, f"default → {describe(result['engine'], result['threads'])}", result)
            out.say(f"  (the default path's choice: {result['choice']})")
        else:
            add(kind, "default", result)
    add("baseline", "BERT-base fp32, one call a message (Detoxify-sized)",
        run_json(WORKER, {"mode": "baseline", "texts": common["texts"], "model_dir": str(model_dir),
                          "messages": args.baseline_messages}, LAUNCH_ENV))
    return rows


def role(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The row of that role, or {} when it could not run."""
    row = next(r for r in rows if r["role"] == name)
    return row if row["ok"] else {}


def ratios(rows: list[dict[str, Any]]) -> dict[str, str]:
    default, today, baseline = role(rows, "default"), role(rows, "today"), role(rows, "baseline")
    cache = default.get("cache", {})
    return {"idle": speedup(default.get("idle"), today.get("idle")),
            "loaded": speedup(default.get("loaded"), today.get("loaded")),
            "cached": speedup(cache.get("on"), baseline.get("idle"))}


def scoring_summary(out: Output, rows: list[dict[str, Any]]) -> None:
    """The ratios, then 2 (the repeat cache) and 3 (one message at a time), from the default's worker."""
    default, versus = role(rows, "default"), ratios(rows)
    out.say(f"  default vs today's default: idle {versus['idle']}, loaded {versus['loaded']}")
    cache = default.get("cache")
    if not cache:
        out.say("\n2. Repeat cache: n/a (the default path could not run)")
    else:
        out.say(f"\n2. Repeat cache on the chat stream ({cache['messages']:,} messages, all queued at once, default "
                f"path): off {rate(cache['off']['msg_s'])} msg/s, on ({cache['cache_size']:,} entries) "
                f"{rate(cache['on']['msg_s'])} msg/s, hit rate {cache['hit_rate']:.0%}; "
                f"cached stream vs Detoxify-sized baseline: {versus['cached']}")
    single = default.get("single")
    out.say("\n3. One message at a time at low load (default path): "
            + (f"p50 {ms(single['p50'])}, p99 {ms(single['p99'])}" if single else "n/a"))


def write_replay_csv(path: Path, rows: int) -> None:
    """Chat-like rows (author, channel, content) as `toxmod replay` reads them: 500 authors, 20 channels."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["author", "channel", "content"])
        for i, text in enumerate(chat_messages(rows, seed=1)):
            writer.writerow([1000 + i % 500, 2000 + i % 20, text])


def replay_once(csv_path: Path, db_path: Path, *, loaded: bool) -> dict[str, Any]:
    """The real CLI in a child process: wall time, and that child's own peak RSS."""
    cmd = [sys.executable, "-m", "bot.cli", "replay", str(csv_path), "--database-url", f"sqlite:///{db_path}", "-q"]
    with competing_load(loaded) as load, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=LAUNCH_ENV, stdout=subprocess.DEVNULL, stderr=stderr)
        usage = wait_with_usage(proc)
        wall = time.perf_counter() - start
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace").strip().splitlines()
    if proc.returncode:
        return {"ok": False, "error": errors[-1] if errors else f"exit status {proc.returncode}"}
    return {"ok": True, "wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "load_core_share": load.core_share}


def replay_section(out: Output, rows: int, tmp: Path) -> list[dict[str, Any]]:
    """4: `toxmod replay` at a tenth of the rows and at all of them idle, and at all of them loaded."""
    out.say("\n4. `toxmod replay` of generated chat rows through the real CLI (its own process: start-up, model "
            "load, scoring, SQLite writes)")
    out.say(f"  {'rows':>9} {'condition':<9} {'wall':>9} {'msg/s':>7} {'peak RSS':>10} {'spin':>6}")
    runs = []
    for n, loaded in ((max(1, rows // 10), False), (rows, False), (rows, True)):
        csv_path = tmp / f"replay-{n}.csv"
        if not csv_path.exists():
            write_replay_csv(csv_path, n)
        result = replay_once(csv_path, tmp / f"replay-{n}-{loaded}.db", loaded=loaded)
        result.update(rows=n, condition="loaded" if loaded else "idle")
        if result["ok"]:
            result["msg_s"] = n / result["wall_s"]
            out.say(f"  {n:>9,} {result['condition']:<9} {result['wall_s']:>8.1f}s {rate(result['msg_s']):>7} "
                    f"{result['peak_rss_mib']:>6,.0f} MiB {share(result['load_core_share']):>6}")
        else:
            out.say(f"  {n:>9,} {result['condition']:<9} failed: {result['error']}")
        runs.append(out.record("replay", f"{n} rows {result['condition']}", result))
    small, large = runs[0], runs[1]
    if small["ok"] and large["ok"]:
        out.say(f"  peak RSS at {large['rows']:,} rows / at {small['rows']:,}: "
                f"{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}x")
        if large["wall_s"] - small["wall_s"] > 5:  # else start-up dominates both and the difference is noise
            steady = (large["rows"] - small["rows"]) / (large["wall_s"] - small["wall_s"])
            out.say(f"  past start-up (the difference of the two idle runs): {rate(steady)} msg/s")
    return runs


def bot_section(out: Output, args: argparse.Namespace, common: dict[str, Any]) -> dict[str, Any]:
    """5: the bot under SimCord: a burst, then a paced stream, with the event loop's lag."""
    spec = {"texts": common["texts"], "models_dir": common["models_dir"], "members": args.bot_members,
            "burst": args.bot_messages, "paced": args.paced_messages, "rate": args.rate}
    result = out.record("bot", "simcord", run_json(BOT, spec, LAUNCH_ENV))
    out.say(f"\n5. The bot under SimCord: {args.bot_members} members, one guild with a mod-log set")
    if not result["ok"]:
        out.say(f"  failed: {result['error']}")
        return result
    burst, paced = result["burst"], result["paced"]
    out.say(f"  burst of {burst['messages']:,}: {rate(burst['msg_s'])} msg/s from first send to last row written; "
            f"5 ms timer late by p50 {ms(burst['lag_p50'])}, p99 {ms(burst['lag_p99'])}, max {ms(burst['lag_max'])} "
            f"(SimCord + event parsing: {burst['driver_ms_per_msg']:.2f} ms a message on the loop)")
    met = "met" if paced["lag_p99"] <= 20 else "NOT met"
    out.say(f"  paced at {rate(paced['rate'])} msg/s (arrived at {rate(paced['arrival_msg_s'])}): lag p50 "
            f"{ms(paced['lag_p50'])}, p99 {ms(paced['lag_p99'])} (target ≤ 20 ms: {met}), max {ms(paced['lag_max'])}; "
            f"last row written {paced['drain_s']:.2f} s after the last message")
    return result


def scorer_table(rows: list[dict[str, Any]], messages: int) -> list[str]:
    lines = ["| scorer | idle msg/s | p50 | p99 | loaded msg/s | p50 | p99 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        name = f"**{row['label']}**" if row["role"] == "default" else row["label"]
        if not row["ok"]:
            lines.append(f"| {name} | unavailable: {row['error']} | | | | | |")
            continue
        idle, loaded = row["idle"], row["loaded"]
        lines.append(f"| {name} | {rate(idle['msg_s'])} | {ms(idle['p50'])} | {ms(idle['p99'])} | "
                     f"{rate(loaded['msg_s'])} | {ms(loaded['p50'])} | {ms(loaded['p99'])} |")
    return [*lines, "", f"Each toxmod row: {messages:,} chat messages queued at once through the scoring worker "
            "(repeat cache off), so latency is mostly time in the queue. Today's default is the rule before issue "
            "11: bf16 autocast where the CPU has AVX512-BF16 or AMX, every core, OpenMP threads spinning "
            "(OMP_WAIT_POLICY=ACTIVE)."]


def end_to_end_table(default: dict[str, Any], replay: list[dict[str, Any]], bot: dict[str, Any]) -> list[str]:
    lines = ["| end to end | messages/s | latency / event-loop lag | notes |", "|---|---:|---|---|"]
    cache = default.get("cache")
    if cache:
        lines += [f"| repeat cache off, {cache['messages']:,} chat messages in order | {rate(cache['off']['msg_s'])} "
                  "| | |",
                  f"| repeat cache on ({cache['cache_size']:,} entries) | {rate(cache['on']['msg_s'])} | | "
                  f"hit rate {cache['hit_rate']:.0%} |"]
    if default.get("single"):
        single = default["single"]
        lines.append(f"| one message at a time, low load | {rate(single['msg_s'])} | p50 {ms(single['p50'])}, "
                     f"p99 {ms(single['p99'])} | |")
    lines += [f"| `toxmod replay`, {run['rows']:,} rows, {run['condition']} | {rate(run['msg_s'])} | | "
              f"{run['wall_s']:.0f} s wall, peak RSS {run['peak_rss_mib']:,.0f} MiB |" for run in replay if run["ok"]]
    if bot["ok"]:
        burst, paced = bot["burst"], bot["paced"]
        lines += [f"| bot under SimCord, burst of {burst['messages']:,} from {bot['members']} members | "
                  f"{rate(burst['msg_s'])} | lag p50 {ms(burst['lag_p50'])}, p99 {ms(burst['lag_p99'])}, "
                  f"max {ms(burst['lag_max'])} | first send to last row written |",
                  f"| bot under SimCord, paced at {rate(paced['rate'])} msg/s | {rate(paced['arrival_msg_s'])} | "
                  f"lag p50 {ms(paced['lag_p50'])}, p99 {ms(paced['lag_p99'])} | target p99 ≤ 20 ms |"]
    return lines


def markdown(rows: list[dict[str, Any]], replay: list[dict[str, Any]], bot: dict[str, Any], header: str,
             messages: int) -> str:
    """6: the Speed section's tables and ratios, from this run."""
    versus = ratios(rows)
    return "\n".join([f"Measured by `make bench` on {header}; loaded = beside one process spinning a core.", "",
                      *scorer_table(rows, messages), "", *end_to_end_table(role(rows, "default"), replay, bot), "",
                      f"Default vs today's default: **{versus['idle']}** idle, **{versus['loaded']}** loaded. "
                      f"Cached stream vs the Detoxify-sized baseline: **{versus['cached']}**."])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one alternative: checks every section runs")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per measurement on stdout")
    parser.add_argument("--engines", help="alternatives as ENGINE/THREADS,... (default: all; --quick: torch-fp32/1)")
    parser.add_argument("--messages", type=int, help=f"burst per configuration (default {FULL['messages']})")
    parser.add_argument("--baseline-messages", type=int, help=f"default {FULL['baseline_messages']}")
    parser.add_argument("--single", type=int, help=f"low-load messages (default {FULL['single']})")
    parser.add_argument("--cache-messages", type=int, help=f"chat stream (default {FULL['cache_messages']:,})")
    parser.add_argument("--replay-rows", type=int, help=f"rows for replay (default {FULL['replay_rows']:,}; "
                                                        "also run at a tenth of it)")
    parser.add_argument("--bot-members", type=int, help=f"default {FULL['bot_members']}")
    parser.add_argument("--bot-messages", type=int, help=f"burst into the bot (default {FULL['bot_messages']:,})")
    parser.add_argument("--paced-messages", type=int, help=f"default {FULL['paced_messages']:,}")
    parser.add_argument("--rate", type=float, default=500.0, help="paced arrival rate, msg/s (default 500)")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.engines = args.engines or ("torch-fp32/1" if args.quick else "all")
    return args


def main() -> int:
    args = parse_args()
    out = Output(args.jsonl)
    started = time.perf_counter()
    models_dir = Settings().models_dir
    model_dir = resolve_model_dir(models_dir)
    texts, source = chat_stream(max(args.messages, args.single, args.cache_messages,
                                    args.bot_messages + args.paced_messages))
    header = (f"{cpu_name()}, {cores()} cores (AVX512-BF16 or AMX: {'yes' if cpu_has_fast_bf16() else 'no'}), "
              f"torch {package_version('torch')}, onnxruntime {package_version('onnxruntime')}, "
              f"model {model_dir.name}")
    out.say(header)
    out.say(f"texts: {source}; the first {args.messages:,} average "
            f"{statistics.mean(len(t.split()) for t in texts[: args.messages]):.1f} words")
    out.say("loaded: beside a second process spinning one core, started before and stopped after each timed run; "
            "'spin' is the share of a core that process got")
    out.record("machine", "header", {"cpu": cpu_name(), "cores": cores(), "torch": package_version("torch"),
                                     "onnxruntime": package_version("onnxruntime"), "model": model_dir.name,
                                     "texts": source})
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "texts.json").write_text(json.dumps(texts))
        common = {"texts": str(tmp / "texts.json"), "models_dir": str(models_dir), "messages": args.messages}
        scorer = scoring_section(out, args, common, model_dir)
        scoring_summary(out, scorer)
        replay = replay_section(out, args.replay_rows, tmp)
        bot = bot_section(out, args, common)
    out.say("\n6. For the README's Speed section:\n")
    out.say(markdown(scorer, replay, bot, header, args.messages))
    out.say(f"\n(this run took {(time.perf_counter() - started) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
