"""Pictures of spatial statistics: Moran scatter plot, LISA cluster map, choropleth, Moran's I over years.

Every function draws on a new figure, writes it when given `path` (.png or .svg, by suffix) and returns
the figure. Chinese place names need a CJK font: `use_cjk_font()` finds one installed on the system
(`make install` installs Debian's fonts-wqy-microhei) and puts it behind matplotlib's default font, so
Latin text keeps DejaVu Sans and Chinese characters fall back to the CJK font glyph by glyph;
`missing_glyphs(text)` says which characters no configured font can draw, and drawing refuses to
produce boxes: it raises `FontError` naming the characters and what to install.
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
CLUSTER_LABELS = {"HH": "HH 高-高", "LH": "LH 低-高", "LL": "LL 低-低", "HL": "HL 高-低", "ns": "不显著 n.s.",
                  "island": "无邻居 island"}


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


def save_figure(fig, path: str | Path | None) -> Path | None:
    """Write `fig` as .png/.svg/.pdf at 150 dpi (folders created); None writes nothing."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"{path}: write .png, .svg or .pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


def short_name(name: str) -> str:
    """A compact label: 广西壮族自治区 → 广西, 湖北省 → 湖北, 武汉市 → 武汉 (other names unchanged)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


# ----------------------------------------------------------------------------- Moran scatter
def moran_scatter(y: np.ndarray, w, labels: Sequence[str] | None = None, title: str = "", path=None,
                  max_labels: int = 40, ax=None):
    """Moran scatter plot: standardised value z against its spatial lag Wz, quadrant lines at 0, and the
    regression line through the origin, whose slope z'Wz / z'z is Moran's I for a row-standardised W.

    Labels every point when there are at most `max_labels` units, otherwise the most extreme ones.
    """
    from geo.weights import SpatialWeights

    use_cjk_font()
    m = w.matrix if isinstance(w, SpatialWeights) else SpatialWeights.from_libpysal(w).matrix
    y = np.asarray(y, dtype=float)
    z = (y - y.mean()) / y.std()
    lag = m @ z
    n = len(z)
    s0 = float(m.sum())
    slope = float(z @ lag / (z @ z))
    moran_i = n / s0 * slope
    labels = list(labels) if labels is not None else []
    ensure_renderable(title, *labels[: max(max_labels, 0) or None])
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
    ax.plot(xs, slope * xs, color="black", linewidth=1.2, label=f"slope = {slope:.3f}")
    if labels:
        pick = range(n) if n <= max_labels else np.argsort(-(np.abs(z) + np.abs(lag)))[:max_labels]
        for i in pick:
            ax.annotate(short_name(labels[i]), (z[i], lag[i]), fontsize=7, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel("z (standardised value)")
    ax.set_ylabel("W·z (spatial lag)")
    ax.set_title(f"{title}\nMoran's I = {moran_i:.4f} (n = {n})" if title else f"Moran's I = {moran_i:.4f}")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.06), fontsize=7, frameon=False)
    for q, (hx, hy) in (("HH", (0.98, 0.98)), ("LH", (0.02, 0.98)), ("LL", (0.02, 0.02)), ("HL", (0.98, 0.02))):
        ax.text(hx, hy, f"{q} ({counts[q]})", transform=ax.transAxes, ha="right" if hx > 0.5 else "left",
                va="top" if hy > 0.5 else "bottom", fontsize=9, color="#555555")
    save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------- maps
def _prepare_map(gdf):
    """Project to the Albers equal-area conic for China (metres) and find the South China Sea units."""
    from geo.boundaries import ALBERS_CHINA

    if gdf.crs is not None and gdf.crs.is_geographic:
        bounds = gdf.total_bounds
        china = 70 < bounds[0] < 140 and 0 < bounds[1] < 60
        if china:
            return gdf.to_crs(ALBERS_CHINA), True
    return gdf, False


def _map_extent(gdf, china: bool):
    """Mainland extent without the far South China Sea islands (they go into an inset)."""
    if not china or "code" not in gdf.columns:
        return None
    far = gdf["code"].astype(str).str.startswith("4603")  # 三沙市 and its districts
    main = gdf[~far] if (~far).any() else gdf
    return main.total_bounds, gdf[far]


def _frame_mainland(ax, gdf, china: bool, plot_fn) -> None:
    """Zoom `ax` to the mainland and draw the far islands into an inset with `plot_fn`."""
    extent = _map_extent(gdf, china)
    if extent is not None:
        (minx, miny, maxx, maxy), far = extent
        ax.set_xlim(minx, maxx)
        ax.set_ylim(miny, maxy)
        _draw_inset(ax, far, plot_fn)


def _draw_inset(ax, far, plot_fn) -> None:
    if far is None or far.empty:
        return
    inset = ax.inset_axes([1.0, 0.0, 0.16, 0.26])
    plot_fn(inset)
    minx, miny, maxx, maxy = far.total_bounds
    pad = 0.05 * max(maxx - minx, maxy - miny)
    inset.set_xlim(minx - pad, maxx + pad)
    inset.set_ylim(miny - pad, maxy + pad)
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")
    inset.set_ylabel("")
    inset.set_title("南海诸岛", fontsize=6)


def lisa_cluster_map(gdf, title: str = "", path=None, cluster_column: str = "cluster", ax=None):
    """LISA cluster map: HH red, LL blue, LH light blue, HL orange, not significant grey, islands hatched."""
    use_cjk_font()
    ensure_renderable(title, *CLUSTER_LABELS.values())
    gdf, china = _prepare_map(gdf)
    gdf = gdf.assign(_cluster=gdf[cluster_column].fillna("no data"))
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 6.4))

    def draw(a):
        for cl, colour in {**CLUSTER_COLOURS, "no data": "#ffffff"}.items():
            part = gdf[gdf["_cluster"] == cl]
            if not part.empty:
                part.plot(ax=a, color=colour, edgecolor="#999999", linewidth=0.15,
                          hatch="///" if cl in ("island", "no data") else None)

    draw(ax)
    _frame_mainland(ax, gdf, china, draw)
    from matplotlib.patches import Patch

    counts = gdf["_cluster"].value_counts()
    handles = [Patch(facecolor=CLUSTER_COLOURS[c], edgecolor="#999999", label=f"{CLUSTER_LABELS[c]} ({counts[c]})")
               for c in CLUSTER_COLOURS if c in counts]
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    ax.set_axis_off()
    ax.set_title(title)
    save_figure(fig, path)
    return fig


def choropleth(gdf, column: str, scheme: str = "quantiles", k: int = 5, title: str = "", path=None,
               cmap: str = "YlOrRd", ax=None, legend_title: str | None = None):
    """Choropleth of `column` classified with mapclassify (`scheme`: quantiles, equal_interval,
    natural_breaks, fisher_jenks, std_mean, …, as geopandas names them); missing values hatched."""
    import warnings

    import mapclassify

    warnings.filterwarnings("ignore", message="Numba not installed")
    use_cjk_font()
    ensure_renderable(title, legend_title or column)
    if column not in gdf.columns:
        raise ValueError(f"no column {column!r} to map")
    values = pd.to_numeric(gdf[column], errors="coerce")
    if values.notna().sum() < k:
        raise ValueError(f"{column}: {int(values.notna().sum())} values cannot fill {k} classes")
    try:
        mapclassify.classify(values.dropna().to_numpy(), scheme, k=k)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"classification {scheme!r}: {exc}") from exc
    gdf, china = _prepare_map(gdf.assign(**{column: values}))
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 6.4))

    def draw(a, legend=False):
        gdf.plot(column=column, ax=a, scheme=scheme, k=k, cmap=cmap, edgecolor="#999999", linewidth=0.15,
                 legend=legend, missing_kwds={"color": "#ffffff", "hatch": "///", "edgecolor": "#bbbbbb",
                                              "label": "no data"},
                 legend_kwds={"loc": "lower left", "fontsize": 7, "frameon": False,
                              "title": legend_title or column, "fmt": "{:.4g}"} if legend else None)

    draw(ax, legend=True)
    _frame_mainland(ax, gdf, china, draw)
    ax.set_axis_off()
    ax.set_title(title or f"{column} ({scheme}, k = {k})")
    save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------- over the years
def moran_over_years(table: pd.DataFrame, path=None, alpha: float = 0.05, title: str = "", ax=None):
    """Moran's I by year (one line per indicator) with E[I] dashed; filled markers where p ≤ alpha
    (permutation p if computed, else the normal approximation)."""
    use_cjk_font()
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
                color="#888888", linewidth=0.9, label="E[I] = −1/(n−1)")
    ax.set_xlabel("year")
    ax.set_ylabel("Moran's I")
    ax.set_title(title or f"Moran's I by year (filled: p ≤ {alpha})")
    ax.legend(fontsize=8, frameon=False)
    ax.xaxis.get_major_locator().set_params(integer=True)
    save_figure(fig, path)
    return fig
