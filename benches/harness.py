"""The end-to-end benchmark harness (run it through benches/run.sh, which builds and installs).

For every data set it runs, each in its own process so that its peak RSS is its own, on the same
Parquet file in the same run: clv rfm() (quantile and ntile), the same result in plain DataFusion
SQL (GROUP BY + 3 NTILE + CASE) and DuckDB with the same SQL (threads = cores). Every variant
does one warm-up and RUNS timed runs and reports the median. Then the model fits: clv BG/NBD
against Python lifetimes on the same 100k- and 1M-customer summaries. It prints markdown tables
and, unless --no-docs, replaces the generated blocks in docs/benchmarks.md (between
`<!-- harness:NAME -->` and `<!-- /harness:NAME -->`).
"""
import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
DATA = os.path.join(ROOT, "benches", "data")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_measured(cmd):
    """Runs cmd; returns (stdout, peak RSS MiB, ok). Peak RSS from wait4 of that one child."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        log(f"  failed ({p.returncode}): {' '.join(cmd)}\n  {err.strip()[-400:]}")
        return None, usage.ru_maxrss / 1024, False
    return out.strip(), usage.ru_maxrss / 1024, True


def data_file(rows, ids, order, mean_purchases=None, time_shape="date", compression="snappy"):
    name = f"tx_{rows}"
    if ids == "string":
        name += "_str"
    if order == "sorted":
        name += "_sorted"
    if mean_purchases is not None:
        name += f"_mp{mean_purchases:g}"
    if time_shape != "date":
        name += f"_{time_shape}"
    if compression != "snappy":
        name += f"_{compression}"
    path = os.path.join(DATA, name + ".parquet")
    if not os.path.exists(path):
        cmd = [os.path.join(BIN, "clv-gen"), "--rows", str(rows), "--out", path, "--time", time_shape]
        if compression == "zstd":
            cmd.append("--zstd")
        if ids == "string":
            cmd.append("--string-ids")
        if order == "sorted":
            cmd.append("--sorted")
        if mean_purchases is not None:
            cmd += ["--mean-purchases", str(mean_purchases)]
        log(f"generating {path}")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


# clv's first two variants select the 8 columns the plain SQL returns (the same result); the
# last one is `SELECT *` (all 13 columns of rfm()).
VARIANTS = [
    ("clv rfm() quantile (default)", "rfm", 0),
    ("clv rfm() ntile", "rfm", 1),
    ("plain DataFusion SQL (GROUP BY + 3 NTILE + CASE)", "rfm", 2),
    ("DuckDB, the same SQL", "duckdb", None),
    ("clv rfm() quantile, all 13 columns", "rfm", 4),
]


def rfm_variant(kind, only, path, runs, memory_limit_mib=None):
    if kind == "cli":
        return cli_variant(path, runs)
    if kind in ("duckdb", "duckdb-copy"):
        cmd = [sys.executable, os.path.join(ROOT, "benches", "rfm_duckdb.py"), path, str(runs)]
        if memory_limit_mib:
            cmd.append(f"{memory_limit_mib}MB")
        if kind == "duckdb-copy":
            cmd += ["--copy", os.path.join(DATA, "out_duckdb.parquet")]
    else:
        cmd = [os.path.join(BIN, "rfm-side-by-side"), path, "--runs", str(runs), "--only", str(only)]
        if memory_limit_mib:
            cmd += ["--memory-limit-mib", str(memory_limit_mib)]
    out, rss, ok = run_measured(cmd)
    if not ok:
        return None
    n, s = out.split()[-2:]
    return {"customers": int(n), "seconds": float(s), "rss": rss}


def cli_variant(path, runs):
    """`clv rfm FILE --out out.parquet` as users run it: one process per run (after a warm-up
    run), timed from the outside (process start to exit); the median time and the median peak
    RSS of the runs."""
    out = os.path.join(DATA, "out_cli.parquet")
    cmd = [os.path.join(BIN, "clv"), "rfm", path, "--out", out]
    times, rss = [], []
    for i in range(runs + 1):
        if os.path.exists(out):
            os.remove(out)
        t = time.perf_counter()
        _, r, ok = run_measured(cmd)
        dt = time.perf_counter() - t
        if not ok:
            return None
        if i:
            times.append(dt)
            rss.append(r)
    import pyarrow.parquet as pq
    return {"customers": pq.read_metadata(out).num_rows, "seconds": statistics.median_high(times),
            "rss": statistics.median_high(rss)}


# The shapes of real transaction logs (issue 19): the time column's type, ids, row order and
# compression, with the commands users run next to DuckDB's and plain DataFusion's SQL.
SHAPES = [
    ("date", "int", "unsorted", "snappy"),
    ("ts-us", "int", "unsorted", "zstd"),
    ("ts-us-tz", "int", "unsorted", "zstd"),
    ("ts-ms", "int", "unsorted", "zstd"),
    ("ts-ms-tz", "int", "unsorted", "zstd"),
    ("ts-us", "string", "unsorted", "zstd"),
    ("ts-us", "int", "sorted", "zstd"),
]

# (name, kind, --only, the index of the DuckDB and plain DataFusion variants it is compared to)
SHAPE_VARIANTS = [
    ("`clv rfm FILE --out out.parquet` (the CLI, whole process)", "cli", None, (1, 2)),
    ("DuckDB, the same SQL, COPY TO Parquet", "duckdb-copy", None, (1, 2)),
    ("plain DataFusion SQL, COPY TO Parquet", "rfm", 5, (1, 2)),
    ("clv rfm() all columns, COPY TO Parquet", "rfm", 6, (1, 2)),
    ("clv rfm() all columns (collect)", "rfm", 4, (5, 6)),
    ("DuckDB, the same SQL (temp table)", "duckdb", None, (5, 6)),
    ("plain DataFusion SQL (collect)", "rfm", 2, (5, 6)),
]


def shapes_section(args, rows):
    out = [f"| time | ids | order | compression | variant | customers | median s ({args.runs} runs) "
           "| peak RSS MiB | time vs DuckDB / plain DF | RSS vs DuckDB / plain DF |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    shapes = [s for s in SHAPES if s[0] in args.times]
    for (t, ids, order, compression) in shapes:
        path = data_file(rows, ids, order, time_shape=t, compression=compression)
        log(f"shapes: {os.path.basename(path)}")
        res = [rfm_variant(kind, only, path, args.runs) for (_, kind, only, _) in SHAPE_VARIANTS]
        for (name, _, _, (d, p)), r in zip(SHAPE_VARIANTS, res):
            if r is None:
                out.append(f"| {t} | {ids} | {order} | {compression} | {name} | failed | | | | |")
                continue
            duck, plain = res[d], res[p]
            bold = name.startswith("`clv rfm FILE") or name.startswith("clv rfm() all columns (collect)")
            b = (lambda v: f"**{v}**") if bold else (lambda v: v)
            out.append(
                f"| {t} | {ids} | {order} | {compression} | {name} | {r['customers']:,} | {r['seconds']:.3f} "
                f"| {r['rss']:.0f} | {b(fmt_ratio(r['seconds'], duck and duck['seconds']))} / "
                f"{fmt_ratio(r['seconds'], plain and plain['seconds'])} "
                f"| {b(fmt_ratio(r['rss'], duck and duck['rss']))} / {fmt_ratio(r['rss'], plain and plain['rss'])} |"
            )
    return "\n".join(out)


def repeats_at(args, rows):
    """The processes per variant at `rows` rows (`--repeats`: one value, or one per `--rows`
    size)."""
    return args.repeats[0] if len(args.repeats) == 1 else args.repeats[args.rows.index(rows)]


def repeated_variants(path, rows, args):
    """Every variant on `path` (`rows` rows), each in `repeats_at(args, rows)` processes of its
    own, the processes of the variants interleaved (A B C, A B C, ...) so that a slower spell of
    the machine hits them alike. Per variant: the median of the processes' median times and of their peak RSS."""
    per = [[] for _ in VARIANTS]
    for _ in range(repeats_at(args, rows)):
        for i, (_, kind, only) in enumerate(VARIANTS):
            per[i].append(rfm_variant(kind, only, path, args.runs))
    res = []
    for results in per:
        if any(r is None for r in results):
            res.append(None)
            continue
        res.append({
            "customers": results[0]["customers"],
            "seconds": statistics.median_high([r["seconds"] for r in results]),
            "rss": statistics.median_high([r["rss"] for r in results]),
        })
    return res


