"""Tokenizers for raw text, chosen by name in a reader's options and recorded with every trained model.

"whitespace" suits text that is already tokenized (SST-2, TREC: PTB-style, space-separated).
"wordpunct" splits runs of word characters from runs of punctuation ("don ' t").
"treebank" splits raw text the way the training corpora are tokenized, Penn Treebank / Universal
Dependencies style: "do n't", "it 's", "ca n't", "gon na", "upper - stage" (but "e-mail", "non-profit"),
"U.S.", "Dr.", "100,000", "9/11", "!!!", URLs, e-mail addresses, @mentions and #hashtags kept whole.
It is what a model predicts raw text with (`mtl.load`, `mtl predict`, `mtl serve`), because a model only
knows the tokens it was trained on: split by wordpunct, "I don't like it" reached the tagger as
"don ' t" and `like` came out ADP.

Why written here and not taken from a library: on EWT's test `# text =` lines (2,077 sentences) NLTK 3.10's
Treebank tokenizers agree exactly with the gold words on 82.9% of sentences (on the original characters:
its quote rewriting costs 2.8 points more), segtok 1.5 on 84.5%, wordpunct on 71.0%, this one on 93.4%.
The rules were fitted on EWT's train lines (93.1% there) and only then measured on test
(tests/test_tokenize.py keeps the figure honest on the shared corpora). What remains is mostly what no
rule can know: typos split in the gold ("its" -> "it s", "cockerspaniels"), dates like 01-Feb-02.
A new tokenizer is one name in `TokenizerName` and one entry in `TOKENIZERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

TokenizerName = Literal["whitespace", "wordpunct", "treebank"]
Tokenizer = Callable[[str], list[str]]

WORDPUNCT = r"\w+|[^\w\s]+"

# Hyphenated words EWT keeps whole when the first part is one of these prefixes (fitted on EWT train:
# each kept joined at least once and split at most once there); otherwise "upper-stage" is 3 tokens.
PREFIXES = frozenset(
    "e non pre anti mid re post co over pro multi ex sub semi cross neo psycho socio counter intra un micro".split()
)
# Words that keep their period ("Dr.", "etc."), even at the end of a sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc inc co corp ltd no gen lt rev ft mt "
    "jan feb mar apr jun jul aug sep sept oct nov dec approx dept est".split()
)

# One alternative per kind of token, tried in this order at each position.
TREEBANK = re.compile(
    r"""
    (?:https?://|www\.|mailto:)\S+?(?=[)\]}>"',;:!?]*(?:\s|$))   # a URL, without the punctuation after it
  | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                                 # an e-mail address
  | (?<!\S)[@\#]\w+                                              # @mention, #hashtag
  | (?<!\S)(?:[:;=][-^]?[()DPp/\\|]+|\^_\^|\(:)(?!\S)            # emoticons :) ;-) :P
  | (?:[A-Za-z]\.){2,}                                           # U.S. i.e. p.m.
  | \d+(?:[.,:/-]\d+)+                                           # 100,000 3.5 9/11 10:30 713-853-3989
  | (?i:can(?=not\b)|gon(?=na\b)|got(?=ta\b)|wan(?=na\b)|gim(?=me\b)|lem(?=me\b))  # can|not gon|na
  | (?:[A-Z]{2,}|\d+)['’]s\b                                     # plurals CD's, 80's stay whole
  | (?i:(?:do|does|did|is|are|was|were|has|have|had|could|would|should)(?=nt\b)|that(?=s\b)|what(?=s\b))  # do|nt that|s
  | \w+(?=[nN]['’][tT]\b)                                        # do|n't ca|n't wo|n't
  | [nN]['’][tT]\b
  | \w+(?=['’](?i:s|m|d|ll|re|ve)\b)                             # it|'s I|'m we|'ll
  | ['’](?i:s|m|d|ll|re|ve)\b
  | ['’]\d\d\b                                                   # '73
  | \w+(?:[&'’]\w+)*(?:\.\w+)*                                   # words: AT&T, Sha'lan, alt.animals
  | [.!?]+                                                       # ... ?! .?
  | (\S)\1*                                                      # any other run of one character: !!! -- <<
    """,
    re.VERBOSE,
)


def treebank(text: str) -> list[str]:
    """Raw text -> its tokens in the Penn Treebank / UD style of the training corpora."""
    tokens: list[str] = []
    ends: list[int] = []  # where each token ends in text, to see which tokens touch
    last = len(text.rstrip())
    for match in TREEBANK.finditer(text):
        token, start = match.group(), match.start()
        if tokens and ends[-1] == start:
            before = tokens[-1]
            joined_prefix = (len(tokens) >= 2 and before == "-" and ends[-2] == start - 1
                             and tokens[-2].lower() in PREFIXES and token[:1].isalpha())
            if joined_prefix:  # e - mail -> e-mail
                tokens[-2:], ends[-2:] = [tokens[-2] + "-" + token], [match.end()]
                continue
            initial = len(before) == 1 and before.isupper() and match.end() < last  # "W." but not "... I."
            if token == "." and (before.lower() in ABBREVIATIONS or initial):
                tokens[-1], ends[-1] = before + ".", match.end()
                continue
        tokens.append(token)
        ends.append(match.end())
    return tokens


TOKENIZERS: dict[str, Tokenizer] = {
    "whitespace": str.split,
    "wordpunct": re.compile(WORDPUNCT).findall,
    "treebank": treebank,
}


def get_tokenizer(name: TokenizerName) -> Tokenizer:
    """The tokenizer called `name`: a function from text to its list of tokens."""
    try:
        return TOKENIZERS[name]
    except KeyError:
        raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}") from None
