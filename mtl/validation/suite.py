"""Record-level checks: one Great Expectations suite over one frame of a corpus's records.

The frame holds one row per record of a chunk of the corpus, of any split (a `split` column tells them apart):
a chunk of `ingest.chunk_records` units is one GX run, whose fixed cost (~0.1 s) is paid once per chunk rather
than once per split. SuiteTotals sums the chunks' results into the corpus's.
GX has no expectations over token or tag lists, so the frame holds scalar columns derived from them
(n_tokens, n_blank_tokens per text here, and where the record holds a character no string may hold:
content.py; the task kind adds its own, e.g. n_tags, unknown_tags).

Failing rows come back from GX itself: result_format COMPLETE lists every failing row's position in
the frame (its pandas index; the frame has a RangeIndex). We do not ask for
unexpected_index_column_names=["uid"]: it is ~10x slower on many failures (1.1 s against 0.11 s for
33k failures in 67k rows), and a position is exact even where uids collide. The failing values are
read back from the frame, since GX's unexpected_list stops at 200 values even in COMPLETE.

Great Expectations is imported inside the functions: importing it costs 2-3 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mtl.config import ValidationConfig
from mtl.records import Record
from mtl.tasks.kind import Check
from mtl.validation.content import CHARACTER_CHECKS, bad_characters, escape_surrogates

if TYPE_CHECKING:
    import pandas as pd

    from mtl.tasks.kind import TaskKind, TaskOptions


@dataclass(slots=True)
class ExpectationSummary:
    expectation: str  # GX's expectation type, e.g. "expect_column_values_to_be_between"
    column: str  # the column, or "n_tags,n_tokens" for a column pair
    success: bool
    unexpected_count: int
    key: str  # the quarantine key of a record failing it


@dataclass(slots=True)
class SuiteResult:
    name: str
    success: bool
    expectations: list[ExpectationSummary]
    # row position in the frame -> (key, reason) of every expectation the row failed, in suite order
    reasons: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


def record_frame(records: list[Record], kind: TaskKind, options: TaskOptions, labels: list[str],
                 duplicate: list[bool] | None = None) -> pd.DataFrame:
    """One row per record, in order: its uid and split, its uid again where an earlier record had it
    (`duplicate`), token counts of each of its texts, and the columns its kind derives from its fields (GX sees
    only these scalars, never the lists)."""
    import pandas as pd

    names = list(kind.fields(options))
    found = [bad_characters(record.fields) for record in records]
    fields = [escape_surrogates(record.fields) if "lone_surrogate" in where else record.fields
              for record, where in zip(records, found)]
    base = pd.DataFrame({name: [values.get(name) for values in fields] for name in names}, dtype=object)
    scalar = {"uid": [record.uid for record in records], "split": [record.split for record in records]}
    repeated = duplicate if duplicate is not None else [False] * len(records)
    scalar["duplicate_uid"] = [record.uid if again else "" for record, again in zip(records, repeated)]
    for key in CHARACTER_CHECKS:
        scalar[key] = [where.get(key, "") for where in found]
    for text in kind.text_fields(options):
        tokens = base[text]
        scalar[_count(text)] = tokens.map(len).astype("int64")
        # a token that is "" or whitespace breaks every tokenizer downstream
        scalar[_count(text, "blank")] = tokens.map(lambda row: sum(not t.strip() for t in row)).astype("int64")
    return pd.concat([pd.DataFrame(scalar, index=base.index), kind.derived_columns(base, labels)], axis=1)


@dataclass(slots=True)
class SuiteTotals:
    """The suite's results over every chunk of a corpus, summed: each expectation's failures, and success only
    where every chunk succeeded (the expectations have no `mostly`, so this is the whole corpus's verdict)."""

    name: str
    success: bool = True
    expectations: list[ExpectationSummary] = field(default_factory=list)

    def add(self, result: SuiteResult) -> None:
        self.success = self.success and result.success
        if not self.expectations:
            self.expectations = [ExpectationSummary(e.expectation, e.column, e.success, e.unexpected_count, e.key)
                                 for e in result.expectations]
            return
        for total, chunk in zip(self.expectations, result.expectations, strict=True):
            total.success = total.success and chunk.success
            total.unexpected_count += chunk.unexpected_count


def _count(text: str, what: str = "") -> str:
    """The count column of a text field: n_tokens, n_blank_tokens, n_tokens_b, n_blank_tokens_b."""
    return f"n_{what + '_' if what else ''}{text}"


def common_checks(config: ValidationConfig, text_fields: list[str]) -> list[Check]:
    """The kind-independent expectations, on each text of a record; the task kind's own follow them."""
    import great_expectations as gx

    expect = gx.expectations
    checks: list[Check] = []
    for text in text_fields:
        n, blank = _count(text), _count(text, "blank")
        what = "" if text == "tokens" else f" in {text}"
        checks.append(Check(expect.ExpectColumnValuesToBeBetween(column=n, min_value=1), "empty",
                            f"empty: no tokens{what}"))
        if config.min_tokens > 1:
            checks.append(Check(expect.ExpectColumnValuesToBeBetween(column=n, min_value=config.min_tokens),
                                "too_short", f"too short: {{value}} tokens{what} < min_tokens {config.min_tokens}"))
        checks += [
            Check(expect.ExpectColumnValuesToBeBetween(column=n, max_value=config.max_tokens), "too_long",
                  f"too long: {{value}} tokens{what} > max_tokens {config.max_tokens}"),
            Check(expect.ExpectColumnValuesToBeBetween(column=blank, max_value=0), "blank_token",
                  f"blank token: {{value}} empty or whitespace tokens{what}"),
        ]
    # in any string of the record (texts, tags, label): Parquet and the quarantine file must be able to hold it
    checks += [Check(expect.ExpectColumnValuesToBeInSet(column=key, value_set=[""]), key, reason)
               for key, reason in CHARACTER_CHECKS.items()]
    # a uid some earlier record of the corpus has (duplicate_uid holds it, "" otherwise; CorpusValidator remembers
    # every uid as a hash): GX's own uniqueness check would see only one chunk
    checks.append(Check(expect.ExpectColumnValuesToBeInSet(column="duplicate_uid", value_set=[""]), "duplicate_uid",
                        "duplicate uid: {value}"))
    return checks


def run_suite(name: str, frame: pd.DataFrame, checks: list[Check]) -> SuiteResult:
    """Validate `frame` against `checks` in one fresh ephemeral GX context; collect failing rows."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if not frame.index.equals(pd.RangeIndex(len(frame))):
        raise ValueError("run_suite needs a frame with a RangeIndex: failing rows are reported by position")
    context = gx.get_context(mode="ephemeral")
    # the per-metric tqdm bars would flood the logs of every pipeline run
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
        .get_batch(batch_parameters={"dataframe": frame})
    )
    # adding the suite to the context gives every expectation an id, which is how results (returned
    # in GX's own order) are matched back to their reasons
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=[check.expectation for check in checks]))
    check_of = {check.expectation.id: check for check in checks}
    order = {check.expectation.id: i for i, check in enumerate(checks)}
    if None in check_of or len(check_of) != len(checks):
        raise RuntimeError(f"suite {name}: GX did not give every expectation its own id")
    validation = batch.validate(suite, result_format={"result_format": "COMPLETE"})

    found: dict[int, list[tuple[int, str, str]]] = {}
    summaries: list[tuple[int, ExpectationSummary]] = []
    for result in validation.results:
        config = result.expectation_config
        if result.exception_info.get("raised_exception"):
            # a broken expectation must never pass records silently
            raise RuntimeError(f"suite {name}: {config.type} raised: {result.exception_info['exception_message']}")
        check = check_of[config.id]
        kwargs = config.kwargs
        columns = [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]
        columns = columns or list(kwargs.get("column_list", []))
        column = ",".join(columns)
        positions = [int(position) for position in result.result.get("unexpected_index_list") or []]
        count = int(result.result.get("unexpected_count") or 0)
        if len(positions) != count:
            raise RuntimeError(f"suite {name}: {config.type} reported {count} failures but listed {len(positions)}")
        # the values come from the frame: GX's unexpected_list stops at 200 even in COMPLETE
        # (great_expectations.constants.MAX_RESULT_RECORDS), while its index list is whole
        values = frame[columns].to_numpy()[positions] if positions and columns else [[]] * len(positions)
        for position, value in zip(positions, values):
            reason = check.reason.replace("{value}", _render(value))
            found.setdefault(position, []).append((order[config.id], check.key, reason))
        summaries.append(
            (order[config.id], ExpectationSummary(config.type, column, bool(result.success), count, check.key))
        )

    return SuiteResult(
        name=name,
        success=bool(validation.success),
        expectations=[summary for _, summary in sorted(summaries, key=lambda item: item[0])],
        reasons={position: [(key, reason) for _, key, reason in sorted(found_)] for position, found_ in found.items()},
    )


def _render(value: Any) -> str:
    """A failing row's values as a person reads them: one column plain, a column pair as "3 vs 4"."""
    return " vs ".join(str(item) for item in list(value))