def fmt_ratio(a, b):
    return f"{a / b:.2f}" if a and b else "–"


def rfm_section(args):
    """One table per size (a block `rfm-ROWS` each), and the time-against-rows table."""
    tables = {}
    growth = {}
    def header(rows):
        k = repeats_at(args, rows)
        processes = f", {k} processes" if k > 1 else ""
        return (
            f"| ids | order | variant | customers | median s ({args.runs} runs{processes}) "
            f"| peak RSS MiB{' (median)' if k > 1 else ''} "
            "| time vs plain DF / DuckDB | RSS vs plain DF / DuckDB |\n|---|---|---|---|---|---|---|---|"
        )
    for rows in args.rows:
        rows_out = []
        for ids in args.ids:
            for order in args.order:
                path = data_file(rows, ids, order)
                log(f"rfm: {os.path.basename(path)}")
                res = repeated_variants(path, rows, args)
                plain, duck = res[2], res[3]
                for (name, _, _), r in zip(VARIANTS, res):
                    if r is None:
                        rows_out.append(f"| {ids} | {order} | {name} | failed | | | | |")
                        continue
                    vs_plain = fmt_ratio(r["seconds"], plain and plain["seconds"])
                    vs_duck = fmt_ratio(r["seconds"], duck and duck["seconds"])
                    mem_plain = fmt_ratio(r["rss"], plain and plain["rss"])
                    mem_duck = fmt_ratio(r["rss"], duck and duck["rss"])
                    bold = name.startswith("clv rfm() quantile (default)")
                    b = (lambda v: f"**{v}**") if bold else (lambda v: v)
                    rows_out.append(
                        f"| {ids} | {order} | {name} | {r['customers']:,} | {r['seconds']:.3f} "
                        f"| {r['rss']:.0f} | {b(vs_plain)} / {b(vs_duck)} | {mem_plain} / {mem_duck} |"
                    )
                    if ids == "int" and order == "unsorted":
                        growth.setdefault(name, {})[rows] = r["seconds"]
        tables[rows] = header(rows) + "\n" + "\n".join(rows_out)
    growth_table = ""
    if len(args.rows) >= 3 and growth:
        sizes = sorted(args.rows)
        g = ["| variant | " + " | ".join(f"{r:,} rows s" for r in sizes) + " | s per 10M rows |",
             "|---|" + "---|" * (len(sizes) + 1)]
        for name, by_rows in growth.items():
            cells = [f"{by_rows[r]:.3f}" if r in by_rows else "–" for r in sizes]
            per = " / ".join(f"{by_rows[r] / r * 1e7:.2f}" for r in sizes if r in by_rows)
            g.append(f"| {name} | " + " | ".join(cells) + f" | {per} |")
        growth_table = "\n".join(g)
    return tables, growth_table


