"""LibreOffice Calc's French help, as HTML pages: the how-to guides and the module's own pages, without its reference.

From ``libreoffice-help-fr`` (the help as shipped for offline use, ``usr/share/libreoffice/help/fr/text``), the
part about LibreOffice Calc that a user reads to get a task done: the task guides (``scalc/guide``, 97 pages:
filters, sorting, pivot tables, cell references, conditional formatting, scenarios, names, printing, formats,
import/export, ...), the keyboard shortcuts (``scalc/04``), the error codes and empty-cell handling
(``scalc/05``), the menu paths (``scalc/00``), the sample files page (``scalc/06``) and the module's overview pages
(``scalc/main*``: menus, toolbars, features). Left out: the command and function reference (``scalc/01``, 274
pages and about 920 KB of text, over the size this machine indexes in minutes) and the toolbar-icon stubs
(``scalc/02``, a line or two each). 132 pages, 278 KB of text as amqa reads it (3,593 texts embedded; the first
index took about 6 minutes on the shared 2 cores), one language (French): the set asks in French and in English
(cross-lingual). The pages are kept as the HTML the package ships, with their navigation ("Aide LibreOffice 7.4",
"Module", "Contenu", "Index"), "Rubriques connexes" link lists and the English "Help content debug info" footer
(``<footer><div class="debug">``, which the help's own style sheet in ``libreoffice-help-common`` hides with
``display: none``; a reader that ignores CSS indexes it), because page furniture is part of what issue 24
measures. Their sources are their paths under ``text/`` (``scalc/guide/autofilter.html``). The shared style
sheets and scripts are not needed to read the text and are not laid out.
"""
from __future__ import annotations

import shutil
from pathlib import Path

EVAL = Path(__file__).resolve().parent.parent

PACKAGES = ("libreoffice-help-fr",)
SET = EVAL / "libreoffice.jsonl"
PREFIX = "lo"
#: The help's page folder in the unpacked package.
TEXT = Path("usr/share/libreoffice/help/fr/text")
#: The pages laid out, by folder under TEXT (the package of Debian 12, LibreOffice 7.4): a fixed list, so that
#: the collection is the same wherever it is fetched, and a page missing from another version fails loudly.
PAGES = {
    "scalc": (
        "main0000", "main0100", "main0101", "main0102", "main0103", "main0104", "main0105", "main0106", "main0107",
        "main0112", "main0116", "main0200", "main0202", "main0203", "main0205", "main0206", "main0208", "main0210",
        "main0214", "main0218", "main0503",
    ),
    "scalc/00": (
        "00000004", "00000402", "00000403", "00000404", "00000405", "00000406", "00000407", "00000412",
        "avail_release", "sheet_menu",
    ),
    "scalc/04": (
        "01020000",
    ),
    "scalc/05": (
        "02140000", "empty_cells",
    ),
    "scalc/06": (
        "calcsamplefiles",
    ),
    "scalc/guide": (
        "address_auto", "auto_off", "autofilter", "autoformat", "background", "borders", "calc_date", "calc_series",
        "calc_timevalues", "calculate", "cell_enter", "cell_protect", "cell_unprotect", "cellcopy",
        "cellreference_dragdrop", "cellreferences", "cellreferences_url", "cellstyle_by_formula",
        "cellstyle_conditional", "cellstyle_minusvalue", "change_image_anchor", "consolidate", "csv_files",
        "csv_formula", "currency_format", "database_define", "database_filter", "database_sort", "datapilot",
        "datapilot_createtable", "datapilot_deletetable", "datapilot_edittable", "datapilot_filtertable",
        "datapilot_formatting", "datapilot_grouping", "datapilot_tipps", "datapilot_updatetable", "dbase_files",
        "design", "edit_multitables", "filters", "finding", "format_table", "format_value", "format_value_userdef",
        "formula_copy", "formula_enter", "formula_value", "formulas", "fraction_enter", "goalseek", "html_doc",
        "integer_leading_zero", "keyboard", "line_fix", "main", "mark_cells", "matrixformula", "move_dragdrop",
        "multi_tables", "multioperation", "multitables", "note_insert", "numbers_text", "pivotchart",
        "pivotchart_create", "pivotchart_delete", "pivotchart_edit", "pivotchart_filter", "pivotchart_update",
        "print_details", "print_exact", "print_landscape", "print_title_row", "printranges", "relativ_absolut_ref",
        "remove_duplicates", "rename_table", "rounding_numbers", "row_height", "scenario", "sorted_list",
        "specialfilter", "subtotaltool", "super_subscript", "table_cellmerge", "table_rotate", "table_view",
        "text_numbers", "text_rotate", "text_wrap", "userdefined_function", "validity", "value_with_name",
        "webquery", "wildcards", "year2000",
    ),
}


def sources() -> list[str]:
    return [f"{folder}/{name}.html" for folder, names in PAGES.items() for name in names]


def lay_out(tree: Path, out: Path) -> None:
    text = tree / TEXT
    missing = [s for s in sources() if not (text / s).is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} Calc help page(s) missing under {text}: {', '.join(missing[:5])}")
    for source in sources():
        (out / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(text / source, out / source)


LANGUAGES = {source: "fr" for source in sources()}
MIX = {
    "fr documents, asked in fr": 28,
    "fr documents, asked in en (cross-lingual)": 26,
    "unanswerable, fr": 5,
    "unanswerable, en": 5,
    "off-topic, fr": 2,
    "off-topic, en": 2,
    **{f"form {form}": 8 for form in ("prose", "list", "table", "code")},
    "total": 68,
}
