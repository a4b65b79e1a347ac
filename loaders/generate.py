"""Synthetic credit market in the input layout (``credgraph generate``).

The model
---------
``scale`` subjects share one id space: about 35% persons (``P0000001`` ...) and
65% firms (``F0000001`` ...). Everything is drawn from
``numpy.random.Generator(PCG64)`` seeded from ``seed`` (one stream per chunk,
derived with ``SeedSequence(seed, spawn_key=(chunk,))``), so the same
``(scale, seed, fmt)`` gives byte-identical files.

* Firms have heavy-tailed sizes: ``total_assets`` is lognormal (median a few
  million, tail to tens of billions); ``equity`` is a beta-distributed fraction
  of it (always below it) and ``registered_capital`` a multiple of equity
  rounded to 10,000 (never above total assets). A few firms do not report
  their financials. Industries carry different default propensities.
* Banks are the first few firms (industry ``banking``, total assets in the
  hundreds of billions, equity 6-12% of assets). Every chunk lends from this
  fixed, small bank set with Zipf weights, so a few banks have very many
  borrowers. Banks also lend to each other.
* Corporate groups: inside each chunk some firms are holding companies
  (``investment_holding``) that own subsidiaries, which own sub-subsidiaries
  (up to four levels), with majority or full stakes; the rest of a firm's
  capital is held by persons (often its legal representative) and now and
  then by an unrelated firm. Ownership shares of one firm, former owners
  included, never sum to more than 1. A parent's balance sheet carries its
  stakes, so holdings grow with their groups.
* People: heavy-tailed "attachment" weights make some persons hold many
  roles. Every firm has exactly one active legal representative (subsidiaries
  often share the parent's), some a former one, plus directors, executives
  and supervisors in numbers growing with firm size.
* Credit: bank loans to firms (more for larger firms) and to persons,
  firm-to-firm loans (intra-group or trade credit), shareholder loans and
  interbank loans. A latent distress, driven by industry, size and shocks
  shared by guarantee circles, decides which loans go bad: most loans are
  performing or repaid, some overdue (``days_overdue`` > 0), some defaulted
  or written off, each with its ``status_on`` date.
* Guarantees: personal guarantees by legal representatives, parent-company
  guarantees, third-party firms and professional guarantee companies; plus
  explicit structures: guarantee chains, mutual guarantees (A guarantees B's
  loan and B guarantees A's, i.e. circles of 2) and guarantee circles of 3 to
  10 firms (firm i guarantees a loan of firm i+1, the last guarantees the
  first). Circles are often hit by a common shock, as real ones are.
* Blacklist: court dishonest-debtor entries on defaulters, their legal
  representatives and guarantors; tax and environmental violations (more in
  distressed and polluting firms); rare sanctions designations, spread to
  firms 50% owned by a designated subject. Some entries have expired, some
  were delisted, some have no severity (the policy default applies).

Event dates lie between 2010-01-01 and 2026-06-30 (the reporting date); only
``maturity_on`` and ``expires_on`` may lie later. ``birth_date`` and
``founded_on`` go further back, as they must.

Generation is streamed: subjects are produced in chunks of
:data:`CHUNK_SUBJECTS` with vectorised numpy and appended to the files (CSV via
pyarrow's writer, Parquet as one row group per chunk), so memory stays bounded
whatever the scale. Structures that cross chunks are limited to the bank set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from credgraph.graph.engine.arrays import BoolArray, FloatArray, IntArray
from credgraph.graph.errors import UsageError
from credgraph.loaders.layout import (
    BLACKLIST,
    FILES,
    FIRM_STATUSES,
    FIRMS,
    GUARANTEE_KINDS,
    GUARANTEES,
    LOAN_STATUSES,
    LOANS,
    OWNERSHIP,
    PERSONS,
    ROLES,
    ROLES_FILE,
    Column,
    FileSpec,
)

__all__ = ["AS_OF", "CHUNK_SUBJECTS", "START", "generate"]

Format = Literal["csv", "parquet"]

#: Subjects generated and written per chunk (bounds memory).
CHUNK_SUBJECTS = 50_000
PERSON_FRACTION = 0.35


def _day(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype(np.int64))


#: First and last day of generated events (days since 1970-01-01).
START = _day("2010-01-01")
AS_OF = _day("2026-06-30")
_BIRTH_LO, _BIRTH_HI = _day("1945-01-01"), _day("1991-12-31")
_FOUNDED_LO, _FOUNDED_HI = _day("1988-01-01"), _day("2024-12-31")

# Amount-like columns are held as integers in these units (cents, basis points,
# hundredths) so CSV text is exact fixed-point and Parquet gets float64.
_DECIMALS = {"amount": 2, "share": 4, "severity": 2}
_BP = 10_000  # one whole share in basis points

# --- vocabularies ---------------------------------------------------------------------------

_COUNTRIES = ["CN", "HK", "SG", "TW", "US", "GB", "DE", "MY"]
_COUNTRY_P = [0.80, 0.06, 0.03, 0.02, 0.03, 0.02, 0.02, 0.02]
_CHINESE_COUNTRIES = 4  # the first four use Chinese names
_CN_SURNAMES = (
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo "
    "Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang"
).split()
_CN_GIVEN = (
    "Wei Fang Min Jing Lei Jun Yan Hui Qiang Ling Jie Tao Xiaoming Xiulan Guiying Jianhua "
    "Haiyan Yong Li Na Ping Gang Hong Bo Chao Yu Hao Dan Ying Xin Peng Kai Lan Mei Rui Yi "
    "Zhen Ning Shu Wen Jianguo Guohua Lihua Zhiqiang Xiaohong"
).split()
_WEST_GIVEN = (
    "James Mary John Anna David Sarah Michael Laura Thomas Emma Peter Sophie Daniel Julia "
    "Robert Clara Paul Lena Mark Eva Jürgen Zoë Søren Chloé"
).split()
_WEST_SURNAMES = (
    "Smith Müller García Dubois Rossi Jones Brown Schmidt Novák Kowalski Jensen O'Brien "
    "Tan Lim Ng Lee Taylor Wilson Fischer Martin"
).split()

_FIRM_A = [
    "Golden", "Eastern", "Great Wall", "Sunrise", "Jade", "Harmony", "Pacific", "Silver",
    "Crimson", "Evergreen", "Prosperity", "Northern", "Southern", "Oriental", "Dragon",
    "Phoenix", "Lotus", "Summit", "Blue Sky", "Bright", "Union", "Everbright", "Fortune",
    "Heaven", "Peak", "Rising", "Ocean", "Pearl", "Tianhe", "Zhongxin", "Huaxia", "Xinda",
    "Hengtai", "Longsheng", "Ruifeng", "Jinqiao", "Baolong", "Minsheng", "Yongtai", "Dongfang",
]  # fmt: skip
_FIRM_B = [
    "River", "Mountain", "Harbour", "Bridge", "Star", "Garden", "Valley", "Lake", "Gate",
    "Tower", "Field", "Coast", "Plain", "Forest", "Crystal", "Horizon", "Century", "Era",
    "Road", "Light",
]  # fmt: skip
_FIRM_SUFFIX = ["Co. Ltd", "Co. Ltd", "Co. Ltd", "Industrial Co. Ltd", "Group Co. Ltd", "Ltd"]
_BANK_SUFFIX = ["Commercial Bank", "Rural Commercial Bank", "City Commercial Bank", "Bank"]


@dataclass(frozen=True)
class _Industry:
    name: str
    weight: float
    word: str
    distress: float  # added to the default logit
    polluting: bool = False


_INDUSTRIES = [
    _Industry("manufacturing", 0.19, "Machinery", 0.0, True),
    _Industry("construction", 0.10, "Construction", 0.5),
    _Industry("real_estate", 0.07, "Real Estate", 0.8),
    _Industry("wholesale_trade", 0.14, "Trading", 0.1),
    _Industry("retail", 0.08, "Retail", 0.0),
    _Industry("logistics", 0.06, "Logistics", 0.0),
    _Industry("agriculture", 0.05, "Agriculture", 0.1),
    _Industry("mining", 0.02, "Mining", 0.3, True),
    _Industry("energy", 0.03, "Energy", 0.0, True),
    _Industry("chemicals", 0.04, "Chemical", 0.2, True),
    _Industry("textiles", 0.05, "Textile", 0.4, True),
    _Industry("technology", 0.08, "Technology", -0.2),
    _Industry("hospitality", 0.04, "Hotel", 0.3),
    _Industry("services", 0.05, "Services", 0.0),
    # Special industries, never drawn at random:
    _Industry("investment_holding", 0.0, "Investment Holding", 0.0),
    _Industry("credit_guarantee", 0.0, "Credit Guarantee", 0.2),
    _Industry("banking", 0.0, "Bank", 0.0),
]
_N_DRAWN = 14
_HOLDING, _GUARANTEE_CO, _BANKING = 14, 15, 16
_IND_NAMES = [i.name for i in _INDUSTRIES]
_IND_WORD = [i.word for i in _INDUSTRIES]
_IND_P = np.array([i.weight for i in _INDUSTRIES[:_N_DRAWN]]) / sum(
    i.weight for i in _INDUSTRIES[:_N_DRAWN]
)
_IND_DISTRESS = np.array([i.distress for i in _INDUSTRIES])
_IND_POLLUTING = np.array([i.polluting for i in _INDUSTRIES])

_REGIONS = [
    "Zhejiang", "Jiangsu", "Guangdong", "Shandong", "Hebei", "Fujian", "Shanghai", "Beijing",
    "Sichuan", "Hubei", "Henan", "Liaoning", "Shanxi", "Inner Mongolia", "Hunan", "Anhui",
]  # fmt: skip
_REGION_W = np.array([16, 12, 14, 9, 6, 7, 6, 5, 4, 4, 4, 3, 3, 2, 3, 2], dtype=float)
_REGION_P = _REGION_W / _REGION_W.sum()
_FOREIGN_FIRM = ["HK", "SG", "US", "GB", "DE"]

_CURRENCIES = ["CNY", "USD", "HKD", "EUR"]
_CURRENCY_P = [0.90, 0.06, 0.02, 0.02]

_LISTS = ["court_dishonest_debtor", "tax_violation", "environmental", "sanctions"]
_COURT, _TAX, _ENV, _SANCTIONS = range(4)
_AUTHORITIES = [
    [
        "Supreme People's Court",
        "Hangzhou Intermediate People's Court",
        "Wenzhou Intermediate People's Court",
        "Shenzhen Intermediate People's Court",
        "Suzhou Intermediate People's Court",
        "Shanghai No. 1 Intermediate People's Court",
        "Beijing No. 2 Intermediate People's Court",
    ],
    [
        "State Taxation Administration",
        "Zhejiang Provincial Tax Service",
        "Guangdong Provincial Tax Service",
        "Jiangsu Provincial Tax Service",
    ],
    [
        "Ministry of Ecology and Environment",
        "Zhejiang Department of Ecology and Environment",
        "Hebei Department of Ecology and Environment",
    ],
    ["US Treasury OFAC", "EU Council", "UN Security Council", "UK HM Treasury OFSI"],
]
_REASONS = [
    [
        "failed to perform an effective judgment",
        "evaded enforcement by transferring assets",
        "refused to declare assets to the court",
        "obstructed enforcement with false litigation",
    ],
    ["tax evasion", "false VAT invoices", "failure to file tax returns", "export refund fraud"],
    [
        "illegal discharge of wastewater",
        "air emissions above permitted limits",
        "operating without an environmental permit",
        "falsified monitoring data",
    ],
    [
        "designated under export control regulations",
        "designated for sanctions evasion",
        "owned or controlled by a designated person",
        "designated under counter-terrorism authorities",
    ],
]
_ALL_AUTHORITIES = [a for group in _AUTHORITIES for a in group]
_ALL_REASONS = [r for group in _REASONS for r in group]
# Severity range (hundredths) per list; expiry (days) range per list, 0 = none.
_SEVERITY = [(50, 85), (25, 60), (20, 55), (85, 101)]
_EXPIRY = [(730, 1826), (1095, 1096), (365, 1096), (0, 0)]
_EXPIRY_NULL = [0.2, 0.3, 0.2, 0.95]

# Loan segments (what kind of lending a loan row comes from).
_SEG_BANK, _SEG_STRUCT, _SEG_FIRM, _SEG_PERSON, _SEG_SHAREHOLDER, _SEG_INTERBANK = range(6)
_PERFORMING, _OVERDUE, _DEFAULTED, _REPAID, _WRITTEN_OFF = (
    LOAN_STATUSES.index(s) for s in ("performing", "overdue", "defaulted", "repaid", "written_off")
)


# --- small vectorised helpers -------------------------------------------------------------


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def _i64(x: Any) -> IntArray:
    return np.asarray(x, dtype=np.int64)


def _ids(prefix: str, idx: IntArray) -> pa.Array:
    """``prefix`` + 1-based index, zero-padded to 7 digits (wider when needed)."""
    digits = pc.utf8_lpad(pa.array(idx + 1, pa.int64()).cast(pa.string()), width=7, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _take(pool: Sequence[str], idx: IntArray, null: BoolArray | None = None) -> pa.Array:
    return pa.array(list(pool), pa.string()).take(pa.array(idx, pa.int64(), mask=null))


def _join(sep: str, *parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def _fixed(values: IntArray, null: BoolArray | None, decimals: int) -> pa.Array:
    """Non-negative integers in units of 10**-decimals as exact fixed-point text."""
    s = pc.utf8_lpad(pa.array(values, pa.int64(), mask=null).cast(pa.string()), decimals + 1, "0")
    whole = pc.utf8_slice_codeunits(s, 0, -decimals)
    frac = pc.utf8_slice_codeunits(s, -decimals)
    return pc.binary_join_element_wise(whole, frac, ".")


def _uniform_days(rng: np.random.Generator, lo: IntArray, hi: IntArray) -> IntArray:
    """A day in [lo, hi] (elementwise; hi >= lo)."""
    return _i64(lo + np.floor(rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64))


class _Picker:
    """Weighted draws from a fixed population via its cumulative weights."""

    def __init__(self, weights: np.ndarray) -> None:
        self.cdf = np.cumsum(weights)
        self.n = len(weights)

    def __call__(self, rng: np.random.Generator, size: int) -> IntArray:
        if size == 0:
            return _i64(np.zeros(0))
        if self.n == 0:
            raise ValueError("empty population")
        u = rng.random(size) * self.cdf[-1]
        return _i64(np.minimum(np.searchsorted(self.cdf, u, side="right"), self.n - 1))


# --- columns and tables ---------------------------------------------------------------------

# A column of a chunk frame: ready strings, or (integer values, null mask).
_Value: TypeAlias = pa.Array | tuple[np.ndarray, BoolArray | None]
_Frame: TypeAlias = dict[str, _Value]


def _arrow_type(col: Column, fmt: Format) -> pa.DataType:
    if col.type == "date":
        return pa.date32()
    if col.type == "int":
        return pa.int64()
    if col.type in _DECIMALS:
        return pa.float64() if fmt == "parquet" else pa.string()
    return pa.string()


def _schema(spec: FileSpec, fmt: Format) -> pa.Schema:
    return pa.schema([pa.field(c.name, _arrow_type(c, fmt)) for c in spec.columns])


def _to_array(col: Column, value: _Value, fmt: Format) -> pa.Array:
    if isinstance(value, pa.Array):
        return value.cast(pa.string())
    values, null = value
    if col.type == "date":
        return pa.array(values.astype(np.int32), pa.date32(), mask=null)
    if col.type == "int":
        return pa.array(values.astype(np.int64), pa.int64(), mask=null)
    if col.type in _DECIMALS:
        d = _DECIMALS[col.type]
        if fmt == "parquet":
            return pa.array(values / 10**d, pa.float64(), mask=null)
        return _fixed(_i64(values), null, d)
    raise TypeError(f"{col.name}: strings must be given as Arrow arrays")


def _to_table(spec: FileSpec, frame: _Frame, fmt: Format) -> pa.Table:
    arrays = [_to_array(c, frame[c.name], fmt) for c in spec.columns]
    return pa.Table.from_arrays(arrays, schema=_schema(spec, fmt))


class _Writer:
    """One appendable writer per input file."""

    def __init__(self, out: Path, fmt: Format) -> None:
        self.fmt = fmt
        self.rows = {spec.name: 0 for spec in FILES}
        self._csv: dict[str, tuple[pa.NativeFile, pacsv.CSVWriter]] = {}
        self._parquet: dict[str, pq.ParquetWriter] = {}
        for spec in FILES:
            path = out / f"{spec.name}.{fmt}"
            schema = _schema(spec, fmt)
            if fmt == "csv":
                sink = pa.OSFile(str(path), "wb")
                # pyarrow quotes header names; write a plain header ourselves.
                sink.write((",".join(spec.column_names) + "\n").encode())
                opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
                self._csv[spec.name] = (sink, pacsv.CSVWriter(sink, schema, write_options=opts))
            else:
                self._parquet[spec.name] = pq.ParquetWriter(str(path), schema)

    def write(self, spec: FileSpec, frame: _Frame) -> None:
        table = _to_table(spec, frame, self.fmt)
        if table.num_rows == 0:
            return
        self.rows[spec.name] += table.num_rows
        if self.fmt == "csv":
            self._csv[spec.name][1].write_table(table)
        else:
            self._parquet[spec.name].write_table(table)

    def close(self) -> None:
        for sink, writer in self._csv.values():
            writer.close()
            sink.close()
        for pwriter in self._parquet.values():
            pwriter.close()


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    scale: int
    seed: int
    n_persons: int
    n_firms: int
    n_banks: int
    n_chunks: int
    nid_offset: int
    reg_offset: int

    @classmethod
    def make(cls, scale: int, seed: int) -> _Plan:
        n_persons = max(1, round(scale * PERSON_FRACTION))
        n_firms = scale - n_persons
        n_chunks = -(-scale // CHUNK_SUBJECTS)
        first_chunk_firms = n_firms // n_chunks
        if n_firms >= 30:
            n_banks = int(np.clip(n_firms // 20_000, 3, 25))
        else:
            n_banks = 1 if n_firms >= 4 else 0
        n_banks = min(n_banks, first_chunk_firms // 4)
        g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))
        return cls(
            scale=scale,
            seed=seed,
            n_persons=n_persons,
            n_firms=n_firms,
            n_banks=n_banks,
            n_chunks=n_chunks,
            nid_offset=int(g.integers(0, 10**12)),
            reg_offset=int(g.integers(0, 10**16)),
        )

    def persons(self, c: int) -> tuple[int, int]:
        return c * self.n_persons // self.n_chunks, (c + 1) * self.n_persons // self.n_chunks

    def firms(self, c: int) -> tuple[int, int]:
        return c * self.n_firms // self.n_chunks, (c + 1) * self.n_firms // self.n_chunks

    def rng(self, c: int) -> np.random.Generator:
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(c + 1,)))
        )

    def subject_ids(self, codes: IntArray) -> pa.Array:
        """Subject codes (persons 0..P-1, then firms) to ids."""
        is_person = codes < self.n_persons
        pids = _ids("P", np.where(is_person, codes, 0))
        fids = _ids("F", np.where(is_person, 0, codes - self.n_persons))
        return pc.if_else(pa.array(is_person), pids, fids)


@dataclass
class _Counters:
    loans: int = 0
    guarantees: int = 0
    blacklist: int = 0


# --- one chunk --------------------------------------------------------------------------------


class _Chunk:
    """Generates the rows of one chunk of subjects. All indices are chunk-local
    unless called ``code`` (a global subject code, see :meth:`_Plan.subject_ids`)."""

    def __init__(self, plan: _Plan, c: int, counters: _Counters) -> None:
        self.plan = plan
        self.c = c
        self.counters = counters
        self.rng = plan.rng(c)
        self.p_lo, p_hi = plan.persons(c)
        self.f_lo, f_hi = plan.firms(c)
        self.m = p_hi - self.p_lo
        self.n = f_hi - self.f_lo
        if self.n and not self.m:
            raise AssertionError("a chunk with firms needs persons")
        self.frames: dict[str, _Frame] = {}

    # codes
    def pcode(self, i: IntArray) -> IntArray:
        return _i64(i + self.p_lo)

    def fcode(self, j: IntArray) -> IntArray:
        return _i64(j + self.f_lo + self.plan.n_persons)

    def bank_code(self, b: IntArray) -> IntArray:
        return _i64(b + self.plan.n_persons)

    def build(self) -> dict[str, _Frame]:
        self._persons()
        self._firms()
        self._roles()
        self._ownership()
        self._distress()
        self._loans()
        self._guarantees()
        self._blacklist()
        return self.frames

    # persons ------------------------------------------------------------------------------
    def _persons(self) -> None:
        rng, m = self.rng, self.m
        # Heavy-tailed attachment: a few persons collect many roles and stakes.
        self.pweight = np.minimum(rng.pareto(1.5, m) + 1.0, 25.0)
        self.pick_person = _Picker(self.pweight)
        country = _i64(rng.choice(len(_COUNTRIES), m, p=_COUNTRY_P))
        chinese = country < _CHINESE_COUNTRIES
        cn = _join(
            " ",
            _take(_CN_SURNAMES, _i64(rng.zipf(1.6, m) - 1) % len(_CN_SURNAMES)),
            _take(_CN_GIVEN, _i64(rng.integers(0, len(_CN_GIVEN), m))),
        )
        west = _join(
            " ",
            _take(_WEST_GIVEN, _i64(rng.integers(0, len(_WEST_GIVEN), m))),
            _take(_WEST_SURNAMES, _i64(rng.integers(0, len(_WEST_SURNAMES), m))),
        )
        country_null = rng.random(m) < 0.03
        birth = _i64(rng.integers(_BIRTH_LO, _BIRTH_HI + 1, m))
        g = _i64(np.arange(m) + self.p_lo)
        nid = (g * 387_420_489 + self.plan.nid_offset) % 10**12  # a bijection: unique ids
        nid_digits = pc.utf8_lpad(pa.array(nid).cast(pa.string()), 12, "0")
        nid_str = _join("", _take(_COUNTRIES, country), nid_digits)
        nid_str = pc.if_else(pa.array(rng.random(m) < 0.6), nid_str, pa.nulls(m, pa.string()))
        worth = rng.lognormal(13.0, 1.4, m) * self.pweight**0.35
        self.frames["persons"] = {
            "id": _ids("P", g),
            "name": pc.if_else(pa.array(chinese), cn, west),
            "birth_date": (birth, rng.random(m) < 0.15),
            "country": _take(_COUNTRIES, country, country_null),
            "national_id": nid_str,
            "net_worth": (_i64(np.round(worth) * 100), rng.random(m) < 0.35),
        }

    # firms and groups -----------------------------------------------------------------------
    def _firms(self) -> None:
        rng, n, plan = self.rng, self.n, self.plan
        gf = _i64(np.arange(n) + self.f_lo)
        is_bank = gf < plan.n_banks
        self.banks_local = np.flatnonzero(is_bank)
        nb = np.flatnonzero(~is_bank)
        self.nb = nb
        k = len(nb)
        industry = _i64(rng.choice(_N_DRAWN, n, p=_IND_P))
        log_ta = np.maximum(rng.normal(15.2, 1.9, n), np.log(5e4))
        region = _i64(rng.choice(len(_REGIONS), n, p=_REGION_P))
        foreign = rng.random(n) < 0.05
        foreign_country = _i64(rng.integers(0, len(_FOREIGN_FIRM), n))

        # Corporate groups: levels 0 (holdings), 1, 2, then ordinary firms, some owned.
        perm = rng.permutation(nb)
        n0 = max(1, round(0.025 * k)) if k >= 3 else 0
        n1, n2 = round(0.05 * k), round(0.07 * k)
        lv0, lv1, lv2 = perm[:n0], perm[n0 : n0 + n1], perm[n0 + n1 : n0 + n1 + n2]
        rest = perm[n0 + n1 + n2 :]
        parent = np.full(n, -1, dtype=np.int64)
        pull = rng.pareto(1.1, n) + 1.0  # how many subsidiaries a parent attracts
        if n0:
            parent[lv1] = lv0[_Picker(pull[lv0])(rng, len(lv1))]
            up2 = np.concatenate([lv0, lv1])
            parent[lv2] = up2[_Picker(pull[up2])(rng, len(lv2))]
            owned = rest[rng.random(len(rest)) < 0.25]
            up3 = np.concatenate([lv0, lv1, lv2])
            parent[owned] = up3[_Picker(pull[up3])(rng, len(owned))]
        self.levels = [lv0, lv1, lv2, rest]
        industry[lv0] = _HOLDING
        log_ta[lv0] += 1.8
        log_ta[lv1] += 0.8
        # A few professional guarantee companies.
        gco = rest[: max(1, len(rest) // 100)] if len(rest) >= 20 else rest[:0]
        industry[gco] = _GUARANTEE_CO
        log_ta[gco] += 1.5
        self.guarantee_cos = gco
        for level in self.levels[1:]:  # subsidiaries mostly sit in the parent's region
            has = level[parent[level] >= 0]
            same = has[rng.random(len(has)) < 0.7]
            region[same] = region[parent[same]]
            foreign[same] = foreign[parent[same]]
            foreign_country[same] = foreign_country[parent[same]]

        # Banks: Zipf-sized, long-established, domestic.
        rank = gf[is_bank]
        industry[is_bank] = _BANKING
        log_ta[is_bank] = np.log(
            np.maximum(2e12 / (rank + 1) ** 1.2 * rng.lognormal(0, 0.2, len(rank)), 3e10)
        )
        foreign[is_bank] = False

        parent_bp = np.where(rng.random(n) < 0.4, _BP, rng.integers(5100, 9501, n))
        self.parent_bp = _i64(np.where(parent >= 0, parent_bp, 0))
        ta = np.round(np.exp(log_ta) * 100)  # cents
        ratio = np.clip(rng.beta(2.0, 3.5, n), 0.02, 0.9)
        ratio[is_bank] = rng.uniform(0.06, 0.12, len(rank))
        equity = np.floor(ta * ratio)
        # Bottom-up, a parent's balance sheet carries its stakes in subsidiaries
        # (the investment is funded 60% by equity), so holdings grow with their group.
        for level in (rest, lv2, lv1):
            child = level[parent[level] >= 0]
            stake = np.floor(equity[child] * self.parent_bp[child] / _BP)
            np.add.at(ta, parent[child], stake)
            np.add.at(equity, parent[child], np.floor(stake * 0.6))
        log_ta = np.log(ta / 100)
        cap_mult = rng.uniform(0.2, 1.3, n)
        cap_mult[is_bank] = rng.uniform(0.1, 0.3, len(rank))
        cap = np.maximum(np.round(equity * cap_mult / 1e6) * 1e6, 1e6)
        cap = np.minimum(cap, np.floor(ta * 0.95 / 1e6) * 1e6)
        cap = np.maximum(cap, 1e5)
        hide_fin = (rng.random(n) < 0.06) & ~is_bank
        founded = _i64(rng.integers(_FOUNDED_LO, _FOUNDED_HI + 1, n))
        founded[is_bank] = rng.integers(_day("1950-01-01"), _day("2000-01-01"), len(rank))
        founded[lv0] = rng.integers(_FOUNDED_LO, _day("2012-01-01"), len(lv0))

        self.is_bank, self.parent, self.industry = is_bank, parent, industry
        self.log_ta, self.ta = log_ta, ta
        self.founded = founded
        self.event_lo = np.maximum(founded, START)  # earliest event involving the firm

        # Names: "<A> <B> <industry word> <suffix>", banks "<A> <B> <bank kind>".
        a = _take(_FIRM_A, _i64(rng.integers(0, len(_FIRM_A), n)))
        b = _take(_FIRM_B, _i64(rng.integers(0, len(_FIRM_B), n)))
        suffix = _i64(rng.integers(0, len(_FIRM_SUFFIX), n))
        tail_pool = _FIRM_SUFFIX + _BANK_SUFFIX + ["Group Co. Ltd", "Co. Ltd"]
        bank_kind = _i64(rng.integers(0, len(_BANK_SUFFIX), n)) + len(_FIRM_SUFFIX)
        tail = np.where(is_bank, bank_kind, suffix)
        tail[industry == _HOLDING] = len(_FIRM_SUFFIX) + len(_BANK_SUFFIX)
        tail[industry == _GUARANTEE_CO] = len(tail_pool) - 1
        word = _take(_IND_WORD, industry)
        word = pc.if_else(pa.array(is_bank), pa.nulls(n, pa.string()), word)
        name = pc.binary_join_element_wise(a, b, word, _take(tail_pool, tail), " ")
        name = pc.if_else(pa.array(is_bank), _join(" ", a, b, _take(tail_pool, tail)), name)

        country = np.where(foreign, foreign_country + 1, 0)
        reg_no = (gf * 9_576_890_767 + plan.reg_offset) % 10**16
        reg_str = _join("", "91", pc.utf8_lpad(pa.array(reg_no).cast(pa.string()), 16, "0"))
        self.troubled = np.zeros(n, dtype=bool)  # set by _distress
        self._firm_frame: _Frame = {
            "id": _ids("F", gf),
            "name": name,
            "registration_no": pc.if_else(
                pa.array(rng.random(n) < 0.92), reg_str, pa.nulls(n, pa.string())
            ),
            "country": _take(["CN", *_FOREIGN_FIRM], _i64(country), rng.random(n) < 0.02),
            "region": _take(_REGIONS, region, foreign),
            "industry": _take(_IND_NAMES, industry, (rng.random(n) < 0.03) & ~is_bank),
            "founded_on": (founded, (rng.random(n) < 0.05) & ~is_bank),
            # "status" is decided by _distress
            "registered_capital": (_i64(cap), (rng.random(n) < 0.04) & ~is_bank),
            "equity": (_i64(equity), hide_fin),
            "total_assets": (_i64(ta), hide_fin),
        }
        self.frames["firms"] = self._firm_frame

    # roles --------------------------------------------------------------------------------
    def _roles(self) -> None:
        rng, n = self.rng, self.n
        lr = np.full(n, -1, dtype=np.int64)
        banks = self.banks_local
        lr[banks] = self.pick_person(rng, len(banks))
        for level in self.levels:  # parents first: subsidiaries often share the parent's LR
            base = self.pick_person(rng, len(level))
            par = self.parent[level]
            inherit = (par >= 0) & (rng.random(len(level)) < 0.45)
            lr[level] = np.where(inherit, lr[np.maximum(par, 0)], base)
        self.lr = lr
        firms = _i64(np.arange(n))
        lo, hi = self.event_lo, np.full(n, AS_OF, dtype=np.int64)

        # Former legal representatives hand over to the current one.
        had = firms[rng.random(n) < 0.2]
        f_since = _i64(lo[had] + np.floor(rng.random(len(had)) * (AS_OF - lo[had]) * 0.6))
        f_until = _uniform_days(rng, f_since + 1, hi[had])
        lr_since = _uniform_days(rng, lo, hi)
        lr_since[had] = f_until

        size = self.log_ta
        n_dir = rng.poisson(np.clip(0.4 * (size - 14.0), 0.0, 5.0))
        n_exe = rng.poisson(np.clip(0.3 * (size - 13.5), 0.2, 4.0))
        n_sup = (rng.random(n) < 0.75) + rng.poisson(0.15, n)
        n_dir[banks], n_exe[banks], n_sup[banks] = 9, 5, 3
        lr_dir = firms[rng.random(n) < 0.3]  # the legal representative chairs the board
        other_f = np.concatenate(
            [np.repeat(firms, n_dir), lr_dir, np.repeat(firms, n_exe), np.repeat(firms, n_sup)]
        )
        other_r = np.concatenate(
            [
                np.full(n_dir.sum() + len(lr_dir), 1),
                np.full(n_exe.sum(), 2),
                np.full(n_sup.sum(), 3),
            ]
        )
        other_p = self.pick_person(rng, len(other_f))
        other_p[n_dir.sum() : n_dir.sum() + len(lr_dir)] = lr[lr_dir]
        o = len(other_f)
        o_since = _uniform_days(rng, lo[other_f], hi[other_f])
        ended = rng.random(o) < 0.1
        o_until = np.where(
            ended, _uniform_days(rng, np.minimum(o_since + 1, AS_OF), hi[other_f]), 0
        )

        firm = np.concatenate([firms, had, other_f])
        person = np.concatenate([lr, self.pick_person(rng, len(had)), other_p])
        role = np.concatenate([np.zeros(n + len(had), dtype=np.int64), other_r])
        since = np.concatenate([lr_since, f_since, o_since])
        since_null = np.concatenate(
            [rng.random(n) < 0.1, np.zeros(len(had), bool), rng.random(o) < 0.15]
        )
        until = np.concatenate([np.zeros(n, np.int64), f_until, o_until])
        until_null = np.concatenate([np.ones(n, bool), np.zeros(len(had), bool), ~ended])
        # Unique (person, firm, role); the first occurrence (active LR first) wins.
        key = (firm * max(self.m, 1) + person) * len(ROLES) + role
        _, first = np.unique(key, return_index=True)  # sorted by firm, person, role
        self.frames["roles"] = {
            "person_id": self.plan.subject_ids(self.pcode(person[first])),
            "firm_id": self.plan.subject_ids(self.fcode(firm[first])),
            "role": _take(ROLES, role[first]),
            "since": (since[first], since_null[first]),
            "until": (until[first], until_null[first]),
        }

    # ownership ----------------------------------------------------------------------------
    def _ownership(self) -> None:
        rng, n = self.rng, self.n
        firms = _i64(np.arange(n))
        has_parent = self.parent >= 0
        parent_bp = self.parent_bp
        room = _BP - parent_bp
        free = ~has_parent & ~self.is_bank
        room[free] = np.where(
            rng.random(free.sum()) < 0.75, _BP, rng.integers(6000, _BP, free.sum())
        )
        room[self.is_bank] = rng.integers(1500, 4001, self.is_bank.sum())
        n_own = np.where(has_parent, rng.poisson(0.6, n), 1 + np.minimum(rng.poisson(0.9, n), 5))
        n_own[self.is_bank] = rng.integers(3, 7, self.is_bank.sum())
        n_own = np.minimum(n_own, room)

        of = np.repeat(firms, n_own)  # firm of each person/firm stake
        first = np.zeros(len(of), dtype=bool)
        first[np.cumsum(n_own)[n_own > 0] - n_own[n_own > 0]] = True
        owner = self.pcode(self.pick_person(rng, len(of)))
        use_lr = first & (rng.random(len(of)) < 0.55) & ~self.is_bank[of]
        owner[use_lr] = self.pcode(self.lr[of[use_lr]])
        # Now and then an unrelated firm takes a stake.
        if len(self.nb) >= 2:
            corp = (rng.random(len(of)) < 0.06) & free[of]
            pos = _i64(rng.integers(0, len(self.nb), corp.sum()))
            inv = self.nb[pos]
            inv = np.where(inv == of[corp], self.nb[(pos + 1) % len(self.nb)], inv)
            owner[corp] = self.fcode(inv)
        e = rng.exponential(1.0, len(of))
        total = np.bincount(of, weights=e, minlength=n)
        # floor(...) + 1 per stake: each >= 1 bp and their sum <= room.
        bp = np.floor(e / total[of] * (room[of] - n_own[of])).astype(np.int64) + 1

        sub = firms[has_parent]
        owners = [self.fcode(self.parent[sub]), owner]
        shares = [parent_bp[sub], bp]
        stake_firm = [sub, of]
        used = np.bincount(of, weights=bp, minlength=n).astype(np.int64) + parent_bp
        sub_lo = np.maximum(self.event_lo[sub], self.event_lo[self.parent[sub]])
        since = [_uniform_days(rng, sub_lo, np.full(len(sub), AS_OF))]
        since.append(_uniform_days(rng, self.event_lo[of], np.full(len(of), AS_OF)))
        active = len(sub) + len(of)
        # Former owners fit in the room left, so all stakes still sum to <= 1.
        gone = firms[(_BP - used >= 500) & (rng.random(n) < 0.25)]
        g_bp = np.maximum(np.floor(rng.uniform(0.3, 1.0, len(gone)) * (_BP - used[gone])), 1)
        g_since = _i64(
            self.event_lo[gone]
            + np.floor(rng.random(len(gone)) * 0.5 * (AS_OF - self.event_lo[gone]))
        )
        g_until = _uniform_days(rng, g_since + 1, np.full(len(gone), AS_OF))
        owners.append(self.pcode(self.pick_person(rng, len(gone))))
        shares.append(_i64(g_bp))
        stake_firm.append(gone)
        since.append(g_since)

        own = np.concatenate(owners)
        firm = np.concatenate(stake_firm)
        share = np.concatenate(shares)
        since_all = np.concatenate(since)
        since_null = np.concatenate([rng.random(active) < 0.3, np.zeros(len(gone), bool)])
        until = np.concatenate([np.zeros(active, np.int64), g_until])
        until_null = np.concatenate([np.ones(active, bool), np.zeros(len(gone), bool)])
        key = self.fcode(firm) * (self.plan.scale + 1) + own
        _, first_i = np.unique(key, return_index=True)
        first_i = np.sort(first_i)  # keep generation order: parents, persons, former
        self.own_code, self.own_firm, self.own_bp = own[first_i], firm[first_i], share[first_i]
        self.frames["ownership"] = {
            "owner_id": self.plan.subject_ids(own[first_i]),
            "firm_id": self.plan.subject_ids(self.fcode(firm[first_i])),
            "share": (share[first_i], None),
            "since": (since_all[first_i], since_null[first_i]),
            "until": (until[first_i], until_null[first_i]),
        }

    # distress and guarantee structures --------------------------------------------------------
    def _distress(self) -> None:
        rng, n = self.rng, self.n
        # Explicit guarantee structures over disjoint non-bank firms: circles of 3..10
        # (firm i guarantees a loan of firm i+1, the last the first), mutual pairs, chains.
        nb = rng.permutation(self.nb)
        k = len(nb)
        budget = k // 2 if k >= 10 else k
        specs: list[tuple[int, bool]] = []  # (length, closed)
        used = 0

        def add(length: int, closed: bool) -> None:
            nonlocal used
            if length >= 2 and used + length <= budget:
                specs.append((length, closed))
                used += length

        lengths = 3 + np.minimum(rng.geometric(0.4, max(1, round(k / 300))) - 1, 7)
        add(int(min(lengths[0], max(k, 3))) if k >= 3 else 0, True)
        for _ in range(max(1, round(k / 200))):
            add(2, True)  # mutual guarantees
        for length in lengths[1:]:
            add(int(length), True)
        for length in rng.integers(3, 9, max(1, round(k / 250)) if k >= 6 else 0):
            add(int(length), False)  # chains

        logit = (
            -3.0
            + _IND_DISTRESS[self.industry]
            - 0.25 * (self.log_ta - 15.2)
            + rng.normal(0.0, 0.8, n)
        )
        members, guarantors = [], []
        pos = 0
        for length, closed in specs:
            group = nb[pos : pos + length]
            pos += length
            if rng.random() < (0.35 if closed else 0.2):
                logit[group] += 2.5  # a shock shared through the structure
            members.append(group)
            gi = np.roll(group, 1)  # member i's loan is guaranteed by member i-1
            if not closed:
                gi = gi.copy()
                gi[0] = -1
            guarantors.append(gi)
        self.struct_borrowers = _i64(np.concatenate(members)) if members else _i64([])
        self.struct_guarantors = _i64(np.concatenate(guarantors)) if members else _i64([])

        troubled = (rng.random(n) < _sigmoid(logit)) & ~self.is_bank
        self.troubled = troubled
        u = rng.random(n)
        status = np.where(troubled & (u < 0.25), 2, 0)
        status = np.where(~troubled & (u < 0.035), 1, status)
        status = np.where(~troubled & (u > 0.997), 2, status)
        status[self.is_bank] = 0
        self._firm_frame["status"] = _take(FIRM_STATUSES, _i64(status))

    # loans --------------------------------------------------------------------------------
    def _loans(self) -> None:
        rng, plan, m = self.rng, self.plan, self.m
        nb = self.nb
        bank_w = 1.0 / np.arange(1, plan.n_banks + 1) ** 0.9
        pick_bank = _Picker(bank_w)
        segs: list[dict[str, IntArray]] = []

        def seg(
            kind: int,
            lender: IntArray,
            borrower: IntArray,
            amount: FloatArray,
            lo: IntArray,
            long_term: bool,
            bad_p: FloatArray,
            guarantor: IntArray | None = None,
        ) -> None:
            size = len(borrower)
            segs.append(
                {
                    "kind": np.full(size, kind, dtype=np.int64),
                    "lender": _i64(lender),
                    "borrower": _i64(borrower),
                    "amount": _i64(np.maximum(np.round(amount / 1e5), 1) * 1e5),
                    "lo": _i64(lo),
                    "long": np.full(size, long_term, dtype=np.int64),
                    "bad": _i64(rng.random(size) < bad_p),
                    # late payers: overdue now but not (yet) in default
                    "late": _i64(
                        rng.random(size) < np.where(bad_p > 0.5, 0.35, 0.07 * (bad_p > 0))
                    ),
                    "guarantor": _i64(guarantor) if guarantor is not None else np.full(size, -1),
                }
            )

        def firm_bad(f: IntArray) -> FloatArray:
            return np.where(self.troubled[f], 0.75, 0.02)

        if plan.n_banks:
            # Interbank lending (the bank set lives in chunk 0).
            if self.c == 0:
                nbk = plan.n_banks
                i, j = np.meshgrid(np.arange(nbk), np.arange(nbk), indexing="ij")
                pair = (i != j) & (rng.random((nbk, nbk)) < 0.3)
                li, bj = i[pair], j[pair]
                amt = self.ta[bj] * rng.uniform(0.001, 0.01, len(bj))
                seg(
                    _SEG_INTERBANK,
                    self.bank_code(li),
                    self.fcode(bj),
                    amt,
                    np.full(len(bj), START),
                    False,
                    np.zeros(len(bj)),
                )
            # Bank loans to firms, more for larger firms.
            lam = np.clip(0.25 + 0.45 * (self.log_ta[nb] - 13.5), 0.1, 6.0)
            bf = np.repeat(nb, rng.poisson(lam))
            amt = self.ta[bf] * rng.uniform(0.03, 0.35, len(bf))
            seg(
                _SEG_BANK,
                self.bank_code(pick_bank(rng, len(bf))),
                self.fcode(bf),
                amt,
                self.event_lo[bf],
                False,
                firm_bad(bf),
            )
            # One dedicated bank loan per member of a guarantee structure.
            sb, sg = self.struct_borrowers, self.struct_guarantors
            amt = self.ta[sb] * rng.uniform(0.05, 0.3, len(sb))
            seg(
                _SEG_STRUCT,
                self.bank_code(pick_bank(rng, len(sb))),
                self.fcode(sb),
                amt,
                self.event_lo[sb],
                False,
                firm_bad(sb),
                np.where(sg >= 0, self.fcode(sg), -1),
            )
            # Mortgages and consumer credit.
            pb = _i64(np.flatnonzero(rng.random(m) < 0.18))
            amt = rng.lognormal(12.3, 0.9, len(pb)) * 100
            seg(
                _SEG_PERSON,
                self.bank_code(pick_bank(rng, len(pb))),
                self.pcode(pb),
                amt,
                np.full(len(pb), START),
                True,
                np.full(len(pb), 0.04),
            )
        if len(nb) >= 2:
            # Firm-to-firm: intra-group funding or trade credit from larger firms.
            bf = nb[_i64(rng.integers(0, len(nb), round(0.08 * len(nb))))]
            lender = nb[_Picker(self.ta[nb])(rng, len(bf))]
            intra = (self.parent[bf] >= 0) & (rng.random(len(bf)) < 0.5)
            lender = np.where(intra, self.parent[bf], lender)
            keep = lender != bf
            bf, lender = bf[keep], lender[keep]
            amt = np.minimum(
                self.ta[lender] * rng.uniform(0.01, 0.08, len(bf)),
                self.ta[bf] * rng.uniform(0.05, 0.3, len(bf)),
            )
            seg(
                _SEG_FIRM,
                self.fcode(lender),
                self.fcode(bf),
                amt,
                np.maximum(self.event_lo[bf], self.event_lo[lender]),
                False,
                firm_bad(bf),
            )
            # Shareholder loans: a person owner lends to the firm.
            is_p = (self.own_code < plan.n_persons) & ~self.is_bank[self.own_firm]
            is_p &= rng.random(len(is_p)) < 0.03
            lf = self.own_firm[is_p]
            amt = self.ta[lf] * rng.uniform(0.02, 0.2, len(lf))
            seg(
                _SEG_SHAREHOLDER,
                self.own_code[is_p],
                self.fcode(lf),
                amt,
                self.event_lo[lf],
                False,
                firm_bad(lf),
            )

        loans = {
            key: np.concatenate([s[key] for s in segs]) if segs else _i64([])
            for key in (
                "kind",
                "lender",
                "borrower",
                "amount",
                "lo",
                "long",
                "bad",
                "late",
                "guarantor",
            )
        }
        self._loan_status(loans)
        count = len(loans["kind"])
        loans["gid"] = _i64(np.arange(count) + self.counters.loans)
        self.counters.loans += count
        self.loans = loans

    def _loan_status(self, ln: dict[str, IntArray]) -> None:
        rng = self.rng
        size = len(ln["kind"])
        lo = ln["lo"]
        issued = _i64(lo + np.floor(rng.random(size) ** 0.5 * (AS_OF - 30 - lo)))
        term_f = rng.choice(
            [365, 730, 1095, 1825, 2555, 3650], size, p=[0.3, 0.2, 0.2, 0.15, 0.08, 0.07]
        )
        term_p = rng.choice(
            [365, 1095, 1825, 3650, 7300, 10950], size, p=[0.2, 0.2, 0.2, 0.15, 0.15, 0.1]
        )
        term = np.where(ln["long"] == 1, term_p, term_f)
        term[ln["kind"] == _SEG_INTERBANK] = 365
        maturity = _i64(issued + term)
        age = AS_OF - issued
        bad = (ln["bad"] == 1) & (age >= 60)
        end = np.minimum(maturity, AS_OF - 1)
        t_bad = _i64(issued + 30 + np.floor(rng.random(size) * np.maximum(end - issued - 30, 0)))
        t_bad = np.minimum(t_bad, AS_OF - 1)
        od = AS_OF - t_bad  # >= 1
        u = rng.random(size)
        bad_status = np.where(
            od < 90,
            _OVERDUE,
            np.where(
                od < 365,
                np.where(u < 0.7, _DEFAULTED, _OVERDUE),
                np.where(u < 0.45, _DEFAULTED, _WRITTEN_OFF),
            ),
        )
        matured = maturity <= AS_OF
        early = ~matured & (rng.random(size) < 0.08) & (age >= 30)
        repaid_on = np.where(
            matured,
            np.maximum(maturity - _i64(rng.integers(0, 31, size)), issued + 1),
            issued + 1 + np.floor(rng.random(size) * np.maximum(age - 1, 1)),
        )
        status = np.where(bad, bad_status, np.where(matured | early, _REPAID, _PERFORMING))
        late = (ln["late"] == 1) & (status == _PERFORMING) & (age >= 31)
        late_days = np.minimum(1 + np.floor(rng.exponential(40.0, size)), np.minimum(age - 30, 365))
        status = np.where(late, _OVERDUE, status)
        od = _i64(np.where(late, late_days, od))
        status_on = np.select(
            [status == _OVERDUE, status == _DEFAULTED, status == _WRITTEN_OFF, status == _REPAID],
            [
                np.full(size, AS_OF),
                t_bad + 90,
                t_bad + 180 + np.floor(rng.random(size) * np.maximum(od - 180, 0)),
                repaid_on,
            ],
            AS_OF,
        )
        status_on = np.minimum(_i64(status_on), AS_OF)
        status_on_null = (status == _PERFORMING) & (rng.random(size) < 0.08)
        days = np.where(status == _PERFORMING, 0, od)
        days_null = (status == _REPAID) | (status == _WRITTEN_OFF)
        days_null |= (status == _PERFORMING) & (rng.random(size) < 0.15)
        ln.update(issued=issued, maturity=maturity, status=_i64(status), status_on=status_on)
        cur = _i64(rng.choice(len(_CURRENCIES), size, p=_CURRENCY_P))
        self.frames["loans"] = {
            "id": _ids("L", _i64(np.arange(size) + self.counters.loans)),
            "lender_id": self.plan.subject_ids(ln["lender"]),
            "borrower_id": self.plan.subject_ids(ln["borrower"]),
            "amount": (ln["amount"], None),
            "currency": _take(_CURRENCIES, cur, rng.random(size) < 0.02),
            "issued_on": (issued, None),
            "maturity_on": (maturity, rng.random(size) < 0.03),
            "status": _take(LOAN_STATUSES, _i64(status)),
            "status_on": (status_on, status_on_null),
            "days_overdue": (_i64(days), days_null),
        }

    # guarantees ---------------------------------------------------------------------------
    def _guarantees(self) -> None:
        rng, plan, ln = self.rng, self.plan, self.loans
        size = len(ln["kind"])
        kind, borrower = ln["kind"], ln["borrower"]
        fb = borrower - plan.n_persons - self.f_lo  # local firm index of a firm borrower
        is_firm_b = (borrower >= plan.n_persons) & (kind != _SEG_INTERBANK)
        fb = np.where(is_firm_b, fb, 0)
        rows = np.arange(size)
        g = np.full(size, -1, dtype=np.int64)
        # Explicit structures carry their guarantor.
        g = np.where(kind == _SEG_STRUCT, ln["guarantor"], g)
        # Ordinary guarantees on firm borrowing.
        nb = self.nb
        wants = (
            is_firm_b
            & (kind != _SEG_STRUCT)
            & (rng.random(size) < np.where(kind == _SEG_BANK, 0.5, 0.15))
        )
        u = rng.random(size)
        parent = self.parent[fb]
        personal = self.pcode(self.lr[fb])
        if len(nb) >= 2:
            pos = _i64(rng.integers(0, len(nb), size))
            third = nb[pos]
            if len(self.guarantee_cos):
                gco = self.guarantee_cos[_i64(rng.integers(0, len(self.guarantee_cos), size))]
                third = np.where(rng.random(size) < 0.35, gco, third)
            third = np.where(third == fb, nb[(pos + 1) % len(nb)], third)
            third_code = self.fcode(third)
        else:
            third_code = personal
        firm_g = np.where((parent >= 0) & (u < 0.65), self.fcode(np.maximum(parent, 0)), third_code)
        g = np.where(wants, np.where(u < 0.4, personal, firm_g), g)
        # Some persons' loans are guaranteed by another person.
        if self.m >= 2:
            pg = self.pcode(self.pick_person(rng, size))
            g = np.where((kind == _SEG_PERSON) & (rng.random(size) < 0.08), pg, g)
        # The legal representative often adds a personal guarantee.
        extra = is_firm_b & (g >= 0) & (g != personal) & (rng.random(size) < 0.2)
        loan_row = np.concatenate([rows[g >= 0], rows[extra]])
        guarantor = np.concatenate([g[g >= 0], personal[extra]])
        keep = guarantor != borrower[loan_row]
        loan_row, guarantor = loan_row[keep], guarantor[keep]
        _, first = np.unique(loan_row * (plan.scale + 1) + guarantor, return_index=True)
        loan_row, guarantor = loan_row[first], guarantor[first]  # ordered by loan
        count = len(loan_row)

        gkind = _i64(rng.choice(len(GUARANTEE_KINDS), count, p=[0.5, 0.35, 0.15]))
        kind_null = rng.random(count) < 0.04
        loan_amt = ln["amount"][loan_row]
        frac = np.where(gkind == 1, rng.uniform(0.2, 0.9, count), rng.uniform(0.5, 1.0, count))
        frac = np.where((gkind == 0) | kind_null, 1.0, frac)
        amount = np.minimum(np.maximum(np.round(loan_amt * frac / 1e5) * 1e5, 1e5), loan_amt)
        repaid = ln["status"][loan_row] == _REPAID
        self.guar_loan_row, self.guar_code = loan_row, guarantor
        self.frames["guarantees"] = {
            "id": _ids("G", _i64(np.arange(count) + self.counters.guarantees)),
            "guarantor_id": plan.subject_ids(guarantor),
            "loan_id": _ids("L", ln["gid"][loan_row]),
            "amount": (_i64(amount), None),
            "kind": _take(GUARANTEE_KINDS, gkind, kind_null),
            "since": (ln["issued"][loan_row], rng.random(count) < 0.05),
            "until": (ln["status_on"][loan_row], ~repaid),
        }
        self.counters.guarantees += count

    # blacklist ----------------------------------------------------------------------------
    def _blacklist(self) -> None:
        rng, plan, ln, n, m = self.rng, self.plan, self.loans, self.n, self.m
        subj: list[IntArray] = []
        lst: list[IntArray] = []
        listed: list[IntArray] = []

        def add(codes: IntArray, which: int, on: IntArray) -> None:
            subj.append(_i64(codes))
            lst.append(np.full(len(codes), which, dtype=np.int64))
            listed.append(np.minimum(_i64(on), AS_OF))

        def lag(lo: int, hi: int, size: int) -> IntArray:
            return _i64(rng.integers(lo, hi, size))

        # Defaulters, their legal representatives and their guarantors.
        st = ln["status"]
        bad = np.flatnonzero((st == _DEFAULTED) | (st == _WRITTEN_OFF))
        b = bad[rng.random(len(bad)) < 0.6]
        add(ln["borrower"][b], _COURT, ln["status_on"][b] + lag(30, 366, len(b)))
        bf = bad[(ln["borrower"][bad] >= plan.n_persons) & (ln["kind"][bad] != _SEG_INTERBANK)]
        bf = bf[rng.random(len(bf)) < 0.35]
        local = ln["borrower"][bf] - plan.n_persons - self.f_lo
        add(self.pcode(self.lr[local]), _COURT, ln["status_on"][bf] + lag(30, 366, len(bf)))
        gb = np.isin(self.guar_loan_row, bad) & (rng.random(len(self.guar_loan_row)) < 0.25)
        rows = self.guar_loan_row[gb]
        add(self.guar_code[gb], _COURT, ln["status_on"][rows] + lag(60, 501, len(rows)))

        firms = _i64(np.arange(n))
        ok = ~self.is_bank

        def anytime(size: int) -> IntArray:
            return _i64(rng.integers(START, AS_OF + 1, size))

        tax = firms[ok & (rng.random(n) < np.where(self.troubled, 0.1, 0.004))]
        add(self.fcode(tax), _TAX, anytime(len(tax)))
        ptax = _i64(np.flatnonzero(rng.random(m) < 0.002))
        add(self.pcode(ptax), _TAX, anytime(len(ptax)))
        env = firms[ok & (rng.random(n) < np.where(_IND_POLLUTING[self.industry], 0.02, 0.002))]
        add(self.fcode(env), _ENV, anytime(len(env)))
        # Sanctions: rare designations, at least one per chunk of some size.
        sp = _i64(np.flatnonzero(rng.random(m) < 0.0006))
        sf = firms[ok & (rng.random(n) < 0.0006)]
        if len(sp) + len(sf) == 0 and m >= 20:
            sp = _i64(rng.integers(0, m, 1))
        s_codes = np.concatenate([self.pcode(sp), self.fcode(sf)])
        s_on = anytime(len(s_codes))
        add(s_codes, _SANCTIONS, s_on)
        # The 50% rule: firms owned half or more by a designated subject.
        ctrl = np.isin(self.own_code, s_codes) & (self.own_bp >= _BP // 2)
        ctrl &= rng.random(len(ctrl)) < 0.7
        owner_on = s_on[:0]
        if ctrl.any():
            order = np.argsort(s_codes, kind="stable")
            owner_on = s_on[order][np.searchsorted(s_codes[order], self.own_code[ctrl])]
        add(self.fcode(self.own_firm[ctrl]), _SANCTIONS, owner_on + lag(0, 120, int(ctrl.sum())))

        codes = np.concatenate(subj)
        which = np.concatenate(lst)
        on = np.minimum(np.concatenate(listed), AS_OF)
        count = len(codes)
        gid = _i64(np.arange(count) + self.counters.blacklist)
        self.counters.blacklist += count

        n_auth = np.array([len(a) for a in _AUTHORITIES])
        auth_off = np.concatenate([[0], np.cumsum(n_auth)[:-1]])
        auth = auth_off[which] + _i64(rng.random(count) * n_auth[which])
        n_rea = np.array([len(r) for r in _REASONS])
        rea_off = np.concatenate([[0], np.cumsum(n_rea)[:-1]])
        rea = rea_off[which] + _i64(rng.random(count) * n_rea[which])
        # Designations through ownership say so.
        n_direct = count - int(ctrl.sum())
        rea[n_direct:] = rea_off[_SANCTIONS] + 2

        ex_lo = np.array([e[0] for e in _EXPIRY])[which]
        ex_hi = np.array([e[1] for e in _EXPIRY])[which]
        expires = on + ex_lo + _i64(rng.random(count) * (ex_hi - ex_lo))
        ex_null = (ex_hi == 0) | (rng.random(count) < np.array(_EXPIRY_NULL)[which])
        can_delist = on < AS_OF - 1
        delisted_null = ~(can_delist & (rng.random(count) < 0.12))
        delisted = _i64(on + 1 + np.floor(rng.random(count) * np.maximum(AS_OF - on - 1, 0)))
        sev_lo = np.array([s[0] for s in _SEVERITY])[which]
        sev_hi = np.array([s[1] for s in _SEVERITY])[which]
        severity = np.minimum(sev_lo + _i64(rng.random(count) * (sev_hi - sev_lo)), 100)
        list_str = _take(_LISTS, which)
        bid = _ids("B", gid)
        url = _join("/", "https://lists.example.org", list_str, bid)
        url = pc.if_else(pa.array(rng.random(count) < 0.85), url, pa.nulls(count, pa.string()))
        self.frames["blacklist"] = {
            "id": bid,
            "subject_id": plan.subject_ids(codes),
            "list": list_str,
            "authority": _take(_ALL_AUTHORITIES, auth, rng.random(count) < 0.08),
            "reason": _take(_ALL_REASONS, rea, rng.random(count) < 0.1),
            "listed_on": (on, None),
            "expires_on": (_i64(expires), ex_null),
            "delisted_on": (delisted, delisted_null),
            "severity": (_i64(severity), rng.random(count) < 0.25),
            "source_url": url,
        }


# --- entry point ------------------------------------------------------------------------------


def generate(
    out: Path,
    scale: int,
    seed: int,
    fmt: Literal["csv", "parquet"] = "csv",
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write a synthetic market of ``scale`` subjects into ``out``.

    Writes ``<file>.csv`` or ``<file>.parquet`` for every file of the input
    layout (header-only / empty when a file gets no rows) and returns the rows
    written per file. ``progress`` is called after each chunk with the number
    of subjects generated so far.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise UsageError(f"scale must be a positive integer, not {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, not {seed!r}")
    if fmt not in ("csv", "parquet"):
        raise UsageError(f"format must be csv or parquet, not {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = _Plan.make(scale, seed)
    counters = _Counters()
    writer = _Writer(out, fmt)
    order = (PERSONS, FIRMS, ROLES_FILE, OWNERSHIP, LOANS, GUARANTEES, BLACKLIST)
    try:
        done = 0
        for c in range(plan.n_chunks):
            frames = _Chunk(plan, c, counters).build()
            for spec in order:
                if spec.name in frames:
                    writer.write(spec, frames[spec.name])
            done += plan.persons(c)[1] - plan.persons(c)[0] + plan.firms(c)[1] - plan.firms(c)[0]
            if progress is not None:
                progress(done)
    finally:
        writer.close()
    return dict(writer.rows)
