"""Pictures of spatial statistics: Moran scatter plot, LISA cluster map, choropleth, Moran's I over years.

Every function draws on a new figure, writes it when given `path` (.png or .svg, by suffix) and returns
the figure. Chinese place names need a CJK font: `use_cjk_font()` finds one installed on the system
(`make install` installs Debian's fonts-wqy-microhei) and puts it behind matplotlib's default font, so
Latin text keeps DejaVu Sans and Chinese characters fall back to the CJK font glyph by glyph;
`missing_glyphs(text)` says which characters no configured font can draw, and drawing refuses to
produce boxes: it raises `FontError` naming the characters and what to install.

Words on a picture follow `lang` ('zh' or 'en'; None: Chinese when the title has Chinese characters).
Legend titles and axis labels of a variable come from the variable registry (label_zh / label_en and unit,
seeds/variables.csv, or `warehouse.variables.variables_frame(con)` passed as `registry`); numbers are
printed for people (`format_number`: 45,800,000, never 4.58e+07).

Maps over China (geographic coordinates) are drawn as a journal prints them (analyses.china_map): Albers
equal-area, Taiwan and the province-administered units always drawn, the South China Sea islands and dashed
line in an inset at the bottom right, north arrow, scale bar and a note that publication needs a 审图号.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib

if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

# Family names of common CJK fonts, best first, and where Debian and other systems put their files.
CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                "Source Han Sans CN", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")
CJK_FILE_PATTERNS = ("/usr/share/fonts/**/wqy-microhei.ttc", "/usr/share/fonts/**/wqy-zenhei.ttc",
                     "/usr/share/fonts/**/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/NotoSansSC-*.otf",
                     "/usr/share/fonts/**/SourceHanSans*.otf", "/Library/Fonts/Arial Unicode.ttf",
                     "/System/Library/Fonts/PingFang.ttc", "C:/Windows/Fonts/simhei.ttf", "C:/Windows/Fonts/msyh.ttc")
INSTALL_HINT = ("install a CJK font: `apt-get install fonts-wqy-microhei` (what `make install` does), or put a "
                ".ttf/.otf/.ttc with Chinese glyphs in $GEOPANEL_CJK_FONT")
CLUSTER_COLOURS = {"HH": "#d7191c", "LH": "#abd9e9", "LL": "#2c7bb6", "HL": "#fdae61", "ns": "#eeeeee",
                   "island": "#ffffff"}
PROVINCE_ADMINISTERED_COLOUR = "#d9d9d9"  # county-level units a province administers, on a city map
CLUSTER_LABELS = {"HH": "HH 高-高", "LH": "LH 低-高", "LL": "LL 低-低", "HL": "HL 高-低", "ns": "不显著 n.s.",
                  "island": "无邻居 island"}
CLUSTER_LABELS_LANG = {
    "zh": {"HH": "HH 高-高", "LH": "LH 低-高", "LL": "LL 低-低", "HL": "HL 高-低", "ns": "不显著",
           "island": "无邻居", "no data": "无数据"},
    "en": {"HH": "HH high-high", "LH": "LH low-high", "LL": "LL low-low", "HL": "HL high-low",
           "ns": "not significant", "island": "no neighbours", "no data": "no data"},
}


class FontError(RuntimeError):
    """Text would be drawn as boxes: no configured font has these characters."""


@lru_cache(maxsize=1)
def use_cjk_font() -> str | None:
    """Make matplotlib fall back to an installed CJK font; returns its family name (None if there is none).

    Looks for known family names, then registers known font files (matplotlib's font cache may predate
    the font's installation), then $GEOPANEL_CJK_FONT.
    """
    known = {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in CJK_FAMILIES if f in known), None)
    if family is None:
        paths = [os.environ["GEOPANEL_CJK_FONT"]] if os.environ.get("GEOPANEL_CJK_FONT") else []
        for pattern in CJK_FILE_PATTERNS:
            paths += sorted(glob.glob(pattern, recursive=True))
        for path in paths:
            try:
                font_manager.fontManager.addfont(path)
                name = font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
            if _covers(path, "中国"):
                family = name
                break
    if family is not None:
        sans = [f for f in matplotlib.rcParams["font.sans-serif"] if f != family]
        first = "DejaVu Sans" if "DejaVu Sans" in sans else sans[0]
        # matplotlib falls back glyph by glyph only across the families listed in font.family itself
        matplotlib.rcParams["font.family"] = [first, family]
        matplotlib.rcParams["font.sans-serif"] = [first, family, *[f for f in sans if f != first]]
        matplotlib.rcParams["axes.unicode_minus"] = False
    return family


def _covers(path: str, text: str) -> bool:
    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(ch)) != 0 for ch in text)


def missing_glyphs(text: str) -> list[str]:
    """Characters of `text` that none of the fonts matplotlib would use (with fallback) can draw."""
    use_cjk_font()
    props = font_manager.FontProperties(family=matplotlib.rcParams["font.family"])
    paths = font_manager.fontManager._find_fonts_by_props(props)
    fonts = []
    for p in paths:
        try:
            fonts.append(FT2Font(str(p)))
        except (OSError, RuntimeError, ValueError):
            continue
    out = []
    for ch in dict.fromkeys(text):
        if ch.isspace() or not ch.isprintable():
            continue
        if not any(f.get_char_index(ord(ch)) != 0 for f in fonts):
            out.append(ch)
    return out


def ensure_renderable(*texts: str) -> None:
    """Raise `FontError` if any character of `texts` would come out as a box."""
    missing = missing_glyphs("".join(t for t in texts if t))
    if missing:
        raise FontError(f"no installed font can draw {''.join(missing[:20])!r}; {INSTALL_HINT}")


def density_line(ax, values, color: str, label: str | None = None) -> None:
    """A Gaussian kernel density (Scott's bandwidth, scipy) of `values` over their range, as a line."""
    from scipy.stats import gaussian_kde

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or np.ptp(values) == 0:
        return
    grid = np.linspace(values.min(), values.max(), 256)
    ax.plot(grid, gaussian_kde(values)(grid), color=color, lw=1.6, label=label)


def save_figure(fig, path: str | Path | None, dpi: int = 300) -> Path | None:
    """Write `fig` as .png (300 dpi, what journals ask for), .svg or .pdf (folders created); None writes nothing."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"{path}: write .png, .svg or .pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


# ----------------------------------------------------------------------------- words and numbers
UNITS_EN = {"亿元": "100 million yuan", "万元": "10,000 yuan", "元": "yuan", "万人": "10,000 persons",
            "人": "persons", "万户": "10,000 households", "万个": "10,000", "个": "count", "件": "items",
            "万件": "10,000 items", "万美元": "10,000 USD", "平方公里": "km²", "公里": "km", "年": "years",
            "上年=100": "previous year = 100", "部/百人": "per 100 persons"}
WORDS = {  # (zh, en)
    "no_data": ("无数据", "no data"), "z": ("标准化值 z", "z (standardised value)"),
    "lag": ("空间滞后 W·z", "W·z (spatial lag)"), "slope": ("斜率", "slope"), "year": ("年份", "year"),
    "rel_time": ("相对政策实施的年份", "years relative to adoption"), "coef": ("估计系数", "coefficient"),
    "ci": ("95% 置信区间", "95% confidence interval"), "ei": ("E[I] = −1/(n−1)", "E[I] = −1/(n−1)"),
    "moran_years": ("Moran's I 逐年变化（实心：p ≤ {alpha}）", "Moran's I by year (filled: p ≤ {alpha})"),
}


def has_chinese(text: str | None) -> bool:
    """True if `text` holds a CJK ideograph."""
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def resolve_lang(lang: str | None, *texts: str | None) -> str:
    """'zh' or 'en': `lang` when given, else Chinese when any of `texts` (a title) has Chinese characters."""
    if lang is None:
        return "zh" if any(has_chinese(t) for t in texts) else "en"
    if lang not in ("zh", "en"):
        raise ValueError(f"lang {lang!r}: use 'zh' or 'en'")
    return lang


def word(key: str, lang: str) -> str:
    return WORDS[key][0 if lang == "zh" else 1]


def variable_label(name: str, lang: str = "zh", registry=None, level: str | None = None,
                   unit: bool = True) -> str:
    """The registry's label of variable `name`: 地区生产总值（亿元） in Chinese, GDP (100 million yuan) in English;
    the name itself when the registry does not know it.

    `registry` is a frame with name, label_zh, label_en and unit (and level), e.g.
    `warehouse.variables.variables_frame(con)`, or a mapping name → such a row; default the variables shipped
    in seeds/variables.csv.

        variable_label("gdp", "zh")   # '地区生产总值（亿元）'
    """
    if registry is None:
        from warehouse.variables import standard_variables

        registry = standard_variables()
    row = None
    if isinstance(registry, pd.DataFrame):
        hit = registry[registry["name"].astype(str) == name]
        if level is not None and "level" in hit.columns and (hit["level"] == level).any():
            hit = hit[hit["level"] == level]
        row = hit.iloc[0].to_dict() if len(hit) else None
    elif registry:
        row = registry.get(name)
    if not row:
        return name

    def text(key: str) -> str:
        v = row.get(key)
        return "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()

    label = text("label_zh" if lang == "zh" else "label_en") or text("label_en") or text("label_zh") or name
    u = text("unit")
    if not unit or not u or u in ("index", "unit", "fraction"):
        return label
    if lang == "zh":
        return f"{label}（{u}）"
    return f"{label} ({UNITS_EN.get(u, u)})"


def format_number(value, decimals: int | None = None) -> str:
    """A number for people: thousands separators, no exponent, a true minus sign (45,800,000; 17,740.5;
    0.0123; −3.5).

    `decimals` fixes the decimals (for columns and legends that line up); by default whole numbers get none
    and others four significant digits (at most 6 decimals), trailing zeros dropped."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:
        return ""
    if abs(v) == float("inf"):
        return "∞" if v > 0 else "−∞"
    fixed = decimals is not None
    if decimals is None:
        mag = int(np.floor(np.log10(abs(v)))) if v else 0
        decimals = 0 if v == round(v) else min(6, max(0, 3 - mag))
    out = f"{v:,.{decimals}f}"
    if not fixed and "." in out:
        out = out.rstrip("0").rstrip(".")
    if out.startswith("-"):
        out = out[1:] if not out.strip("-0.,") else "−" + out[1:]
    return out


def class_decimals(edges) -> int:
    """Decimals that tell the class edges of a legend apart (0 for edges ≥ 100 apart, more for close ones)."""
    edges = np.asarray([e for e in edges if np.isfinite(e)], dtype=float)
    gaps = np.diff(np.unique(edges))
    step = gaps.min() if len(gaps) else (abs(edges[0]) if len(edges) and edges[0] else 1.0)
    return int(min(6, max(0, 1 - np.floor(np.log10(step))))) if step > 0 else 2


def class_labels(lower: float, bins, decimals: int | None = None) -> list[str]:
    """Legend labels of classes with upper edges `bins` starting at `lower`: '1,200 – 3,400' (mapclassify's
    classes: the first closed, the rest open below)."""
    d = class_decimals([lower, *bins]) if decimals is None else decimals
    edges = [lower, *bins]
    return [f"{format_number(a, d)} – {format_number(b, d)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


def short_name(name: str) -> str:
    """A compact label: 广西壮族自治区 → 广西, 湖北省 → 湖北, 武汉市 → 武汉 (other names unchanged)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


# ----------------------------------------------------------------------------- labels that do not overlap
def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Overlap widths (x, y) of two boxes [x0, y0, x1, y1]; both positive only if they intersect."""
    return min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])


def repel_labels(ax, texts: Sequence, obstacles: Sequence = (), points=None, pad: float = 1.5,
                 iterations: int = 300) -> list:
    """Move annotations (offset in points from their point) until no two text boxes overlap each other nor an
    `obstacles` artist (quadrant counts, the legend), keeping them inside the axes; a label that still overlaps
    after `iterations` is hidden, later labels first, so that what is drawn never overlaps. Labels are also
    pushed off the markers at `points` (data coordinates, n × 2) where they can be. A thin leader line joins a
    moved label to its point. Returns the labels left visible.

    A small stand-in for adjustText (not installed here): boxes are pushed apart along the axis of least
    overlap, in display pixels, then converted back to offset points.
    """
    if not texts:
        return []
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts], dtype=float)
    boxes[:, :2] -= pad
    boxes[:, 2:] += pad
    start = boxes.copy()
    fixed = [o.get_window_extent(renderer).extents for o in obstacles if o is not None and o.get_visible()]
    soft = []
    if points is not None and len(points):
        xy = ax.transData.transform(np.asarray(points, dtype=float))
        r = 3.0 * fig.dpi / 72.0
        soft = [np.array([x - r, y - r, x + r, y + r]) for x, y in xy]
    for sweep in range(iterations):
        moved = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                dx, dy = _overlap(boxes[i], boxes[j])
                if dx > 0 and dy > 0:
                    moved = True
                    ci, cj = boxes[i].reshape(2, 2).mean(0), boxes[j].reshape(2, 2).mean(0)
                    if dx < dy:
                        step = (dx / 2 + 0.5) * (1 if ci[0] >= cj[0] else -1)
                        boxes[i, [0, 2]] += step
                        boxes[j, [0, 2]] -= step
                    else:
                        step = (dy / 2 + 0.5) * (1 if ci[1] >= cj[1] else -1)
                        boxes[i, [1, 3]] += step
                        boxes[j, [1, 3]] -= step
            for f in fixed + (soft if sweep < iterations // 2 else []):
                dx, dy = _overlap(boxes[i], f)
                if dx > 0 and dy > 0:
                    moved = True
                    ci, cf = boxes[i].reshape(2, 2).mean(0), np.reshape(f, (2, 2)).mean(0)
                    if dx < dy:
                        boxes[i, [0, 2]] += (dx + 0.5) * (1 if ci[0] >= cf[0] else -1)
                    else:
                        boxes[i, [1, 3]] += (dy + 0.5) * (1 if ci[1] >= cf[1] else -1)
            # keep inside the axes
            shift_x = max(0.0, inside.x0 - boxes[i, 0]) - max(0.0, boxes[i, 2] - inside.x1)
            shift_y = max(0.0, inside.y0 - boxes[i, 1]) - max(0.0, boxes[i, 3] - inside.y1)
            boxes[i, [0, 2]] += shift_x
            boxes[i, [1, 3]] += shift_y
        if not moved:
            break
    to_points = 72.0 / fig.dpi
    texts = list(texts)
    for k, (t, b, b0) in enumerate(zip(texts, boxes, start, strict=True)):
        ox, oy = t.xyann
        sx, sy = (b[:2] - b0[:2]) * to_points
        if np.hypot(sx, sy) > 6:  # far from its point: redraw with a leader line
            texts[k] = ax.annotate(t.get_text(), t.xy, xytext=(ox + sx, oy + sy), textcoords="offset points",
                                   fontsize=t.get_fontsize(), zorder=t.get_zorder(),
                                   arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.4, "shrinkA": 0,
                                               "shrinkB": 2})
            t.remove()
        else:
            t.xyann = (ox + sx, oy + sy)
    # whatever still overlaps is hidden (the least extreme labels come last in `texts`)
    visible: list = []
    drawn = [np.asarray(f) for f in fixed]
    for t, b in zip(texts, boxes, strict=True):
        if any(min(_overlap(b, d)) > 0 for d in drawn):
            t.set_visible(False)
            continue
        drawn.append(b)
        visible.append(t)
    return visible