def customers_section(args):
    """Time against customers at fixed rows: the generator's mean purchases per customer varies."""
    rows = args.customer_rows
    out = [f"| mean purchases | customers | clv rfm() s | plain DataFusion SQL s | DuckDB s | clv vs plain / DuckDB |",
           "|---|---|---|---|---|---|"]
    for mp in args.mean_purchases:
        path = data_file(rows, "int", "unsorted", mp)
        log(f"customers: {os.path.basename(path)}")
        clv = rfm_variant("rfm", 0, path, args.runs)
        plain = rfm_variant("rfm", 2, path, args.runs)
        duck = rfm_variant("duckdb", None, path, args.runs)
        s = lambda r: f"{r['seconds']:.3f}" if r else "failed"
        out.append(
            f"| {mp:g} | {clv['customers']:,} | {s(clv)} | {s(plain)} | {s(duck)} "
            f"| {fmt_ratio(clv and clv['seconds'], plain and plain['seconds'])} / "
            f"{fmt_ratio(clv and clv['seconds'], duck and duck['seconds'])} |"
        )
    return "\n".join(out)


def memory_section(args):
    rows = args.memory_rows
    path = data_file(rows, "int", "unsorted")
    out = [f"| variant | memory limit | customers | median s ({args.runs} runs) | peak RSS MiB |",
           "|---|---|---|---|---|"]
    for (name, kind, only) in [VARIANTS[0], VARIANTS[2], VARIANTS[3]]:
        log(f"memory limit {args.memory_limit_mib} MiB: {name}")
        r = rfm_variant(kind, only, path, args.runs, args.memory_limit_mib)
        if r is None:
            out.append(f"| {name} | {args.memory_limit_mib} MiB | failed (see the run's log) | | |")
        else:
            out.append(f"| {name} | {args.memory_limit_mib} MiB | {r['customers']:,} | {r['seconds']:.3f} | {r['rss']:.0f} |")
    return f"{rows:,} rows, int ids, unsorted.\n\n" + "\n".join(out)


