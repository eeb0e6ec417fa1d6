"""Merchant register benchmark (not a test): look-ups over a million entries (issue 11).

    .venv/bin/python benchmarks/register.py [--entries 1000000] [--queries 200]
                                              [--baseline-queries 40] [--backends sqlite,postgresql]

For each backend it fills ``--entries`` synthetic operators (a valid credit code, a Chinese
company name, one platform shop each, their name bigrams and bigram counts) by bulk insert --
not through the importer, whose cost is per row -- into SQLite (a temporary file) and
PostgreSQL (database ``bench_register``, dropped and made again), then times
``workflow.register.lookup`` by shop URL (pasted with tracking parameters, ``www.``, ``http``),
credit code, and name (a substring of four characters from the middle of a name, and a
prefix), p50/p95 over ``--queries`` queries each, beside the baseline: the same question as a
plain ``LIKE '%q%'`` scan (``--baseline-queries`` of each). Target: <= 50 ms per look-up.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from storage.db import make_engine, make_session_factory, migrate  # noqa: E402
from workflow.register.lookup import lookup  # noqa: E402
from workflow.register.names import grams, name_key  # noqa: E402
from workflow.register.urls import shop_key  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench_register"
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CITIES = [
    "北京市",
    "上海市",
    "广州市",
    "深圳市",
    "杭州市",
    "南京市",
    "苏州市",
    "成都市",
    "武汉市",
    "西安市",
    "长沙市",
    "郑州市",
    "青岛市",
    "厦门市",
    "宁波市",
    "合肥市",
    "福州市",
    "济南市",
    "昆明市",
    "沈阳市",
    "天津市",
    "重庆市",
    "东莞市",
    "佛山市",
]
BRAND = (
    "华美达信诚恒远鑫源泰和瑞丰博越嘉禾德润金辉永盛宏图明珠天成海纳百川汇通优品乐购星辰"
    "万象云端锦绣东方南山北斗青松翠竹春晖秋实朗月清风玉兰紫荆银河彩虹新锐卓越精诚启航"
    "聚福安康富贵吉祥如意和谐创想智慧蓝海红日白鹭黄鹤绿洲金桥银杏铁塔石榴木棉水晶火炬"
)
TRADES = [
    "网络科技",
    "电子商务",
    "贸易",
    "服饰",
    "食品",
    "日用品",
    "化妆品",
    "母婴用品",
    "家居",
    "数码科技",
    "文化传媒",
    "农产品",
    "茶业",
    "酒业",
    "保健品",
    "珠宝",
    "鞋业",
    "箱包",
    "玩具",
    "家电",
]
FORMS = ["有限公司", "有限责任公司", "商贸有限公司", "商行", "经营部"]
PLATFORMS = ("淘宝", "京东", "拼多多")


def credit_code(n: int) -> str:
    base = f"9{1 + n % 9}{n % 1000000:06d}{n:09d}"[:17]
    total = sum(_ALPHABET.index(c) * w for c, w in zip(base, _WEIGHTS, strict=True))
    return base + _ALPHABET[(31 - total % 31) % 31]


def shop_url(n: int) -> str:
    kind = n % 3
    if kind == 0:
        return f"https://shop{n}.taobao.com/"
    if kind == 1:
        return f"https://mall.jd.com/index-{n}.html"
    return f"https://mobile.yangkeduo.com/mall_page.html?mall_id={n}"


def company(rng: random.Random) -> str:
    brand = "".join(rng.choice(BRAND) for _ in range(rng.choice((2, 2, 3, 4))))
    return rng.choice(CITIES) + brand + rng.choice(TRADES) + rng.choice(FORMS)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fill(engine: sa.Engine, n: int, seed: int = 11) -> tuple[list[str], float]:
    """Bulk-insert ``n`` entries with shops, bigrams and bigram counts; returns the names and
    the seconds taken."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    names = [company(rng) for _ in range(n)]
    now = datetime.now(UTC)
    postings: dict[str, array[int]] = {}
    for i, name in enumerate(names, 1):
        for g in grams(name_key(name)):
            postings.setdefault(g, array("i")).append(i)
    dialect = engine.dialect.name

    def entries() -> Iterator[tuple[object, ...]]:
        for i, name in enumerate(names, 1):
            yield (
                i,
                credit_code(i),
                name,
                name_key(name),
                "张三",
                "某市某区某路1号",
                "[]",
                now,
                now,
            )

    def shops() -> Iterator[tuple[object, ...]]:
        for i in range(1, n + 1):
            url = shop_url(i)
            key = shop_key(url)
            yield (i, i, key.platform, url, key.key, key.shop_id)

    def gram_rows() -> Iterator[tuple[object, ...]]:
        for g in sorted(postings):
            for entry_id in postings[g]:
                yield (g, entry_id)

    counts = [(g, len(ids)) for g, ids in sorted(postings.items())]
    tables = {
        "register_entries": (
            "id, credit_code, name, name_key, legal_representative, address, licences, "
            "created_at, updated_at",
            entries,
        ),
        "register_shops": ("id, entry_id, platform, shop_url, url_key, shop_id", shops),
        "register_name_grams": ("gram, entry_id", gram_rows),
        "register_gram_counts": ("gram, entries", lambda: iter(counts)),
    }
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if dialect == "sqlite":
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("BEGIN")  # the service's connections autocommit outside BEGIN
            for table, (cols, rows) in tables.items():
                marks = ", ".join("?" for _ in cols.split(","))
                it = rows()
                while True:
                    chunk = [
                        tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in r)
                        for r in _take(it, 50_000)
                    ]
                    if not chunk:
                        break
                    cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", chunk)
            raw.commit()
            cur.execute("ANALYZE")
        else:
            for table, (cols, rows) in tables.items():
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for r in rows():
                        copy.write_row(r)
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    return names, time.perf_counter() - t0


