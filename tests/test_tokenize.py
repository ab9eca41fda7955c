"""The treebank tokenizer: raw text split the way the training corpora are (PTB / UD style), checked
rule by rule and, on the shared corpora, against EWT's gold words for its own `# text =` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtl.config import ModelConfig
from mtl.corpora import conllu
from mtl.corpora.tokenize import TOKENIZERS, get_tokenizer, treebank
from mtl.records import Record


@pytest.mark.parametrize(("text", "tokens"), [
    ("I don't like it.", ["I", "do", "n't", "like", "it", "."]),
    ("It's what we'll do, isn't it?", ["It", "'s", "what", "we", "'ll", "do", ",", "is", "n't", "it", "?"]),
    ("I can't, I won't, I cannot. We're gonna go", ["I", "ca", "n't", ",", "I", "wo", "n't", ",", "I", "can", "not",
                                                   ".", "We", "'re", "gon", "na", "go"]),
    ("the upper-stage e-mail, a non-profit", ["the", "upper", "-", "stage", "e-mail", ",", "a", "non-profit"]),
    ("Dr. Smith of the U.S. paid $5 for 100,000 on 9/11 at 10:30.",
     ["Dr.", "Smith", "of", "the", "U.S.", "paid", "$", "5", "for", "100,000", "on", "9/11", "at", "10:30", "."]),
    ("Great service!!! Really...", ["Great", "service", "!!!", "Really", "..."]),
    ('He said "no" (twice) in \'73', ["He", "said", '"', "no", '"', "(", "twice", ")", "in", "'73"]),
    ("mail a.b@c.com or see http://x.org/a?b=1, @alice #nlp :)",
     ["mail", "a.b@c.com", "or", "see", "http://x.org/a?b=1", ",", "@alice", "#nlp", ":)"]),
    ("the students' CDs and CD's", ["the", "students", "'", "CDs", "and", "CD's"]),
    ("dont do that", ["do", "nt", "do", "that"]),
    ("it 's already split .", ["it", "'s", "already", "split", "."]),  # tokenized text stays as it is
    ("   ", []),
])
def test_treebank_rules(text: str, tokens: list[str]) -> None:
    assert treebank(text) == tokens


def test_tokens_are_substrings_of_the_text_in_order() -> None:
    # Nothing is rewritten (NLTK's Treebank tokenizer turns " into `` and ''): a token is the text's own characters.
    text = 'He said "I\'d say it’s fine" -- Mr. O\'Neil, e-mail: x@y.com!!'
    assert "".join(treebank(text)) == "".join(text.split())


def test_every_tokenizer_name_is_a_model_setting() -> None:
    assert set(TOKENIZERS) == set(ModelConfig.model_fields["tokenizer"].annotation.__args__)
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'"):
        get_tokenizer("bpe")  # type: ignore[arg-type]


def ewt_texts(shared_corpora: Path, split: str) -> list[tuple[str, list[str]]]:
    """(the `# text =` line, the gold words) of every EWT sentence of the split, through mtl's reader."""
    path = shared_corpora / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu"
    records = conllu.read(path, conllu.Options(), corpus="ud_english_ewt", task="pos", split=split)
    return [(next(line[9:] for line in r.raw.splitlines() if line.startswith("# text = ")), r.tokens)
            for r in records if isinstance(r, Record)]


def test_treebank_agrees_with_ewt_gold_words_far_more_often_than_wordpunct(shared_corpora: Path) -> None:
    sentences = ewt_texts(shared_corpora, "test")
    assert len(sentences) == 2077

    def exact(name: str) -> float:
        tokenize = get_tokenizer(name)
        return sum(tokenize(text) == words for text, words in sentences) / len(sentences)

    # Measured when the rules were written (fitted on train): treebank 93.4%, wordpunct 71.0%. The rules are
    # plain regular expressions, so these shares are the same on every machine.
    assert exact("treebank") >= 0.93
    assert exact("treebank") - exact("wordpunct") >= 0.2
