"""Code and configuration lines are evidence only where the question asks for them (issue 24, item 4):
the question-side signal (asks_for_code), the sentence-side one (code_shaped) and the writer's rule."""
import pytest

from amqa.types import Outcome
from amqa.writers.extractive.sentences import WriterConfig, asks_for_code, code_shaped


@pytest.mark.parametrize("question", [
    "Quelle option de la commande affiche les fichiers cachés ?",
    "Which option makes the copy keep the timestamps?",
    "Quel réglage du fichier de configuration fixe le port ?",
    "What setting turns the cache off?",
    "Which key of the [server] section sets the log level?",
    "Quelle est la syntaxe d'une plage nommée ?",
    "What is the syntax of a cron entry?",
    "Dans quel fichier sont rangés les mots de passe ?",
    "Comment redémarrer le service sans couper les connexions ?",
    "How do I rename every photo of a folder at once?",
    "What does --dry-run do?",
    "Que fait la variable MAX_RETRIES ?",
    "Que renvoie =SOMME(B2:B9) quand une cellule est vide ?",
])
def test_questions_that_ask_for_code(question):
    assert asks_for_code(question)


@pytest.mark.parametrize("question", [
    "Pourquoi le musée a-t-il fermé en hiver ?",
    "Why did the bridge close last winter?",
    "Quelle est la population de la ville ?",
    "Who founded the weather station?",
    "En quelle année le club a-t-il été créé ?",
    "What does the report say about rainfall in the valley?",
])
def test_prose_questions_do_not(question):
    assert not asks_for_code(question)


@pytest.mark.parametrize("text", [
    'listen_port = 8080',
    'ServerName="www.example.org"',
    "$ sudo systemctl restart cron",
    "-v, --verbose",
    "/usr/local/etc/app.conf",
    "0 6 * * 1 /usr/local/bin/backup.sh",
    'set_var REQ_CITY "Lyon"',
    "if (x > 0) { y = x * 2; }",
])
def test_code_shaped_lines(text):
    assert code_shaped(text)


@pytest.mark.parametrize("text", [
    "Le pont a été fermé pendant deux mois à cause des crues.",
    "The bridge was closed for two months after the floods.",
    "Ouvrez le menu Fichier puis choisissez Enregistrer sous.",
    "Colonne | Description | Exemple",
    "Voir aussi le chapitre 3 (installation) pour les détails.",
    "Run the backup every Monday, as the guide explains (see chapter 2).",
])
def test_prose_lines_are_not(text):
    assert not code_shaped(text)


def test_a_configuration_line_does_not_answer_a_prose_question_but_answers_one_asking_for_it(tmp_path):
    """The real embedder over a tiny folder: a prose question whose closest sentence is a configuration
    line sharing a name with it is shown related passages, not an answer; asked for the setting, the
    same line answers; without the rule the prose question is answered by it."""
    from amqa import Engine

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "station.md").write_text(
        "# Weather station\n\n"
        "The weather station on the hill measures the temperature and the wind every ten minutes.\n"
        "Volunteers from the village built it in 2019 and read its data every morning.\n"
        "The readings are published on the village website each evening.\n\n"
        "## Example configuration\n\n"
        "```\n"
        'station_display_name = "Hilltop weather station"\n'
        'station_city_name = "Grenoble, Isère, France"\n'
        "upload_interval_seconds = 600\n"
        "```\n", encoding="utf-8")
    engine = Engine(docs, tmp_path / "store", progress=False)
    prose = ["What is the population of Grenoble?", "Quelle est la population de Grenoble ?"]
    engine.writer_config = WriterConfig(code_penalty=0.0, code_alone_related=False)  # the rule off
    assert [engine.answer(q).outcome for q in prose] == [Outcome.ANSWERED] * 2
    engine.writer_config = WriterConfig()  # the defaults: on
    for q in prose:
        answer = engine.answer(q)
        assert answer.outcome is Outcome.RELATED_ONLY, answer.text
        assert any("Grenoble" in c.text for c in answer.citations)  # still shown, as related
    asked = engine.answer("Which setting gives Grenoble as the station's city?")
    assert asked.outcome is Outcome.ANSWERED and "station_city_name" in asked.citations[0].text, asked.text