# ----------------------------------------------------------------------------- Moran scatter
def moran_scatter(y: np.ndarray, w, labels: Sequence[str] | None = None, title: str = "", path=None,
                  max_labels: int = 40, ax=None, lang: str | None = None, variable: str | None = None,
                  registry=None):
    """Moran scatter plot: standardised value z against its spatial lag Wz, quadrant lines at 0, and the
    regression line through the origin, whose slope z'Wz / z'z is Moran's I for a row-standardised W.

    Labels every point when there are at most `max_labels` units, otherwise the most extreme ones; labels
    are repelled so that none overlaps another, a quadrant count or the legend (`repel_labels`). Axes are
    in Chinese when `lang` is 'zh' or the title is Chinese, naming `variable` by its registry label.
    """
    from geo.weights import SpatialWeights

    use_cjk_font()
    lang = resolve_lang(lang, title)
    m = w.matrix if isinstance(w, SpatialWeights) else SpatialWeights.from_libpysal(w).matrix
    y = np.asarray(y, dtype=float)
    z = (y - y.mean()) / y.std()
    lag = m @ z
    n = len(z)
    s0 = float(m.sum())
    slope = float(z @ lag / (z @ z))
    moran_i = n / s0 * slope
    labels = list(labels) if labels is not None else []
    name = variable_label(variable, lang, registry, unit=False) if variable else None
    xlabel = word("z", lang) if not name else (f"{name}（标准化值 z）" if lang == "zh" else f"{name} (z)")
    ylabel = word("lag", lang) if not name else (f"{name}的空间滞后 W·z" if lang == "zh" else f"W·z of {name}")
    ensure_renderable(title, xlabel, ylabel, *labels[: max(max_labels, 0) or None])
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 5.6))
    quadrant = np.where(z > 0, np.where(lag > 0, "HH", "HL"), np.where(lag > 0, "LH", "LL"))
    counts = {q: int((quadrant == q).sum()) for q in ("HH", "LH", "LL", "HL")}
    for q in counts:
        sel = quadrant == q
        ax.scatter(z[sel], lag[sel], s=18 if n > 200 else 30, color=CLUSTER_COLOURS[q], edgecolor="#555555",
                   linewidth=0.3, alpha=0.85)
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.axvline(0, color="#888888", linewidth=0.8)
    xs = np.array([z.min(), z.max()])
    ax.plot(xs, slope * xs, color="black", linewidth=1.2, label=f"{word('slope', lang)} = {slope:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\nMoran's I = {moran_i:.4f} (n = {n})" if title else f"Moran's I = {moran_i:.4f}")
    legend = ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.06), fontsize=7, frameon=False)
    corners = [ax.text(hx, hy, f"{q} ({counts[q]})", transform=ax.transAxes, ha="right" if hx > 0.5 else "left",
                       va="top" if hy > 0.5 else "bottom", fontsize=9, color="#555555")
               for q, (hx, hy) in (("HH", (0.98, 0.98)), ("LH", (0.02, 0.98)), ("LL", (0.02, 0.02)),
                                   ("HL", (0.98, 0.02)))]
    if labels:
        order = np.argsort(-(np.abs(z) + np.abs(lag)))  # most extreme first: they keep their label
        pick = order if n <= max_labels else order[:max_labels]
        texts = [ax.annotate(short_name(labels[i]), (z[i], lag[i]), fontsize=7, xytext=(2, 2),
                             textcoords="offset points", zorder=4) for i in pick]
        repel_labels(ax, texts, obstacles=[*corners, legend], points=np.column_stack([z, lag]))
    save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------- maps
