from amqa.text import detect_language, normalize, split_sentences, tokenize


def sentences(text):
    return [text[a:b] for a, b in split_sentences(text)]


def test_french_abbreviations_and_numbers_do_not_split():
    text = "M. Champaney a parlé. L'école forme 6 000 élèves, soit 6.000 au total. Fin."
    assert sentences(text) == ["M. Champaney a parlé.", "L'école forme 6 000 élèves, soit 6.000 au total.", "Fin."]


def test_guillemets_stay_with_their_sentence():
    text = "Il a dit « Nous formons 1,600 ingénieurs. » Puis il est parti."
    assert sentences(text) == ["Il a dit « Nous formons 1,600 ingénieurs. »", "Puis il est parti."]


def test_english_titles_and_initials():
    text = "Dr. Smith met J. Doe in Paris. They signed the MoU."
    assert sentences(text) == ["Dr. Smith met J. Doe in Paris.", "They signed the MoU."]


def test_spans_are_offsets_into_the_text():
    text = "  Première phrase.\nDeuxième ligne sans point\n\nTroisième ! "
    for a, b in split_sentences(text):
        assert text[a:b] == text[a:b].strip() and text[a:b]
    assert sentences(text) == ["Première phrase.", "Deuxième ligne sans point", "Troisième !"]


def test_tokenize_handles_elision_accents_and_digit_groups():
    assert tokenize("l'école d'ingénieurs", "fr") == tokenize("Ecole ingenieurs", "fr")
    assert "6000" in tokenize("6 000 étudiants", "fr") and "1600" in tokenize("1,600 companies", "en")


def test_detect_language():
    assert detect_language("Combien d'apprentis sont formés ?") == "fr"
    assert detect_language("How many apprentices are trained?") == "en"
    assert detect_language("¿Cuántos estudiantes hay en la escuela?") == "es"


def test_normalize_digit_groups_and_accents():
    assert normalize("100 000 Élèves") == normalize("100,000 eleves") == normalize("100.000 élèves")


# --- readable quotes: what a person reads, with offsets that still point at the document -----------

MARKDOWN = ("## Accès\n\nLe **parking vélo** de la gare compte [112 places](https://exemple.org/velo) "
            "depuis *mars 2024*. ![Le parking](parking.jpg)\n"
            "À Besançon, l'ENSMM forme 900 élèves ingénieurs. //\u00a0©\u00a0 ENSMM/P1br\n"
            "[plan]: https://exemple.org/plan.pdf\n"
            "Commande : `ls **/*.md` puis # apt-get update.")


def test_readable_removes_markup_and_keeps_every_character_it_shows():
    from amqa.text import readable

    shown = readable(MARKDOWN)
    assert all(shown.text[i] == MARKDOWN[k] for i, k in enumerate(shown.kept))  # only removals
    assert list(shown.kept) == sorted(set(shown.kept))
    prose = shown.text.replace("`ls **/*.md`", "")  # a code span is left as it is
    for syntax in ("**", "](", "https://", "![", "##", "©", "P1br", "[plan]", "*mars"):
        assert syntax not in prose, syntax
    for words in ("parking vélo", "112 places", "mars 2024", "900 élèves ingénieurs.", "`ls **/*.md`",
                  "# apt-get update"):  # code and root prompts stay as they are
        assert words in shown.text, words


def test_readable_leaves_plain_text_alone():
    from amqa.text import readable

    plain = "Le campus de Rabat ouvrira en 2026 : 300 élèves (promo A_B) * 2 groupes.\n# apt-get install mc"
    assert readable(plain).text == plain and readable(plain).kept == tuple(range(len(plain)))


def test_marks_land_on_the_same_words_in_the_cleaned_quote():
    from amqa.types import Answer, Citation, Outcome

    start = MARKDOWN.index("Le **parking")
    end = MARKDOWN.index("![Le parking")
    text = MARKDOWN[start:end]
    marks = tuple((MARKDOWN.index(w), MARKDOWN.index(w) + len(w)) for w in ("112", "mars 2024"))
    cited = Citation(n=1, source="acces.md", chunk_id="acces.md#0", start=start, end=end, text=text, score=1.0,
                     marks=marks)
    bold = cited.marked_text("<b>", "</b>")
    assert [part.split("</b>")[0] for part in bold.split("<b>")[1:]] == [MARKDOWN[a:b] for a, b in marks]
    assert bold.replace("<b>", "").replace("</b>", "") == cited.quote and "**" not in cited.quote
    # The answer shows the quote whether its text holds the raw passage (today's writer) or the quote.
    for quoted in (cited.text, cited.quote):
        answer = Answer(question="?", text=f"D'après les documents : « {quoted} » [1]", citations=(cited,), hits=(),
                        outcome=Outcome.ANSWERED, language="fr")
        assert answer.marked_text("<b>", "</b>") == f"D'après les documents : « {bold} » [1]"


def test_a_mark_inside_removed_syntax_is_dropped():
    from amqa.types import Citation

    text = "Voir [le site](https://exemple.org/2024) en 2024."
    url_year = text.index("2024")
    cited = Citation(n=1, source="a.txt", chunk_id="a.txt#0", start=0, end=len(text), text=text, score=1.0,
                     marks=((url_year, url_year + 4), (text.rindex("2024"), text.rindex("2024") + 4)))
    assert cited.marked_text() == "Voir le site en **2024**."


def test_a_markdown_answer_quotes_clean_text_with_exact_offsets(tmp_path):
    from amqa import Engine

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "acces.md").write_text(MARKDOWN, encoding="utf-8")
    answer = Engine(docs, tmp_path / "store", "hash", progress=False).answer(
        "Combien de places compte le parking vélo de la gare ?")
    cited = answer.citations[0]
    assert MARKDOWN[cited.start:cited.end] == cited.text and "**parking vélo**" in cited.text
    shown = answer.marked_text("", "")
    assert "112 places" in shown and "**" not in shown and "https://" not in shown
    assert "**" not in cited.quote and "](" not in answer.to_dict()["citations"][0]["quote"]
    # The writer quotes the readable text itself (what `amqa ask --json` gives as "answer").
    assert "112 places" in answer.text and "**" not in answer.text and "https://" not in answer.text


def test_table_rows_and_urls_are_not_image_credits():
    from amqa.text import readable

    row = "Crédit: 10 000 € | Objet: navette | Année: 2024"
    assert readable(row).text == row
    url = "Voir https://photos.example.org/album pour les images."
    assert readable(url).text == url
    assert readable("Le campus ouvre en 2024. // © ENSMM/P1br").text == "Le campus ouvre en 2024."
