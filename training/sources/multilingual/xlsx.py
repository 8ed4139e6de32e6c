"""The first worksheet of an .xlsx workbook, read with the standard library (BAN-PL's HATE-WAR-PL file).

One spreadsheet does not justify adding openpyxl to the dependencies; a saved table holds few cell kinds.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from training.sources._common import require

_XLSX = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_XLSX_RELATION = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PACKAGE_RELATIONS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_CELL_COLUMN = re.compile(r"([A-Z]+)\d*")


def _xml(data: bytes) -> ElementTree.Element:
    """One XML part of the workbook, parsed.

    The workbook is a corpus file the operator downloaded, read at training time only; ElementTree resolves
    no external entities and the expat it uses bounds entity expansion, so defusedxml would add a
    dependency for no protection this needs.
    """
    return ElementTree.fromstring(data)  # noqa: S314 - a downloaded corpus file; see the docstring


def _xlsx_first_sheet(book: zipfile.ZipFile) -> str:
    """The archive path of the workbook's first worksheet, as its relationships name it."""
    workbook = _xml(book.read("xl/workbook.xml"))
    first = workbook.find(f"{_XLSX}sheets/{_XLSX}sheet")
    relations = _xml(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in relations.iter(_PACKAGE_RELATIONS)}
    target = targets.get(first.get(_XLSX_RELATION) if first is not None else None, "worksheets/sheet1.xml")
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _xlsx_text(element: ElementTree.Element) -> str:
    """A string item: one ``<t>``, or rich-text runs ``<r><t>``; phonetic hints (``<rPh>``) are not text."""
    parts = [t.text or "" for t in element.findall(f"{_XLSX}t")]
    parts += [t.text or "" for run in element.findall(f"{_XLSX}r") for t in run.findall(f"{_XLSX}t")]
    return "".join(parts)


def _xlsx_column(reference: str | None, fallback: int) -> int:
    match = _CELL_COLUMN.match(reference or "")
    if match is None:
        return fallback
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def read_xlsx(path: Path) -> pd.DataFrame:
    """The first worksheet of an .xlsx workbook as text cells, the first row being the header.

    Read with the standard library so that one spreadsheet does not add openpyxl to the dependencies. It
    knows the cell kinds a saved table holds: shared strings (Excel), inline strings (openpyxl, pandas),
    numbers and booleans (kept as written: "3", "1"). Formulas count by their cached value.
    """
    with zipfile.ZipFile(require(path)) as book:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in book.namelist():
            strings = _xml(book.read("xl/sharedStrings.xml"))
            shared = [_xlsx_text(item) for item in strings.iter(f"{_XLSX}si")]
        sheet = _xml(book.read(_xlsx_first_sheet(book)))
    rows: list[dict[int, str]] = []
    for row in sheet.iter(f"{_XLSX}row"):
        cells: dict[int, str] = {}
        for position, cell in enumerate(row.findall(f"{_XLSX}c")):
            kind = cell.get("t", "n")
            if kind == "inlineStr":
                inline = cell.find(f"{_XLSX}is")
                value = _xlsx_text(inline) if inline is not None else ""
            else:
                raw = cell.find(f"{_XLSX}v")
                value = raw.text or "" if raw is not None else ""
                if kind == "s" and value:
                    value = shared[int(value)]
            cells[_xlsx_column(cell.get("r"), position)] = value
        rows.append(cells)
    if not rows:
        raise ValueError(f"{path}: empty worksheet")
    header = [rows[0][i] for i in sorted(rows[0])]
    columns = sorted(rows[0])
    return pd.DataFrame([[cells.get(i, "") for i in columns] for cells in rows[1:]], columns=header, dtype=str)
