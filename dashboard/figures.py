"""Plotly figure builders: pure functions from data to figures, each with titled axes and units, in the page's
language."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from dashboard.i18n import N_, t
from dashboard.palette import COLORWAY, style
from engine.inference.replay import steps_done

LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.2),
              colorway=COLORWAY)


def _figure(title: str, x_title: str, y_title: str, log_y: bool = False) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, **LAYOUT)
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")  # 10⁻⁸, not "10n"
    return fig


def as_text(label: str) -> str:
    """Plotly renders a little HTML in labels; user text must show as typed."""
    return html.escape(label, quote=False)


def attention_heatmap(weights: np.ndarray, source_tokens: list[str], target_tokens: list[str], title: str,
                      unit: str = "token") -> go.Figure:
    """weights [target, source]: how much each output token (or word: `unit`) looked at each input one."""
    fig = go.Figure(go.Heatmap(
        z=weights, x=[f"{i}:{as_text(token)}" for i, token in enumerate(source_tokens)],
        y=[f"{i}:{as_text(token)}" for i, token in enumerate(target_tokens)],
        colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title=t("weight")),
        hovertemplate=t("output %{y}<br>input %{x}<br>attention %{z:.2f}") + "<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis_title=t("your sentence ({unit}s)", unit=unit),
                      yaxis_title=t("written {unit}s (output)", unit=unit),
                      yaxis_autorange="reversed", **{**LAYOUT, "margin": dict(l=100, r=20, t=50, b=100)})
    return fig


def win_rate_heatmap(matrix: list[list[float | None]], models: list[str]) -> go.Figure:
    """matrix[i][j]: the share of row model i's battles against column model j that i won."""
    names = [as_text(m) for m in models]
    fig = go.Figure(go.Heatmap(
        z=matrix, x=names, y=names, colorscale="RdBu", zmin=0, zmax=1, colorbar=dict(title=t("won")),
        text=[["" if v is None else f"{v:.0%}" for v in row] for row in matrix], texttemplate="%{text}",
        hovertemplate=t("%{y} against %{x}: won %{z:.0%} (ties count half)") + "<extra></extra>",
    ))
    fig.update_layout(title=t("Share of battles won, row model against column model"), xaxis_title=t("against"),
                      yaxis_title=t("model"), yaxis_autorange="reversed", **{**LAYOUT, "margin": dict(l=120, r=20, t=50,
                                                                                                 b=100)})
    return fig


def attention_rows(weights, source_tokens: list[str], target_tokens: list[str]) -> list[dict]:
    """The heatmap's numbers as table rows: one per output token, one column per numbered source token."""
    return [{"output": out, **{f"{j}:{s}": round(float(w), 4) for j, (s, w) in enumerate(zip(source_tokens, row))}}
            for out, row in zip(target_tokens, weights)]


def lines(series: dict[str, tuple[list, list]], title: str, x_title: str, y_title: str, log_y: bool = False,
          mode: str = "lines") -> go.Figure:
    """One line per name: series[name] = (xs, ys)."""
    fig = _figure(title, x_title, y_title, log_y)
    taken = set()
    for name, (xs, ys) in series.items():
        colour, dash = style(name) or (None, None)
        if colour:  # a second series of one model ("gru-attn (next set)", "LSTM, forget bias 1"): another dash
            dashes = (dash, "dot", "dashdot", "longdash", "longdashdot")
            dash = next((d for d in dashes if (colour, d) not in taken), dash)
            taken.add((colour, dash))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode=mode, name=name, line=dict(color=colour, dash=dash),
                                 marker=dict(color=colour),
                                 hovertemplate=f"{name}<br>{x_title}: %{{x}}<br>{y_title}: %{{y:.4g}}<extra></extra>"))
    return fig


def grouped_series(rows: list[dict], group, x: str, y: str) -> dict[str, tuple[list, list]]:
    """{group: (xs, ys)} from flat records such as a bench file's rows; `group` is a key or a function of a row."""
    key = group if callable(group) else (lambda row: row[group])
    return {name: ([r[x] for r in rows if key(r) == name], [r[y] for r in rows if key(r) == name])
            for name in sorted({key(r) for r in rows})}


def bars(names: list[str], values: list[float], title: str, y_title: str, text_format: str = ".1f",
         x_title: str | None = None) -> go.Figure:
    """One bar per name (a model, by default), its value printed on top."""
    fig = _figure(title, x_title or t("model"), y_title)
    fig.add_trace(go.Bar(x=[as_text(n) for n in names], y=values, text=[format(v, text_format) for v in values],
                         textposition="outside", marker_color=[(style(n) or (COLORWAY[0],))[0] for n in names],
                         hovertemplate=f"%{{x}}<br>{y_title}: %{{y:.4g}}<extra></extra>"))
    return fig


