# The two commands: `make demo` builds the demo warehouse from nothing, `make test` runs every test.
# Both create .venv on first use and install the pinned dependencies (the only network step).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# No usage tracking, no downloads at run time.
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export MPLBACKEND := Agg

.PHONY: demo test lint install fonts browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# the DuckDB spatial extension comes from its wheel, never from the network
	$(BIN)/python -c "import duckdb, duckdb_extensions; duckdb_extensions.import_extension('spatial', con=duckdb.connect())"
	touch $(STAMP)

# Chinese place names in maps and plots need a CJK font (Debian's WenQuanYi Micro Hei, 1.6 MB);
# matplotlib finds it through analyses/plots.py. Installed once, as root (CI runs as root).
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; } || \
	  { echo "could not install fonts-wqy-microhei: install a CJK font (see analyses/plots.py)"; exit 1; }

# The report's browser tests (tests/e2e/test_report_browser.py) render pages in Debian's headless Chromium.
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "could not install chromium: install Debian's chromium package (the report tests need /usr/bin/chromium)"; exit 1; }

install: $(STAMP) fonts

demo: $(STAMP) fonts
	$(BIN)/geopanel demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) fonts browser lint
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf target logs data/geopanel.duckdb* data/demo