def _prepare_map(gdf):
    """A map over China (geographic coordinates): completed with Taiwan, Hong Kong, Macao and, at city level,
    the province-administered units when the frame is national, and projected to the Albers equal-area conic
    for China (metres); see analyses.china_map. Returns (gdf to draw, ChinaMap or None for other maps)."""
    from analyses.china_map import prepare

    china = prepare(gdf)
    return (china.gdf, china) if china is not None else (gdf, None)


def _frame_mainland(ax, china, plot_fn, lang: str = "zh"):
    """Zoom `ax` to the main frame and draw the South China Sea inset (islands and dashed line, with
    `plot_fn`), the north arrow, the scale bar and the map-review note; nothing for maps outside China."""
    if china is None:
        return None
    from analyses.china_map import frame

    return frame(ax, china, plot_fn, lang)


def _legend_place(china) -> dict:
    """Lower left inside a national map (the Indian Ocean side) or any map outside China; right of the frame
    on a map of a few provinces, whose corners are land."""
    if china is not None and not china.national:
        return {"loc": "center left", "bbox_to_anchor": (1.01, 0.5)}
    return {"loc": "lower left"}


def _add_legend_entries(ax, handles: list, place: dict | None = None) -> None:
    """Append patches to the legend geopandas drew, keeping its title and `place`."""
    legend = ax.get_legend()
    if legend is None or not handles:
        return
    old = list(legend.legend_handles)
    texts = [t.get_text() for t in legend.get_texts()]
    title = legend.get_title().get_text()
    ax.legend(handles=old + handles, labels=texts + [h.get_label() for h in handles], fontsize=7, frameon=False,
              title=title or None, title_fontsize=8, **(place or {"loc": "lower left"}))


