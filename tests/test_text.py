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