def _take(it: Iterator[tuple[object, ...]], k: int) -> list[tuple[object, ...]]:
    out = []
    for row in it:
        out.append(row)
        if len(out) >= k:
            break
    return out


def run_backend(url: str, label: str, args: argparse.Namespace) -> dict[str, object]:
    migrate(url)
    engine = make_engine(url)
    names, seconds = fill(engine, args.entries)
    print(f"[{label}] filled {args.entries:,} entries in {seconds:.1f} s", flush=True)
    sessions = make_session_factory(engine)
    rng = random.Random(7)
    picks = [rng.randint(1, args.entries) for _ in range(args.queries)]
    pasted = [
        shop_url(i).replace("https://", rng.choice(("http://", "https://www.", "")))
        + ("&" if "?" in shop_url(i) else "?")
        + f"spm=a{i}.b&utm_source=share"
        for i in picks
    ]
    codes = [credit_code(i) for i in picks]
    subs = []
    for i in picks:
        key = name_key(names[i - 1])
        start = rng.randint(3, max(3, len(key) - 6))
        subs.append(key[start : start + 4])
    prefixes = [name_key(names[i - 1])[:5] for i in picks]
    queries = {
        "shop URL": pasted,
        "credit code": codes,
        "name substring": subs,
        "name prefix": prefixes,
    }
    baseline_sql = {
        "shop URL": (
            "SELECT entry_id FROM register_shops WHERE shop_url LIKE :q LIMIT 20",
            lambda q: "%" + q.split("//")[-1].split("?")[0].removeprefix("www.").rstrip("/") + "%",
        ),
        "credit code": (
            "SELECT id FROM register_entries WHERE credit_code LIKE :q LIMIT 20",
            lambda q: "%" + q + "%",
        ),
        "name substring": (
            "SELECT id FROM register_entries WHERE name LIKE :q LIMIT 20",
            lambda q: "%" + q + "%",
        ),
        "name prefix": (
            "SELECT id FROM register_entries WHERE name LIKE :q LIMIT 20",
            lambda q: "%" + q + "%",
        ),
    }
    results: dict[str, object] = {
        "backend": label,
        "entries": args.entries,
        "fill_s": round(seconds, 1),
    }
    with sessions() as session:
        lookup(session, pasted[0])  # warm the rules and the connection
        for kind, qs in queries.items():
            found = 0
            times = []
            for q in qs:
                t0 = time.perf_counter()
                res = lookup(session, q)
                times.append((time.perf_counter() - t0) * 1000)
                found += bool(res.matches)
            sql, pattern = baseline_sql[kind]
            base = []
            for q in qs[: args.baseline_queries]:
                t0 = time.perf_counter()
                session.execute(sa.text(sql), {"q": pattern(q)}).all()
                base.append((time.perf_counter() - t0) * 1000)
            row = {
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(_pct(times, 95), 2),
                "max_ms": round(max(times), 2),
                "found": f"{found}/{len(qs)}",
                "baseline_like_p50_ms": round(statistics.median(base), 1),
                "baseline_like_p95_ms": round(_pct(base, 95), 1),
            }
            results[kind] = row
            print(f"[{label}] {kind:15s} {json.dumps(row, ensure_ascii=False)}", flush=True)
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    out = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                out.append(run_backend(f"sqlite:///{tmp}/register.db", "sqlite", args))
        elif backend == "postgresql":
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{PG_DB}"'))
            try:
                out.append(
                    run_backend(PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB, "postgresql", args)
                )
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
                admin.dispose()
        else:
            parser.error(f"unknown backend {backend!r}")
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