def _province_administered_patch(lang: str, n: int):
    from matplotlib.patches import Patch

    from analyses.china_map import words

    return Patch(facecolor=PROVINCE_ADMINISTERED_COLOUR, edgecolor="#999999", hatch="....",
                 label=f"{words('province_administered', lang)} ({n})")


def lisa_cluster_map(gdf, title: str = "", path=None, cluster_column: str = "cluster", ax=None,
                     lang: str | None = None):
    """LISA cluster map: HH red, LL blue, LH light blue, HL orange, not significant grey, islands hatched.
    Legend words follow `lang` (None: bilingual 'HH 高-高 … 不显著 n.s.', as before; 'zh' or 'en': one language;
    a Chinese title with lang None gives 'zh')."""
    use_cjk_font()
    names = CLUSTER_LABELS if lang is None and not has_chinese(title) else \
        CLUSTER_LABELS_LANG[resolve_lang(lang, title)]
    words_lang = resolve_lang(lang, title)
    ensure_renderable(title, *names.values())
    gdf, china = _prepare_map(gdf)
    gdf = gdf.assign(_cluster=gdf[cluster_column].fillna("no data"))
    if china is not None:
        gdf.loc[china.without_value(cluster_column).to_numpy(), "_cluster"] = "province_administered"
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 6.4))

    def draw(a):
        for cl, colour in {**CLUSTER_COLOURS, "no data": "#ffffff",
                           "province_administered": PROVINCE_ADMINISTERED_COLOUR}.items():
            part = gdf[gdf["_cluster"] == cl]
            if not part.empty:
                part.plot(ax=a, color=colour, edgecolor="#999999", linewidth=0.15,
                          hatch="///" if cl in ("island", "no data") else "...." if cl == "province_administered"
                          else None)

    draw(ax)
    _frame_mainland(ax, china, draw, words_lang)
    from matplotlib.patches import Patch

    counts = gdf["_cluster"].value_counts()
    handles = [Patch(facecolor=CLUSTER_COLOURS[c], edgecolor="#999999", label=f"{names[c]} ({counts[c]})")
               for c in CLUSTER_COLOURS if c in counts]
    if "no data" in counts:  # units without a value stay visible in the legend, never unexplained white holes
        handles.append(Patch(facecolor="#ffffff", edgecolor="#999999", hatch="///",
                             label=f"{names.get('no data', '无数据 no data')} ({counts['no data']})"))
    if "province_administered" in counts:
        handles.append(_province_administered_patch(words_lang, counts["province_administered"]))
    ax.legend(handles=handles, fontsize=8, frameon=False, **_legend_place(china))
    ax.set_axis_off()
    ax.set_title(title)
    save_figure(fig, path)
    return fig