def grouped_bars(groups: dict[str, tuple[list[str], list[float]]], title: str, x_title: str, y_title: str) -> go.Figure:
    """One bar series per name: groups[name] = (categories, values)."""
    fig = _figure(title, x_title, y_title)
    for name, (categories, values) in groups.items():
        fig.add_trace(go.Bar(x=categories, y=values, name=name,
                             hovertemplate=f"{name}<br>{x_title}: %{{x}}<br>{y_title}: %{{y:.4g}}<extra></extra>"))
    fig.update_layout(barmode="group")
    return fig


def training_curves(runs: dict[str, list[dict]], y: str, x: str, kind: str = "step", smooth: int = 1) -> go.Figure:
    """Curves of metric `y` against `x` ("step" or "wall_seconds") for each run's metrics.jsonl records."""
    series = {}
    for name, records in runs.items():
        xs, ys = metric_series(records, y, x, kind)
        if smooth > 1 and ys:
            ys = trailing_mean(ys, smooth)
        series[name] = (xs, ys)
    return lines(series, label(y), label(x), label(y), log_y=y == "grad_norm",
                 mode="lines+markers" if kind == "eval" else "lines")


def trailing_mean(values: list[float], window: int) -> list[float]:
    """Each value averaged with up to `window - 1` before it (no zero padding, so the ends do not dip)."""
    sums = np.cumsum([0.0, *values])
    return [float(sums[i + 1] - sums[max(0, i + 1 - window)]) / min(i + 1, window) for i in range(len(values))]


LABELS = {"loss": N_("training loss (nats/token)"), "grad_norm": N_("gradient norm before clipping"),
          "valid_bleu": N_("validation BLEU (0-100)"), "valid_chrf": N_("validation chrF (0-100)"),
          "valid_loss": N_("validation loss (nats/token)"), "tokens_per_s": N_("training speed (tokens/s)"),
          "step": N_("optimizer step"), "wall_seconds": N_("wall-clock time (s)"),
          "train_seconds": N_("training time (s)"), "tokens_seen": N_("training tokens seen (source + target)"),
          "train_minutes": N_("training time (minutes)")}


def label(key: str) -> str:
    """Axis title of a metrics.jsonl key; per-corpus keys such as valid_chrf_bible-en-de name their corpus."""
    for base in ("valid_bleu", "valid_chrf"):
        if key.startswith(base + "_"):
            return f"{t(LABELS[base])}, {key[len(base) + 1:]}"
    return t(LABELS[key]) if key in LABELS else key


def metric_series(records: list[dict], y: str, x: str, kind: str = "eval") -> tuple[list, list]:
    """(xs, ys) of the records of one kind that hold both keys; x "train_minutes" is train_seconds / 60."""
    key = "train_seconds" if x == "train_minutes" else x
    rows = [r for r in records if r.get("kind") == kind and y in r and key in r]
    xs = [r[key] / 60 if x == "train_minutes" else r[key] for r in rows]
    return xs, [r[y] for r in rows]


def race_leaders(runs: dict[str, list[dict]], y: str, x: str) -> list[tuple[float, str]]:
    """Who leads the race: (x where a model took the lead, model) for every change of leader, comparing each
    run's latest evaluation at or before each evaluation point of any run (runs not yet evaluated are skipped)."""
    series = {name: metric_series(records, y, x) for name, records in runs.items()}
    points = sorted({px for xs, _ in series.values() for px in xs})
    changes: list[tuple[float, str]] = []
    for point in points:
        latest = {name: ys[max(i for i, px in enumerate(xs) if px <= point)]
                  for name, (xs, ys) in series.items() if xs and xs[0] <= point}
        leader = max(latest, key=latest.get)
        if changes and latest.get(changes[-1][1]) == latest[leader]:
            continue  # a tie keeps the current leader
        if not changes or changes[-1][1] != leader:
            changes.append((point, leader))
    return changes


def by_length(rows_by_model: dict[str, list[dict]], metric: str, corpus: str) -> go.Figure:
    """One line per model: `metric` ("bleu" or "chrf") against source-length bucket (eval.json "by_length")."""
    series = {name: ([r["bucket"] for r in rows], [r[metric] for r in rows]) for name, rows in rows_by_model.items()}
    name = {"bleu": "BLEU", "chrf": "chrF"}[metric]
    return lines(series, t("{metric} by source length — {corpus} test", metric=name, corpus=corpus),
                 t("source length (words)"), f"{name} (0-100)", mode="lines+markers")


