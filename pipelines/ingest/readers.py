"""Read accounting exports (CSV, Excel .xlsx, Parquet) as text columns with their line numbers.

`sniff` looks at the start of a file and decides what it is: file type, encoding, separator,
header. `Source.relation` is then a DuckDB FROM expression giving one row per data row with a
`line` column (the row's first line in the file; for Excel the sheet row, for Parquet the row
number starting at 1) and the file's columns as text, named c0, c1, ... in header order.

Canonical UTF-8 CSV is read by DuckDB's parallel reader (`Source.csv`) into a table in file
order, each row's line following from its position (`load.number_rows`, `Plan.rows`). That
numbering is only right when every row sits on one line: the loader compares the rows DuckDB
returned with the file's newline count and, when they differ (a quoted field holding a newline,
blank lines) or DuckDB cannot parse a row (wrong number of fields), falls back to `materialize`,
which reads the file with Python's csv module and records each row's true first line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import pyarrow as pa

SAMPLE_BYTES = 64 * 1024
SAMPLE_ROWS = 1000
DELIMITERS = (",", ";", "\t", "|")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
BATCH_ROWS = 100_000
TITLE_LINES = 20  # lines of a report's title a CSV may start with, above its header


class ReadError(ValueError):
    """A file that cannot be read as a table; `rule` names why."""

    def __init__(self, path: Path, rule: str, message: str) -> None:
        super().__init__(f"{path}: rule {rule}: {message}")
        self.path, self.rule = path, rule


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    # The five bytes cp1252 leaves undefined decode as their latin-1 code points.
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("latepay_latin1", _cp1252_fallback)


@dataclass
class Source:
    """One input file, sniffed: what it is and how to read it."""

    path: Path
    file_type: str  # csv | xlsx | parquet
    columns: list[str]  # header names as in the file (stripped)
    sample: list[list[str | None]]  # first data rows, as text
    encoding: str = "utf-8"  # of the original file
    delimiter: str = ","
    sheet: str | None = None
    file_hash: str = ""
    newlines: int = 0  # physical lines of the text DuckDB reads (CSV only)
    skip: int = 0  # lines above the header: a report's title (CSV only)
    readable_path: Path | None = None  # UTF-8 copy when the original is not UTF-8
    table: str | None = None  # temp table holding the rows once materialized
    _temp_files: list[Path] = field(default_factory=list)

    @property
    def describe(self) -> str:
        if self.file_type == "csv":
            sep = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}[self.delimiter]
            header = f", header on line {self.skip + 1}" if self.skip else ""
            return f"csv {self.encoding} sep {sep}{header}"
        return f"xlsx sheet {self.sheet!r}" if self.file_type == "xlsx" else self.file_type

    @property
    def relation(self) -> str:
        """A FROM expression: line, c0, c1, ... (all text)."""
        if self.table:
            return self.table
        if self.file_type == "csv":
            return (
                f"(select row_number() over () + {self.first_line - 1} as line, * from {self.csv})"
            )
        raise AssertionError("Excel and Parquet sources are materialized when sniffed")

    @property
    def first_line(self) -> int:
        """The line of the first data row (CSV): below the title lines skipped and the header."""
        return self.skip + 2

    @property
    def csv(self) -> str:
        """DuckDB's reader of the CSV: c0, c1, ... (all text), in file order, no line numbers."""
        cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(self.columns)))
        delim = self.delimiter.replace("'", "''")
        path = str(self.readable_path or self.path).replace("'", "''")
        return (
            f"read_csv('{path}', delim = '{delim}', quote = '\"', escape = '\"', header = true, "
            f"skip = {self.skip}, auto_detect = false, columns = {{{cols}}})"
        )

    def cleanup(self) -> None:
        for temp in self._temp_files:
            temp.unlink(missing_ok=True)