def choropleth(gdf, column: str, scheme: str = "quantiles", k: int = 5, title: str = "", path=None,
               cmap: str = "YlOrRd", ax=None, legend_title: str | None = None, lang: str | None = None,
               bins: Sequence[float] | None = None, registry=None, level: str | None = None,
               decimals: int | None = None):
    """Choropleth of `column` classified with mapclassify (`scheme`: quantiles, equal_interval,
    natural_breaks, fisher_jenks, std_mean, …, as geopandas names them; `bins` gives your own upper class
    edges, scheme user_defined); missing values hatched.

    The legend reads '1,200 – 3,400' (thousands separators, `decimals` enough to tell the edges apart) under
    the variable's registry label and unit (地区生产总值（亿元） when `lang` is 'zh' or the title is Chinese).

        choropleth(gdf, "gdp", scheme="natural_breaks", title="2022 年地区生产总值", path="gdp.png")
    """
    import warnings

    import mapclassify

    warnings.filterwarnings("ignore", message="Numba not installed")
    use_cjk_font()
    lang = resolve_lang(lang, title, legend_title)
    legend_title = legend_title or variable_label(column, lang, registry, level)
    ensure_renderable(title, legend_title)
    if column not in gdf.columns:
        raise ValueError(f"no column {column!r} to map")
    values = pd.to_numeric(gdf[column], errors="coerce")
    kwds: dict = {"k": k}
    if bins is not None:
        scheme, kwds = "user_defined", {"bins": sorted(float(b) for b in bins)}
    elif values.notna().sum() < k:
        raise ValueError(f"{column}: {int(values.notna().sum())} values cannot fill {k} classes")
    try:
        binning = mapclassify.classify(values.dropna().to_numpy(), scheme, **kwds)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"classification {scheme!r}: {exc}") from exc
    labels = class_labels(float(values.min()), binning.bins, decimals)
    gdf, china = _prepare_map(gdf.assign(**{column: values}))
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 6.4))
    no_data = word("no_data", lang)
    apart = china.without_value(column) if china is not None else pd.Series(False, index=gdf.index)
    main, province_administered = gdf[~apart.to_numpy()], gdf[apart.to_numpy()]

    def draw(a, legend=False):
        main.plot(column=column, ax=a, scheme=scheme, cmap=cmap, edgecolor="#999999", linewidth=0.15,
                  legend=legend, classification_kwds=dict(kwds),
                  missing_kwds={"color": "#ffffff", "hatch": "///", "edgecolor": "#bbbbbb", "label": no_data},
                  legend_kwds={**_legend_place(china), "fontsize": 7, "frameon": False, "title": legend_title,
                               "title_fontsize": 8, "labels": labels} if legend else None)
        if not province_administered.empty:
            province_administered.plot(ax=a, color=PROVINCE_ADMINISTERED_COLOUR, edgecolor="#999999",
                                       linewidth=0.15, hatch="....")

    draw(ax, legend=True)
    _frame_mainland(ax, china, draw, lang)
    if not province_administered.empty:
        _add_legend_entries(ax, [_province_administered_patch(lang, len(province_administered))],
                            _legend_place(china))
    ax.set_axis_off()
    if not title:
        title = (f"{variable_label(column, lang, registry, level, unit=False)}（{scheme}，k = {len(labels)}）"
                 if lang == "zh" else f"{column} ({scheme}, k = {len(labels)})")
    ax.set_title(title)
    save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------- over the years
