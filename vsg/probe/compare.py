"""Comparison of probed runs: one table and two figures (``python -m vsg.probe compare``).

Every number in the table is a fraction, so Jacobians of different sizes compare: densities
are shares of the considered entries, c_t is the share of entries whose edge status changed,
k_0.9 is the share of a row's inputs that hold 90 % of its L1 mass. The "Jacobian" column says
what was thresholded (J, or J - I for the physics ground truth, whose J = I + O(dt)) and, for
the ground truth, over which time scale.
"""

import json
import pathlib

from vsg.probe import plots
from vsg.probe.stats import jsonable

# (key, header): summary keys; "!" keys are derived in ``table_row``.
COLUMNS = (
    ("density_local_mean", "local"),
    ("density_local_std", "local sd"),
    ("density_union", "union"),
    ("density_union_freq", "union q"),
    ("gap", "gap"),
    ("hamming_frac_median", "c_t med"),
    ("hamming_frac_q95", "c_t q95"),
    ("frac_steps_no_change", "no change"),
    ("!no_change_min_tau", "no change τmin"),
    ("k_mass_frac_mean", "k_0.9/in"),
    ("identity_row_frac_mean", "e_i rows"),
    ("!open_gates", "open gates"),
    ("!mean_gate", "mean gate p"),
    ("!event_ratio", "c_t event/other"),
    ("!top5", "top5% near ev"),
    ("!chance", "chance"),
)


def table_row(run, model, summary):
    """One table row (dict) of a model summary."""
    row = {"run": run, "model": model, "jacobian": _short_convention(summary)}
    for key, _ in COLUMNS:
        if not key.startswith("!"):
            row[key] = summary.get(key)
    sweep = sorted(summary["sweep"], key=lambda r: r["tau"])
    row["!no_change_min_tau"] = sweep[0]["frac_steps_no_change"]
    gate = summary.get("open_gate_frac_mean")
    row["!open_gates"] = gate if summary.get("gate_kind") == "binary" else None
    row["!mean_gate"] = gate if summary.get("gate_kind") in ("probability", "soft") else None
    any_event = summary.get("events", {}).get("any", {}).get("hamming_frac", {})
    row["!event_ratio"] = any_event.get("event_over_other")
    row["!top5"] = any_event.get("top5_share")
    row["!chance"] = any_event.get("chance_share")
    return row


def _short_convention(summary):
    diag = summary["config"]["diag"]
    text = {"keep": "J", "exclude": "J w/o diag", "subtract": "J-I"}[diag]
    scale = summary.get("time_scale")
    if scale:
        steps = summary.get("steps_per_jacobian") or []
        text += f" ({scale}, {'/'.join(str(s) for s in steps)} mj_step)"
    return text


def settings_text(summaries):
    """The threshold settings behind a set of model summaries (each distinct one once)."""
    settings = set()
    for summary in summaries:
        cfg = summary["config"]
        rule = "row-relative" if cfg["rule"] == "row" else "absolute"
        taus = sorted(cfg["tau_grid"])
        settings.add(
            f"headline τ = {cfg['headline_tau']:g} ({rule} rule), τmin = {taus[0]:g}, "
            f"union q = {cfg['union_min_freq']:g}"
        )
    return "; ".join(sorted(settings))


def table_note(summaries):
    """The header note: what the columns mean and the threshold settings behind them."""
    return (
        "All figures are fractions but one ratio: densities of considered entries, "
        "c_t = changed entries / entries, k_0.9 = inputs holding 90 % of a row's L1 mass / "
        "inputs; gates: binary open fraction (realised) or mean probability (expected "
        "VSG/SVSG, soft GRU gate of DreamerV2); events ('any' contact or constraint onset or "
        "offset): mean c_t at event decisions / at the others (the ratio), share of the top "
        "5 % c_t decisions within ±1 decision of "
        "an event, and that share by chance. " + settings_text(summaries) + "."
    )


def format_table(rows, note=""):
    """Markdown table of table rows (dicts from ``table_row``), preceded by the note."""
    header = ["run", "model", "Jacobian"] + [title for _, title in COLUMNS]
    lines = [note, ""] if note else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["run"], row["model"], row["jacobian"]]
        for key, _ in COLUMNS:
            value = row.get(key)
            cells.append("-" if value is None else f"{value:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare(summaries, out_dir):
    """One table and figures for several probes.

    summaries: {run label: summary.json dict}. Writes compare.json, compare.md and figures
    (density vs tau, bars of the densities) to out_dir; returns the markdown table.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for label, summary in summaries.items():
        for model, s in summary["models"].items():
            rows.append(table_row(label, model, s))
            curves[f"{label} {model}"] = s
    models = [s for summary in summaries.values() for s in summary["models"].values()]
    note = table_note(models)
    table = format_table(rows, note)
    (out_dir / "compare.json").write_text(
        json.dumps(jsonable({"note": note, "rows": rows}), indent=1) + "\n"
    )
    (out_dir / "compare.md").write_text(table + "\n")
    plots.plot_density_vs_tau(curves, out_dir / "density_vs_tau.png")
    columns = [
        ("density_local_mean", "local mean"),
        ("density_union", "union"),
        ("density_union_freq", "union (freq ≥ q)"),
    ]
    title = f"Densities ({settings_text(models)}); Jacobian per bar group"
    plots.plot_bars(rows, columns, out_dir / "densities.png", title=title)
    return table