def fits_section(args):
    out_dir = DATA
    customers = [str(c) for c in args.fit_customers]
    out, _, ok = run_measured([os.path.join(BIN, "ltv-fit-bench"), "--out-dir", out_dir, "--runs",
                               str(args.runs), "--customers", ",".join(customers)])
    if not ok:
        return "ltv-fit-bench failed"
    clv = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 9 and cells[2] == "clv BG/NBD":
            clv[cells[0]] = (float(cells[3]), cells[4:8])
    import pandas as pd
    from lifetimes import BetaGeoFitter

    rows = ["| data | customers | clv BG/NBD median s | lifetimes median s | speed-up | clv r, α, a, b | lifetimes r, α, a, b | same to 3 significant digits |",
            "|---|---|---|---|---|---|---|---|"]
    for name in ["cdnow"] + [f"sim_{c}" for c in customers]:
        d = pd.read_csv(os.path.join(out_dir, f"btyd_{name}.csv"))
        runs = args.runs if len(d) <= 100_000 else max(1, args.lifetimes_runs_1m)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            bg = BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
            times.append(time.perf_counter() - t)
        p = bg.params_
        theirs = [p["r"], p["alpha"], p["a"], p["b"]]
        mine_s, mine = clv[name]
        mine = [float(v) for v in mine]
        same = all(f"{m:.3g}" == f"{t:.3g}" for m, t in zip(mine, theirs))
        lt = statistics.median(times)
        rows.append(
            f"| {name} | {len(d):,} | {mine_s:.4f} | {lt:.3f} ({runs} runs) | **{lt / mine_s:.0f}×** "
            f"| {', '.join(f'{v:.4f}' for v in mine)} | {', '.join(f'{v:.4f}' for v in theirs)} | {'yes' if same else 'NO'} |"
        )
    scoring = "\n".join(l for l in out.splitlines() if "customers/s" in l)
    clv_table = "\n".join(l for l in out.splitlines() if l.startswith("|"))
    return ("\n".join(rows) + "\n\nclv's own fits in the same run (`ltv-fit-bench`, median of "
            f"{args.runs}):\n\n{clv_table}\n\nScoring throughput (same run):\n\n```\n{scoring}\n```")


def machine():
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    duck = subprocess.run([sys.executable, "-c", "import duckdb; print(duckdb.__version__)"],
                          capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, DuckDB {duck}")


def update_doc(blocks):
    text = open(DOC).read()
    for name, body in blocks.items():
        start, end = f"<!-- harness:{name} -->", f"<!-- /harness:{name} -->"
        new = f"{start}\n{body}\n{end}"
        if start in text:
            text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: new, text, flags=re.S)
        else:
            text += f"\n{new}\n"
    open(DOC, "w").write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(float(v)) for v in s.split(",") if v]
    ap.add_argument("--rows", type=ints, default=[1_000_000, 10_000_000, 100_000_000])
    ap.add_argument("--ids", type=lambda s: s.split(","), default=["int", "string"])
    ap.add_argument("--order", type=lambda s: s.split(","), default=["unsorted", "sorted"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeats", type=ints, default=[1],
                    help="processes per RFM variant and file, interleaved, the medians reported: "
                         "one value, or one per --rows size (e.g. 3,3,1)")
    ap.add_argument("--customer-rows", type=int, default=10_000_000)
    ap.add_argument("--mean-purchases", type=lambda s: [float(v) for v in s.split(",")], default=[110, 11, 2])
    ap.add_argument("--memory-rows", type=int, default=100_000_000)
    ap.add_argument("--memory-limit-mib", type=int, default=1024)
    ap.add_argument("--fit-customers", type=ints, default=[100_000, 1_000_000])
    ap.add_argument("--lifetimes-runs-1m", type=int, default=5)
    ap.add_argument("--shape-rows", type=ints, default=[10_000_000],
                    help="sizes of the shapes section (time types, ids, order, compression)")
    ap.add_argument("--times", type=lambda s: s.split(","), default=["date", "ts-us", "ts-us-tz", "ts-ms", "ts-ms-tz"],
                    help="the time shapes of the shapes section")
    ap.add_argument("--skip", type=lambda s: s.split(","), default=[],
                    help="sections to skip: rfm, shapes, customers, memory, fits")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args()
    os.makedirs(DATA, exist_ok=True)
    command = "benches/run.sh " + " ".join(sys.argv[1:])
    stamp = f"{datetime.date.today()} (`{command.strip()}`), {machine()}"
    blocks = {}
    if "rfm" not in args.skip:
        tables, growth = rfm_section(args)
        for rows, table in tables.items():
            blocks[f"rfm-{rows}"] = f"Run {stamp}; {rows:,} transactions.\n\n{table}"
        if growth:
            blocks["rows-growth"] = f"Run {stamp}; int ids, unsorted.\n\n{growth}"
    if "shapes" not in args.skip:
        for rows in args.shape_rows:
            blocks[f"shapes-{rows}"] = f"Run {stamp}; {rows:,} transactions.\n\n{shapes_section(args, rows)}"
    if "customers" not in args.skip:
        blocks["customers-growth"] = f"Run {stamp}; {args.customer_rows:,} rows.\n\n{customers_section(args)}"
    if "memory" not in args.skip:
        blocks["memory-limit"] = f"Run {stamp}.\n\n{memory_section(args)}"
    if "fits" not in args.skip:
        blocks["fits"] = f"Run {stamp}.\n\n{fits_section(args)}"
    for name, body in blocks.items():
        print(f"\n## {name}\n\n{body}")
    if not args.no_docs:
        update_doc(blocks)
        log(f"updated {DOC}")


if __name__ == "__main__":
    main()