def moran_over_years(table: pd.DataFrame, path=None, alpha: float = 0.05, title: str = "", ax=None,
                     lang: str | None = None):
    """Moran's I by year (one line per indicator) with E[I] dashed; filled markers where p ≤ alpha
    (permutation p if computed, else the normal approximation). Axis words follow `lang` / the title."""
    use_cjk_font()
    lang = resolve_lang(lang, title)
    ensure_renderable(title, *table["indicator"].astype(str).unique())
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4))
    for name, part in table.sort_values("year").groupby("indicator", sort=False):
        p = part["p_sim"] if part["p_sim"].notna().any() else part["p_norm"]
        line = ax.plot(part["year"], part["value"], marker="", linewidth=1.4, label=str(name))[0]
        sig = (p <= alpha).to_numpy()
        ax.scatter(part["year"][sig], part["value"][sig], color=line.get_color(), s=28, zorder=3)
        ax.scatter(part["year"][~sig], part["value"][~sig], facecolor="white", edgecolor=line.get_color(), s=28,
                   zorder=3)
    if len(table):
        ax.plot(table.sort_values("year")["year"], table.sort_values("year")["expected"], linestyle="--",
                color="#888888", linewidth=0.9, label=word("ei", lang))
    ax.set_xlabel(word("year", lang))
    ax.set_ylabel("Moran's I")
    ax.set_title(title or word("moran_years", lang).format(alpha=alpha))
    ax.legend(fontsize=8, frameon=False)
    ax.xaxis.get_major_locator().set_params(integer=True)
    save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------- event study