RACE_FRAMES = 40  # the decode race's clock ticks, start and end included: RACE_FRAMES + 1 at most


def decode_race(timelines: dict, clock: str = "ms", frames: int = RACE_FRAMES, shown: float = 0.0) -> go.Figure:
    """An animation on one shared clock: per model, a row of source words lighting up as they are read and a row of
    output words appearing as they are written, with a play button and a slider to scrub; it opens at the moment
    `shown` (0 = the start, 1 = the end). `timelines` maps a model
    name to an `engine.inference.replay.Timeline`; `clock` is "ms" (measured time) or "steps" (one tick per step that
    waits for the one before)."""
    in_steps = clock == "steps"
    if in_steps:
        end = max(tl.total_steps for tl in timelines.values())
        ticks = sorted({round(end * i / frames) for i in range(frames + 1)})
    else:
        end = max(tl.total_ms for tl in timelines.values())
        ticks = [end * i / frames for i in range(frames + 1)]
    rows = [(name, kind) for name in timelines for kind in (N_("reads"), N_("writes"))]
    colours = {"reads": "#1f77b4", "writes": "#d62728"}
    label = (lambda at: str(at)) if in_steps else (lambda at: f"{at:.1f}")  # noqa: E731

    def when(timeline, kind: str) -> list[float]:
        if in_steps:
            return timeline.read_step if kind == "reads" else timeline.written_step
        return timeline.read_at if kind == "reads" else timeline.written_at

    def traces(at: float) -> list[go.Scatter]:
        out = []
        for name, kind in rows:
            timeline = timelines[name]
            tokens = timeline.source_tokens if kind == "reads" else timeline.output_tokens
            done = [moment <= at for moment in when(timeline, kind)]
            out.append(go.Scatter(
                x=list(range(len(tokens))), y=[f"{as_text(name)} {t(kind)}"] * len(tokens), mode="markers+text",
                text=[as_text(tok) for tok in tokens], textposition="top center", showlegend=False,
                marker=dict(size=14, symbol="square", color=[colours[kind] if d else "#e5e5e5" for d in done]),
                hovertemplate="%{text}<extra></extra>"))
        return out

    def caption(at: float) -> str:
        if in_steps:
            return t("step {step}: ", step=at) + "; ".join(
                t("{model} read {read}/{source}, wrote {wrote}/{output}", model=as_text(n),
                  read=sum(s <= at for s in tl.read_step), source=len(tl.source_tokens),
                  wrote=sum(s <= at for s in tl.written_step), output=len(tl.output_tokens))
                for n, tl in timelines.items())
        return t("{ms:.1f} ms: ", ms=at) + "; ".join(t("{model} {steps} steps one after another", model=as_text(n),
                                                       steps=steps_done(tl, at)) for n, tl in timelines.items())

    start = round(shown * (len(ticks) - 1))
    fig = go.Figure(data=traces(ticks[start]),
                    frames=[go.Frame(data=traces(at), name=label(at), layout=dict(title=caption(at))) for at in ticks])
    longest = max(max(len(tl.source_tokens), len(tl.output_tokens)) for tl in timelines.values())
    fig.update_layout(
        title=caption(ticks[start]), xaxis=dict(title=t("word position"), range=[-1, longest]),
        yaxis=dict(categoryorder="array", categoryarray=[f"{as_text(n)} {t(k)}" for n, k in rows][::-1]),
        height=140 + 70 * len(rows), **{**LAYOUT, "margin": dict(l=160, r=20, t=60, b=50)},
        updatemenus=[dict(type="buttons", x=0, y=-0.25, xanchor="left", buttons=[
            dict(label=t("Play"), method="animate", args=[None, dict(frame=dict(duration=120, redraw=True),
                                                                  fromcurrent=True, transition=dict(duration=0))]),
            dict(label=t("Pause"), method="animate", args=[[None], dict(mode="immediate", frame=dict(duration=0))])])],
        sliders=[dict(x=0.15, len=0.85, y=-0.15, active=start, currentvalue=dict(prefix=t("clock: "),
                                                                  suffix=t(" steps") if in_steps else t(" ms")),
                      steps=[dict(label=label(at), method="animate",
                                  args=[[label(at)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                             for at in ticks])])
    return fig