def sniff(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Source:
    """Decide what `path` holds, from its first bytes; Excel and Parquet are read here."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError as exc:
        raise ReadError(path, "not_tabular", f"cannot read the file ({exc})") from exc
    suffix = path.suffix.lower()
    if not head.strip():
        raise ReadError(path, "empty_file", "the file is empty")
    if head.startswith(b"PK\x03\x04") or suffix in EXCEL_SUFFIXES:
        return _sniff_excel(con, path, sheet)
    if head.startswith(b"PAR1") or suffix in PARQUET_SUFFIXES:
        return _sniff_parquet(con, path)
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ReadError(
            path, "not_tabular", "old binary Excel (.xls) is not supported: save it as .xlsx"
        )
    return _sniff_csv(path, head, delimiter, encoding)


def _decode_sample(path: Path, head: bytes, encoding: str | None) -> tuple[str, str]:
    """(encoding, text) of the sample: utf-8 (with or without BOM), utf-16, or cp1252."""
    if encoding:
        name = codecs.lookup(encoding).name
        name = {"latin-1": "cp1252", "iso8859-1": "cp1252", "utf-8-sig": "utf-8"}.get(name, name)
        if name not in ("utf-8", "utf-16", "cp1252"):
            raise ReadError(path, "not_tabular", f"encoding {encoding} is not supported")
        return name, head.decode(name, errors="latepay_latin1" if name == "cp1252" else "ignore")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", head.decode("utf-16", errors="ignore")
    if b"\x00" in head:
        raise ReadError(path, "not_tabular", "binary content (NUL bytes): not a text table")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    try:
        return "utf-8", codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252", head.decode("cp1252", errors="latepay_latin1")


def _sniff_csv(path: Path, head: bytes, delimiter: str | None, encoding: str | None) -> Source:
    encoding, text = _decode_sample(path, head, encoding)
    if len(head) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # whole lines only
    skip, delimiter, rows = _table(text, (delimiter,) if delimiter else DELIMITERS)
    if delimiter is None:
        raise ReadError(
            path,
            "not_tabular",
            "no column separator found (tried , ; tab |): the file is not a table",
        )
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    source = Source(path, "csv", header, [_pad(r, len(header)) for r in rows[1:]])
    source.encoding, source.delimiter, source.skip = encoding, delimiter, skip
    return source


def _table(text: str, candidates: tuple[str, ...]) -> tuple[int, str | None, list[list[str]]]:
    """(lines above the header, separator, rows): the table `text` holds, below the title a
    report may start with (lines of one field at most for every separator: a title, a date,
    blank lines; at most TITLE_LINES). (0, None, []) when there is none. A header has two
    fields at least."""
    lines = text.split("\n")
    for skip in range(min(TITLE_LINES, len(lines) - 1) + 1):
        if skip and any(_filled(lines[skip - 1], d) > 1 for d in candidates):
            break  # a line of several fields that is not a header: not a title
        delimiter, rows = _choose_delimiter("\n".join(lines[skip:]), candidates)
        if delimiter is not None and sum(bool(f.strip()) for f in rows[0]) > 1:
            while not lines[skip].strip():  # (blank lines before the header are above it)
                skip += 1
            return skip, delimiter, rows
    return 0, None, []


def _filled(line: str, delimiter: str) -> int:
    """How many fields of `line` hold something."""
    return sum(bool(f.strip()) for f in next(csv.reader([line], delimiter=delimiter), []))


def _choose_delimiter(text: str, candidates: tuple[str, ...]) -> tuple[str | None, list[list[str]]]:
    best: tuple[int, str | None, list[list[str]]] = (0, None, [])
    for delimiter in candidates:
        rows = [
            r
            for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            if any(f.strip() for f in r)
        ][: SAMPLE_ROWS + 1]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(fields_of(r, width) == width for r in rows[1:])
        # A separator that splits the header and most rows alike wins; ties go to more columns.
        if rows[1:] and consistent < 0.5 * len(rows[1:]):
            continue
        score = width * 1000 + consistent
        if score > best[0]:
            best = (score, delimiter, rows)
    return best[1], best[2]


def fields_of(row: list[str], width: int) -> int:
    """How many fields `row` has, for a header of `width`: empty fields after the header's last
    column do not count (exports that end every row with a separator)."""
    if len(row) > width and not any(f.strip() for f in row[width:]):
        return width
    return len(row)


def _pad(row: list[str], width: int) -> list[str | None]:
    values: list[str | None] = [v if v != "" else None for v in row[:width]]
    return values + [None] * (width - len(values))


def hash_and_prepare(source: Source) -> None:
    """sha256 of the file; a UTF-8 copy of a non-UTF-8 CSV (streamed); its newline count."""
    digest = hashlib.sha256()
    newlines, last = 0, b"\n"
    with source.path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
            newlines += block.count(b"\n")
            last = block[-1:]
    source.file_hash = digest.hexdigest()
    if source.file_type != "csv":
        return
    if source.encoding == "utf-8":
        source.newlines = newlines + (last != b"\n")
        return
    # DuckDB reads UTF-8 and latin-1 only; cp1252 (€, curly quotes, œ in 0x80-0x9F) and UTF-16
    # are transcoded to a temporary UTF-8 file, block by block.
    fd, name = tempfile.mkstemp(prefix="latepay-", suffix=".csv")
    temp = Path(name)
    source._temp_files.append(temp)
    codec = "utf-16" if source.encoding == "utf-16" else "cp1252"
    errors = "strict" if codec == "utf-16" else "latepay_latin1"
    decoder = codecs.getincrementaldecoder(codec)(errors=errors)
    newlines, last_char = 0, "\n"
    with source.path.open("rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        for block in iter(lambda: src.read(1 << 22), b""):
            chunk = decoder.decode(block)
            if chunk:
                out.write(chunk)
                newlines += chunk.count("\n")
                last_char = chunk[-1]
        tail = decoder.decode(b"", final=True)
        out.write(tail)
        newlines += tail.count("\n")
        last_char = tail[-1] if tail else last_char
    source.readable_path = temp
    source.newlines = newlines + (last_char != "\n")


def materialize_csv(con: duckdb.DuckDBPyConnection, source: Source, table: str) -> None:
    """Read a CSV with Python's csv module into temp table `table`: line, c0.., n_fields.

    Slower than DuckDB's reader but exact: each row's first line is counted across quoted newlines
    and blank lines, and a row with the wrong number of fields is kept (n_fields tells) so that
    the loader can reject it instead of failing the file.
    """
    try:
        _materialize_csv(con, source, table)
    except UnicodeDecodeError as exc:
        raise _not_utf8(source.path) from exc


def _not_utf8(path: Path) -> ReadError:
    """A UTF-8 file (as its first bytes said) with a byte further on that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        where = ""
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f" at line {line} (byte 0x{data[exc.start]:02x})"
    return ReadError(
        path,
        "bad_encoding",
        f"the file starts as UTF-8 but is not UTF-8{where}: it mixes encodings; export it again "
        'in one encoding, or give it in a mapping file (encoding = "cp1252")',
    )


def _materialize_csv(con: duckdb.DuckDBPyConnection, source: Source, table: str) -> None:
    width = len(source.columns)
    schema = _rows_table(con, table, width)
    path = source.readable_path or source.path
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for _ in range(source.skip):  # the report's title, above the header
            handle.readline()
        lines: list[str] = []  # the physical lines of the row being read
        reader = csv.reader(_recorded(handle, lines), delimiter=source.delimiter)
        next(reader, None)
        previous_end = reader.line_num + source.skip
        batch: list[list] = []
        for row in reader:
            first_line, previous_end = previous_end + 1, reader.line_num + source.skip
            span, lines[:] = lines[:], []
            if not row or not any(f.strip() for f in row):
                continue  # blank line: not a row
            if len(span) > 1 and fields_of(row, width) != width:
                # a quote never closed swallowed the lines after it: each line on its own
                batch.extend(_line_by_line(span, first_line, width, source.delimiter))
            else:
                batch.append([first_line, *_pad(row, width), fields_of(row, width)])
            if len(batch) >= BATCH_ROWS:
                _append(con, table, schema, batch)
                batch = []
        _append(con, table, schema, batch)
    source.table = table


def _recorded(handle: Iterable[str], lines: list[str]) -> Iterator[str]:
    """The lines of `handle`, each also appended to `lines` (csv.reader reads no further than
    the row it returns)."""
    for line in handle:
        lines.append(line)
        yield line


def _line_by_line(span: list[str], first_line: int, width: int, delimiter: str) -> list[list]:
    """The rows of the physical lines of `span` (starting at `first_line`) read one by one; a
    line with an odd number of quotes gets n_fields -1 (rules.wrong_field_count says why)."""
    rows = []
    for offset, line in enumerate(span):
        if not line.strip():
            continue
        fields = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
        n_fields = -1 if line.count('"') % 2 else fields_of(fields, width)
        rows.append([first_line + offset, *_pad(fields, width), n_fields])
    return rows


def _append(con: duckdb.DuckDBPyConnection, table: str, schema: pa.Schema, rows: list) -> None:
    if not rows:
        return
    arrays = list(zip(*rows, strict=True))
    frame = pa.Table.from_arrays(
        [pa.array(a, type=f.type) for a, f in zip(arrays, schema, strict=True)], schema=schema
    )
    con.register("_latepay_batch", frame)
    con.execute(f"insert into {table} select * from _latepay_batch")
    con.unregister("_latepay_batch")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    text = str(value).strip()
    return text or None


def _sniff_excel(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> Source:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ReadError(path, "not_tabular", "reading .xlsx needs openpyxl") from exc
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ReadError(path, "not_tabular", f"not a readable .xlsx workbook ({exc})") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise ReadError(
                path, "not_tabular", f"no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)}"
            )
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header: list[str] | None = None
        titles = 0  # rows of one cell at most above the header
        data: list[list] = []
        empty: dict[int, list[int]] = {}  # row -> columns without a value (formulas?)
        for number, values in enumerate(rows, start=1):
            texts = [_cell_text(v) for v in values]
            if not any(texts):
                continue
            if None in values:
                empty[number] = [i for i, v in enumerate(values) if v is None]
            if header is None:
                if sum(bool(t) for t in texts) < 2:  # a report's title, above the header
                    titles += 1
                    continue
                header = [t or "" for t in texts]
                while header and not header[-1]:
                    header.pop()
                continue
            data.append([number, *_pad([t or "" for t in texts], len(header)), len(header)])
    finally:
        book.close()
    if empty:
        _refuse_uncached_formulas(path, ws.title, empty)
    if header is None and not titles:
        raise ReadError(path, "empty_file", "the workbook's sheet is empty")
    if header is None or len(header) < 2:
        raise ReadError(path, "not_tabular", "the sheet has fewer than two columns")
    source = Source(
        path, "xlsx", [h.strip() for h in header], [r[1:-1] for r in data[:SAMPLE_ROWS]]
    )
    source.sheet = ws.title
    table = f"_src_{abs(hash(str(path)))}"
    width = len(header)
    schema = _rows_table(con, table, width)
    for start in range(0, len(data), BATCH_ROWS):
        _append(con, table, schema, data[start : start + BATCH_ROWS])
    source.table = table
    return source


def _sniff_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    quoted = str(path).replace("'", "''")
    try:
        described = con.execute(f"describe select * from read_parquet('{quoted}')").fetchall()
    except duckdb.Error as exc:
        raise ReadError(path, "not_tabular", f"not a readable Parquet file ({exc})") from exc
    texts = []
    for i, (name, type_, *_rest) in enumerate(described):
        col = '"' + name.replace('"', '""') + '"'
        if type_ == "DATE" or type_.startswith("TIMESTAMP"):
            texts.append(f"strftime({col}::date, '%Y-%m-%d') as c{i}")
        else:
            texts.append(f"{col}::varchar as c{i}")
    table = f"_src_{abs(hash(str(path)))}"
    con.execute(
        f"create or replace temp table {table} as select row_number() over () as line, "
        f"{', '.join(texts)}, {len(described)} as n_fields from read_parquet('{quoted}')"
    )
    source = Source(path, "parquet", [d[0].strip() for d in described], [])
    source.sample = [
        list(r)
        for r in con.execute(
            f"select * exclude (line, n_fields) from {table} limit {SAMPLE_ROWS}"
        ).fetchall()
    ]
    source.table = table
    return source


def _rows_table(con: duckdb.DuckDBPyConnection, table: str, width: int) -> pa.Schema:
    """Create temp table `table` (line, c0..c{width-1}, n_fields) and return its Arrow schema."""
    cols = ", ".join(f"c{i} varchar" for i in range(width))
    con.execute(f"create or replace temp table {table} (line bigint, {cols}, n_fields integer)")
    return pa.schema(
        [("line", pa.int64())]
        + [(f"c{i}", pa.string()) for i in range(width)]
        + [("n_fields", pa.int32())]
    )


def _refuse_uncached_formulas(path: Path, title: str, empty: dict[int, list[int]]) -> None:
    """A formula cell saved without its computed value (a workbook written by a script) reads
    as empty: refused (rule formula_without_value) naming the sheet and the cell, never loaded
    as an empty value. Only the rows with empty cells are looked at, in a second pass."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for number, values in enumerate(book[title].iter_rows(values_only=True), start=1):
            for i in empty.get(number, ()):
                value = values[i] if i < len(values) else None
                if isinstance(value, str) and value.startswith("="):
                    raise ReadError(
                        path,
                        "formula_without_value",
                        f"sheet {title!r} cell {get_column_letter(i + 1)}{number} holds the "
                        f"formula {value} without a computed value; open and save the workbook "
                        "in Excel or LibreOffice so that its values are stored",
                    )
    finally:
        book.close()
