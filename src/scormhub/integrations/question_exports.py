"""The question report as files: a CSV (questions, then every learner's answers) and an XLSX of two sheets.

A report holds a course's questions times its learners: small enough to build in memory; the XLSX is
written off the event loop all the same.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import anyio

from scormhub.domain.questions import QuestionReport, export_rows
from scormhub.integrations.exports import neutralise


def _cell(value: Any) -> Any:
    # Learners type answers: one starting with "=" must not become a formula in the admin's spreadsheet.
    return neutralise(value) if isinstance(value, str) else ("" if value is None else value)


def question_csv(report: QuestionReport) -> bytes:
    questions_header, questions, answers_header, answers = export_rows(report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(questions_header)
    writer.writerows([_cell(v) for v in row] for row in questions)
    writer.writerow([])
    writer.writerow(answers_header)
    writer.writerows([_cell(v) for v in row] for row in answers)
    # A BOM, so spreadsheet programs read the learners' names as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(report: QuestionReport) -> bytes:
    questions_header, questions, answers_header, answers = export_rows(report)
    # Imported here, not at the top: the web process never loads xlsxwriter (tests/http/test_reports.py).
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    for name, header, rows in (
        ("Questions", questions_header, questions),
        ("Answers", answers_header, answers),
    ):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, header, bold)
        for index, row in enumerate(rows, start=1):
            sheet.write_row(index, 0, [_cell(v) for v in row])
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, len(header) - 1, 22)
    book.close()
    return buffer.getvalue()


async def question_xlsx(report: QuestionReport) -> bytes:
    return await anyio.to_thread.run_sync(_xlsx, report)
