"""The transformers answer writer on a tiny causal LM that the test builds itself: random weights, a
word-level tokenizer made with the `tokenizers` library, saved to a temp folder."""
import pytest

from amqa import Verification
from amqa.errors import GeneratorError
from amqa.writers.llm.models import TransformersChat, cut_at_stops

transformers = pytest.importorskip("transformers", reason="pip install -e '.[test]'")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # subprocesses, torch, or a real model

QUESTION = "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?"
WORDS = "la le de convention signée en 2016 ENSMM Arts et Métiers campus réponse source [1] . : User System Assistant".split()


def build_tiny_model(folder, chat_template=None):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "<eos>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    if chat_template:
        hf_tok.chat_template = chat_template
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=4096, n_embd=16, n_layer=1, n_head=2,
                        bos_token_id=2, eos_token_id=2, pad_token_id=1)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # special tokens get zero logits, so greedy decoding writes words
        model.transformer.wte.weight[:3] = 0
    model.save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-lm"))


MESSAGES = [{"role": "system", "content": "Réponds avec les sources."},
            {"role": "user", "content": "Question : la convention ENSMM ?"}]


def test_loads_and_streams_with_the_fallback_chat_layout(tiny):
    chat = TransformersChat(str(tiny), max_new_tokens=12)
    prompt, templated = chat.prompt(MESSAGES)
    assert not templated and prompt.startswith("System: Réponds") and prompt.endswith("\nAssistant:")
    pieces = list(chat.chat_stream(MESSAGES))
    assert len(pieces) >= 2 and all(isinstance(p, str) for p in pieces)
    assert set(" ".join(pieces).split()) <= set(WORDS) | {"<unk>"}


def test_a_reader_that_stops_early_stops_the_model(tiny):
    # A cut-off (--llm-timeout, the size cap, Stop in the UI) closes the stream after a few pieces: the
    # generating thread must end then, not write on to max_new_tokens (3,000 here: seconds of CPU).
    import threading

    chat = TransformersChat(str(tiny), max_new_tokens=3000)
    chat._load()
    stream = chat.chat_stream(MESSAGES)
    pieces = [next(stream) for _ in range(3)]
    # By name: other threads (a progress bar's monitor) come and go and made a count of them flaky.
    writers = [t for t in threading.enumerate() if t.name == "amqa-generate"]
    assert len(writers) == 1 and writers[0].is_alive()  # the model is writing
    stream.close()
    assert not writers[0].is_alive() and all(isinstance(p, str) for p in pieces)
    chat.max_new_tokens = 8
    assert list(chat.chat_stream(MESSAGES))  # and the model is free for the next question


def test_a_model_that_writes_nothing_is_a_clear_error_soon(tiny, monkeypatch):
    import time

    chat = TransformersChat(str(tiny), max_new_tokens=8)
    model, _ = chat._load()
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda **kw: (time.sleep(3), generate(**kw)))  # a stuck prefill
    monkeypatch.setattr(chat, "STALL_SECONDS", 0.5)
    monkeypatch.setattr(chat, "STOP_SECONDS", 0.2)
    t0 = time.monotonic()
    with pytest.raises(GeneratorError, match="the local model wrote nothing"):
        list(chat.chat_stream(MESSAGES))
    assert time.monotonic() - t0 < 2.5  # not held until the stuck model returns


def test_uses_the_tokenizers_chat_template_when_it_has_one(tmp_path):
    folder = build_tiny_model(tmp_path / "templated",
                              "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>")
    prompt, templated = TransformersChat(str(folder)).prompt(MESSAGES)
    assert templated and prompt.startswith("<|system|>Réponds") and prompt.endswith("<|assistant|>")


def test_engine_verifies_the_reply_and_falls_back(engine, tiny):
    answer = engine.answer(QUESTION, generator=TransformersChat(str(tiny), max_new_tokens=16))
    assert answer.generator == f"transformers:{tiny}"
    assert answer.verification is Verification.FALLBACK  # random words cite nothing verifiable
    assert answer.draft and answer.text == engine.answer(QUESTION).text


def test_prompt_longer_than_the_context_is_a_clear_error(engine, tiny):
    chat = TransformersChat(str(tiny), max_new_tokens=5000)  # 4096 positions
    with pytest.raises(GeneratorError, match="too long for the model's context"):
        list(chat.chat_stream(MESSAGES))
    answer = engine.answer(QUESTION, generator=chat)
    assert "too long" in answer.verification_reason and answer.citations


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(GeneratorError, match="could not load the model folder"):
        list(TransformersChat(str(tmp_path / "nope")).chat_stream(MESSAGES))


def test_stop_strings_end_the_answer():
    assert "".join(cut_at_stops(["La réponse", " est 2016 [1].\nUs", "er: et encore"], ["\nUser:"])) == \
        "La réponse est 2016 [1]."
    assert "".join(cut_at_stops(["pas de ", "stop ici"], ["\nUser:"])) == "pas de stop ici"


def test_amqa_ask_with_the_local_model(seed_store, tiny, capsys):
    from amqa.frontends.cli import main

    # In this process: torch is already loaded here, a subprocess would spend 10 s loading it again.
    assert main(["ask", QUESTION, "--store", str(seed_store), "--generator", f"transformers:{tiny}"]) == 0
    out = capsys.readouterr().out
    assert "[not verified:" in out and "the extractive answer follows" in out
    assert "D'après les documents" in out and "001_3c9c59b90a3a1c43.txt" in out