def event_time_labels(rel_times: Sequence[int], window: tuple[int, int]) -> list[str]:
    """Tick labels of relative years, the binned end points marked: −5 → '≤−5', 5 → '≥5' for window (−5, 5)."""
    low, high = window

    def one(k: int) -> str:
        text = f"{k}".replace("-", "−")
        return f"≤{text}" if k == low else f"≥{text}" if k == high else text

    return [one(int(k)) for k in rel_times]


def event_study_plot(table: pd.DataFrame, window: tuple[int, int], reference: int = -1, title: str = "",
                     path=None, ax=None, lang: str | None = None):
    """Event-study coefficients (`table`: rel_time, coef, ci_low, ci_high) with 95% intervals, zero line, a
    dashed line at treatment and every relative year on the axis; the binned end points read '≤−5' / '≥5'.

        event_study_plot(result.table, result.window, result.reference, title="事件研究", path="es.png")
    """
    use_cjk_font()
    lang = resolve_lang(lang, title)
    ensure_renderable(title, word("rel_time", lang), word("coef", lang))
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4))
    t = table.sort_values("rel_time")
    ax.errorbar(t["rel_time"], t["coef"], yerr=[t["coef"] - t["ci_low"], t["ci_high"] - t["coef"]], fmt="o",
                color="#1f4e79", capsize=3, label=word("ci", lang))
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(reference + 0.5, color="firebrick", ls="--", lw=0.8)
    ticks = list(range(int(window[0]), int(window[1]) + 1))
    ax.set_xticks(ticks)
    ax.set_xticklabels(event_time_labels(ticks, window))
    ax.set_xlabel(word("rel_time", lang))
    ax.set_ylabel(word("coef", lang))
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
