from amqa.ingest.chunking import ChunkSettings, chunk_document
from amqa.ingest.documents import load_folder
from amqa.errors import InvalidInputError

import pytest

# A one-page PDF with a text layer, written by hand (pdfium reads it; no PDF writer needed).
def make_pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_reads_every_supported_type_and_skips_the_rest(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Le campus de Metz accueille des étudiants.", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_text("# Titre\n\nUn texte en markdown.", encoding="utf-8")
    (tmp_path / "c.html").write_text("<html><head><title>Page</title><script>var x = 'caché';</script></head>"
                                     "<body><p>Texte visible.</p><style>p{}</style></body></html>", encoding="utf-8")
    (tmp_path / "d.pdf").write_bytes(make_pdf("The PDF text layer is read."))
    (tmp_path / "latin1.txt").write_bytes("Les élèves de l'école à Besançon.".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs, skipped = load_folder(tmp_path)
    by = {d.source: d for d in docs}
    assert sorted(by) == ["a.txt", "c.html", "d.pdf", "latin1.txt", "sub/b.md"]
    assert by["sub/b.md"].title == "Titre"
    assert by["c.html"].title == "Page" and "Texte visible." in by["c.html"].text and "caché" not in by["c.html"].text
    assert "text layer is read" in by["d.pdf"].text
    assert by["latin1.txt"].text == "Les élèves de l'école à Besançon." and by["latin1.txt"].language == "fr"
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "image.png"}
    assert "binary" in reasons["binary.txt"] and "unsupported" in reasons["image.png"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        load_folder(tmp_path / "nope")


def test_chunks_keep_exact_spans_overlap_and_stable_ids(engine):
    docs, _ = load_folder(engine.docs)
    settings = ChunkSettings(size=400, overlap=120)
    for doc in docs:
        chunks = chunk_document(doc, settings)
        assert [c.id for c in chunks] == [c.id for c in chunk_document(doc, settings)]
        for prev, c in zip(chunks, chunks[1:]):
            assert c.start < prev.end or doc.text[prev.end:c.start].strip() == ""  # no text is lost
        for c in chunks:
            assert doc.text[c.start:c.end] == c.text
            assert len(c.text) <= settings.size
            assert all(c.start <= s.start < s.end <= c.end for s in c.sentences)


def test_uploads_get_safe_names_size_limits_and_never_overwrite(tmp_path):
    from amqa.ingest.uploads import add_file

    docs = tmp_path / "docs"
    docs.mkdir()
    first = add_file(docs, b"Premier texte.", "notes.txt")
    second = add_file(docs, b"Second texte.", "notes.txt")
    assert first.name == "notes.txt" and second.name == "notes-2.txt"
    assert first.read_bytes() == b"Premier texte."
    for name, message in [("../../evil.txt", "may not contain a folder"), ("sub/evil.txt", "may not contain a folder"),
                          ("..\\\\evil.txt", "may not contain a folder"), (".hidden.txt", "plain file name"),
                          ("virus.exe", "amqa reads"), ("", "plain file name")]:
        with pytest.raises(InvalidInputError, match=message):
            add_file(docs, b"x", name)
    with pytest.raises(InvalidInputError, match="over the 1 MB limit"):
        add_file(docs, b"x" * 2_000_000, "big.txt", max_bytes=1_000_000)
    with pytest.raises(InvalidInputError, match="empty"):
        add_file(docs, b"  \n", "blank.txt")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["notes-2.txt", "notes.txt"]


def test_html_is_read_as_a_browser_shows_it(tmp_path):
    (tmp_path / "t.html").write_text(
        "<html><head><title>Tools\n  list</title></head><body><p>Keep the\n   cache small.</p>"
        "<table><tr><th>package</th><th>description</th></tr>"
        "<tr>\n  <td><code>etckeeper</code></td>\n  <td><p>store configuration</p><p>with Git</p></td>\n</tr>"
        "<tr><td></td><td>Tip</td></tr></table><pre>$ sudo etckeeper init</pre></body></html>", encoding="utf-8")
    (doc,), _ = load_folder(tmp_path)
    assert doc.title == "Tools list"
    assert doc.text.splitlines() == ["Keep the cache small.", "package | description",
                                     "etckeeper | store configuration with Git", "Tip", "$ sudo etckeeper init"]
