"""``kdtrack tour``: the whole walkthrough headless -- every method, one table, a report folder.

The measuring is :mod:`kdtrack_lite.capstone`; this module reports it: the markdown table, the
findings stated from its numbers, the speed-accuracy Pareto front, the figure and the report folder.

Runs :func:`kdtrack_lite.capstone.run_capstone` (the shipped teachers and students, every
distillation of notebooks 01-07 at one budget, evaluation on held-out data) with progress, and
writes, atomically, into ``--out``:

* ``report.md``: machine, command, profile, time per section, the table, the findings, the figure;
* ``table.md``: the table alone (what README.md's results section shows, see ``--update-readme``);
* ``results.json``: every number, the config and the times;
* ``speed_accuracy.png``: accuracy against FPS per benchmark.

OUR DESIGN CHOICE: README.md carries the table between the markers :data:`README_BEGIN` and
:data:`README_END`; ``--update-readme`` rewrites exactly that block, and a test checks that it
equals the committed ``benchmarks/tour/table.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from .capstone import COLUMNS, MOT_ROWS, SOT_ROWS
from .cli import add_command, nonneg_int, positive_int
from .fileio import atomic_path, write_text_atomic
from .runtime import machine_summary

README_BEGIN = "<!-- tour-table:begin -->"
README_END = "<!-- tour-table:end -->"


def _gain(table: pd.DataFrame, row: str, base: str, metric: str) -> float:
    return float(table.loc[row, metric] - table.loc[base, metric])


NOISE_POINTS = 1.5  # seed-to-seed std of a fine-tuned MOT student's HOTA (RESULTS.md, 3 seeds): OUR CHOICE
# seed-to-seed std of the SOT students' success AUC at the tour's SOT budget (18 test sequences, 100 steps x 8):
# benchmarks/sdst_results.json, 6 seeds -- the student alone 3.3, SDST-minus-KD differences 2.5-3.9: OUR CHOICE
SOT_NOISE_POINTS = 3.3


def findings(table: pd.DataFrame, noise: float = NOISE_POINTS, sot_noise: float = SOT_NOISE_POINTS) -> list[str]:
    """Plain-language statements computed from ``table`` (whichever sections it has).

    Each distillation is compared with its fair baseline -- the same student fine-tuned for the same
    steps without a teacher. One run cannot tell a small difference from seed noise, so a difference
    is called "helps" / "hurts" only when it exceeds ``noise`` points, else "within noise"
    (``noise`` defaults to the seed-to-seed std measured for the MOT student, 1.5 HOTA; the SOT rows
    use ``sot_noise``, the std measured for the SOT students at this budget, 3.3 AUC). The best
    distilled student is also compared with the shipped student it started from.
    """
    out = []

    def verdict(d: float, noise: float = noise) -> str:
        return "helps" if d > noise else "hurts" if d < -noise else f"within noise (|difference| <= {noise:g})"

    if "MOT teacher" in table.index:
        base, shipped = MOT_ROWS["none"], "MOT student (shipped)"
        gap = table.loc["MOT teacher", "HOTA"] - table.loc[base, "HOTA"]
        distilled = [r for r in list(MOT_ROWS.values())[1:] if r in table.index]  # older reports: fewer rows
        for row in distilled:
            d = _gain(table, row, base, "HOTA")
            closed = f", {d / gap:.0%} of the gap to the teacher" if gap > 0 else ""
            out.append(f"{row}: HOTA {d:+.1f} against the student fine-tuned alone at the same budget"
                       f"{closed} -> {verdict(d)}.")
        best = max(distilled, key=lambda r: table.loc[r, "HOTA"])
        out.append(f"Best distilled MOT student ({best}): HOTA {_gain(table, best, shipped, 'HOTA'):+.1f} against the "
                   f"shipped student it started from; the teacher is {_gain(table, 'MOT teacher', shipped, 'HOTA'):+.1f}.")
        fps = table.loc[shipped, "fps"] / table.loc["MOT teacher", "fps"]
        out.append(f"The MOT student tracker runs at {fps:.1f}x the teacher tracker's FPS.")
    inter = [i for i in table.index if i.startswith("interleaved: k=")]
    if inter:
        row, ref = table.loc[inter[0]], table.loc["interleaved: teacher only"]
        out.append(f"{inter[0]}: {row['fps'] / ref['fps']:.2f}x the teacher-only FPS, keeping "
                   f"{row['HOTA'] / ref['HOTA']:.0%} of its HOTA ({row['HOTA']:.1f} vs {ref['HOTA']:.1f}).")
    if "SOT teacher (general)" in table.index:
        base, shipped = SOT_ROWS["alone"], "SOT student (shipped)"
        for row in list(SOT_ROWS.values())[1:]:
            d = _gain(table, row, base, "AUC")
            out.append(f"{row}: success AUC {d:+.1f} against the student fine-tuned alone -> {verdict(d, sot_noise)}.")
        d = _gain(table, SOT_ROWS["adaptive"], SOT_ROWS["general"], "AUC")
        out.append(f"SDST (adaptive) against general KD only (what the specialised teachers add): AUC {d:+.1f} -> "
                   f"{verdict(d, sot_noise)} (one seed; the runs over many seeds are in benchmarks/RESULTS.md, SDST).")
        d = _gain(table, "SOT teacher (general)", shipped, "AUC")
        out.append(f"The general SOT teacher is {d:+.1f} AUC from the shipped student"
                   + (": a teacher no better than its student leaves KD little to transfer." if d <= 0 else "."))
    for split in ("low quality", "clean"):
        rows = [i for i in table.index if i.startswith(f"{split}: ")]
        if rows:
            none, best, dswr = rows
            d_none, d_best = _gain(table, dswr, none, "IDF1"), _gain(table, dswr, best, "IDF1")
            out.append(f"VSD-MOT on {split} video: DSWR IDF1 {d_none:+.1f} vs no semantics and {d_best:+.1f} vs the "
                       f"best fixed weight -> {verdict(min(d_none, d_best))}.")
    clip_row = [i for i in table.index if i.startswith("CLIP")]
    dswr_rows = [i for i in table.index if i.startswith("low quality: DSWR")]
    if clip_row and dswr_rows:
        out.append(f"The semantic student runs {table.loc[dswr_rows[0], 'fps'] / table.loc[clip_row[0], 'fps']:.0f}x "
                   f"faster than the CLIP image encoder it replaces.")
    return out


def pareto_front(table: pd.DataFrame, accuracy: str, fps: str = "fps") -> list[str]:
    """Rows no other row beats on both speed and accuracy (higher is better for both), fastest first.

    A row is dominated when another row has ``fps >=`` and ``accuracy >=`` with at least one strictly
    greater. Rows missing either value are ignored.
    """
    pts = table[[fps, accuracy]].dropna()
    front = []
    for name, (f, a) in pts.iterrows():
        dominated = ((pts[fps] >= f) & (pts[accuracy] >= a) & ((pts[fps] > f) | (pts[accuracy] > a))).any()
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: -pts.loc[n, fps])


def to_markdown(table: pd.DataFrame) -> str:
    """The table as GitHub markdown: blanks where a metric does not apply, params as counts."""
    shown = table.copy()
    shown["params"] = shown["params"].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    for col, fmt in (("HOTA", "{:.1f}"), ("IDF1", "{:.1f}"), ("AssA", "{:.1f}"), ("AUC", "{:.1f}"),
                     ("P@20", "{:.1f}"), ("fps", "{:.1f}"), ("gflops", "{:.3f}"), ("train_s", "{:.0f}")):
        shown[col] = shown[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    shown = shown.rename(columns={"fps": "FPS", "gflops": "GFLOPs", "train_s": "train (s)"})
    shown.index.name = "method"
    return shown.to_markdown()


def plot_capstone(table: pd.DataFrame):
    """Three panels: MOT HOTA vs FPS, SOT AUC vs FPS, low-quality/clean IDF1 per fusion variant."""
    import matplotlib.pyplot as plt

    from .viz.plots import plot_speed_accuracy

    fig, axes = plt.subplots(1, 3, figsize=(18, 8))
    mot = table[table["section"].isin(["MOT", "MOT interleaved"])].dropna(subset=["HOTA", "fps"])
    sot = table[table["section"] == "SOT"].dropna(subset=["AUC", "fps"])
    lowq = table[(table["section"] == "MOT low quality")].dropna(subset=["IDF1"])
    if len(mot):
        plot_speed_accuracy(mot, accuracy="HOTA", ax=axes[0], legend=True,
                            title="MOT: HOTA vs tracker FPS (notebooks 01-03, 07)")
    if len(sot):
        plot_speed_accuracy(sot, accuracy="AUC", ax=axes[1], legend=True,
                            title="SOT: success AUC vs network FPS (notebook 04)")
    if len(lowq):
        split = lowq.index.str.split(": ", n=1)
        bars = pd.DataFrame({"video": [s[0] for s in split], "variant": [s[1] for s in split],
                             "IDF1": lowq["IDF1"].to_numpy()}).pivot(index="video", columns="variant", values="IDF1")
        bars.plot.bar(ax=axes[2], rot=0)
        axes[2].set(ylabel="IDF1", title="VSD-MOT: association on identical detections (notebooks 05-06)")
        axes[2].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15))
        axes[2].grid(axis="y", alpha=0.3)
    for ax, df in zip(axes, (mot, sot, lowq)):
        if not len(df):
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def write_report(table: pd.DataFrame, out: str | Path, cfg, profile: str, command: str, seconds: float,
                 machine: dict | None = None) -> Path:
    """Write the report folder (module docstring) and return the path of ``report.md``.

    ``machine`` is where the numbers were measured (default: this machine, :func:`machine_summary`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine or machine_summary()
    fig = plot_capstone(table)
    with atomic_path(out / "speed_accuracy.png") as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    import matplotlib.pyplot as plt

    plt.close(fig)
    md = to_markdown(table)
    write_text_atomic(out / "table.md", md + "\n")
    per_section = table.attrs.get("seconds", {})
    lines = [f"# kdtrack tour report ({profile} profile)", "",
             f"Command: `{command}`", "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}; Python {machine['python']}, "
             f"torch {machine['torch']} ({machine['torch_threads']} threads), GPU: {machine['gpu'] or 'none'}.", "",
             f"Wall time: {seconds / 60:.1f} min in total; per section: "
             + ", ".join(f"{k} {v / 60:.1f} min" for k, v in per_section.items()) + ".", ""]
    if "teacher" in table.attrs:
        lines += [f"Semantic teacher of the VSD-MOT rows: {table.attrs['teacher']}", ""]
    lines += ["## One table", "", md, "",
              "Columns: HOTA/IDF1/AssA (MOT, trackeval + motmetrics), success AUC and precision@20 (SOT) on "
              "held-out sequences; FPS = whole online tracker for MOT rows, the network's per-frame work for SOT "
              "rows, the semantic encoder for the fusion rows (the CLIP row: frame + 8 crops) -- compare FPS within "
              "a section; params and GFLOPs per frame (interleaved rows: both models, FLOPs averaged over the "
              "frames each model ran on); train (s) = fine-tuning time in this run (blank: a shipped checkpoint).",
              "", "## What helped where (computed from the table above)", ""]
    stated = findings(table)
    lines += [f"- {f}" for f in stated]
    lines += ["", "![speed vs accuracy](speed_accuracy.png)", "", "## Budgets (CapstoneConfig)", "",
              "```json", json.dumps(cfg.to_dict(), indent=1), "```", ""]
    report = write_text_atomic(out / "report.md", "\n".join(lines))
    payload = {"profile": profile, "command": command, "machine": machine, "seconds": seconds,
               "section_seconds": per_section, "config": cfg.to_dict(), "teacher": table.attrs.get("teacher"),
               "table": json.loads(table.to_json(orient="index")), "findings": stated}
    write_text_atomic(out / "results.json", json.dumps(payload, indent=1))
    return report


def rerender(folder: str | Path) -> Path:
    """Rewrite a report folder from its ``results.json`` (same numbers, command, machine and times)
    with the current report code -- e.g. after changing :func:`findings`; nothing is re-run."""
    from .capstone import CapstoneConfig

    folder = Path(folder)
    path = folder / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no results.json to re-render (run `kdtrack tour --out {folder}` first)")
    payload = json.loads(path.read_text())
    missing = sorted({"table", "config", "profile", "command", "seconds", "machine"} - set(payload))
    if missing:
        raise ValueError(f"{path}: not a kdtrack tour results file (missing {missing})")
    table = pd.DataFrame.from_dict(payload["table"], orient="index").reindex(columns=COLUMNS)
    for col in COLUMNS[2:]:  # JSON null -> NaN; section and notebook stay text
        table[col] = pd.to_numeric(table[col])
    table.attrs.update(seconds=payload.get("section_seconds", {}))
    if payload.get("teacher"):
        table.attrs["teacher"] = payload["teacher"]
    return write_report(table, folder, CapstoneConfig.from_dict(payload["config"]), payload["profile"],
                        payload["command"], payload["seconds"], machine=payload["machine"])


def readme_block(table_md: str, command: str, machine: dict, seconds: float) -> str:
    """The README results block (between the markers) for ``table_md``."""
    return "\n".join([README_BEGIN, "", table_md.strip(), "",
                      f"Produced by `{command}` in {seconds / 60:.1f} min on {machine['cpu']} "
                      f"({machine['cores']} cores, torch {machine['torch']}, {machine['torch_threads']} threads, "
                      f"GPU: {machine['gpu'] or 'none'}); full report: "
                      "[benchmarks/tour/report.md](benchmarks/tour/report.md).", "", README_END])


def update_readme(readme: str | Path, block: str) -> None:
    """Replace the text between :data:`README_BEGIN` and :data:`README_END` (markers included)."""
    path = Path(readme)
    text = path.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: no '{README_BEGIN}' ... '{README_END}' block to update")
    write_text_atomic(path, text[:start] + block + text[end + len(README_END):])


def readme_table(readme: str | Path) -> str:
    """The markdown table inside README's results block (the lines starting with ``|``)."""
    path = Path(readme)
    text = path.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: no '{README_BEGIN}' ... '{README_END}' block")
    return "\n".join(line for line in text[start:end].splitlines() if line.startswith("|"))


def _update_readme_from(readme: str | Path, folder: Path) -> None:
    """README results block from a report folder's ``table.md`` and ``results.json`` (one source)."""
    payload = json.loads((folder / "results.json").read_text())
    update_readme(readme, readme_block((folder / "table.md").read_text(), payload["command"], payload["machine"],
                                       payload["seconds"]))
    print(f"[tour] updated the results block of {readme}")


@add_command
def _tour(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tour", help="run every method headless and write a report folder (table + figures)")
    p.add_argument("--profile", choices=["fast", "lite", "full"], default="lite",
                   help="fast: minutes (notebook 08's sizes); lite: the README table, < 30 min on 2 CPU cores; "
                        "full: FULL data sizes and longer budgets")
    p.add_argument("--out", default=None, help="report folder (default: runs/tour/<profile>)")
    p.add_argument("--sections", default="mot,interleaved,sot,lowq", help="comma list of mot, interleaved, sot, lowq")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--update-readme", metavar="README", help="also rewrite the results block of this README.md")
    p.add_argument("--rerender", metavar="DIR", help="only rewrite the report in DIR from its results.json (no run)")

    def run(args: argparse.Namespace) -> None:
        import torch

        from .capstone import CapstoneConfig, run_capstone
        from .paths import runs_dir

        if args.rerender:
            report = rerender(args.rerender)
            print(f"[tour] re-rendered {report} from its results.json")
            if args.update_readme:  # the report just written holds the command, machine and time
                _update_readme_from(args.update_readme, Path(args.rerender))
            return
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        cfg = CapstoneConfig.profile(args.profile, seed=args.seed)
        out = Path(args.out) if args.out else runs_dir() / "tour" / args.profile
        argv = sys.argv[1:] if sys.argv[1:2] == ["tour"] else ["tour", "--profile", args.profile]
        command = "kdtrack " + " ".join(argv)
        start = time.perf_counter()

        def announce(name: str, table: pd.DataFrame, seconds: float) -> None:
            print(f"[tour] {name}: {len(table)} rows in {seconds / 60:.1f} min", flush=True)

        table = run_capstone(cfg, sections=[s.strip() for s in args.sections.split(",") if s.strip()],
                             on_section=announce)
        seconds = time.perf_counter() - start
        report = write_report(table, out, cfg, args.profile, command, seconds)
        print(f"[tour] {seconds / 60:.1f} min; report: {report}")
        if args.update_readme:
            _update_readme_from(args.update_readme, out)

    p.set_defaults(func=run)
