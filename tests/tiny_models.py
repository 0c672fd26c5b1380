"""Tiny random models for the default test suite: hidden 32, 2 layers, a tokenizer trained on the spot.

Each builder saves a Hugging Face folder (``save_pretrained``) and returns its path, so tests go through the
real loading code (``from_pretrained``). Built in seconds, no network.
"""
from __future__ import annotations

from pathlib import Path

import torch

WORDS = (
    "the of and to in is was for on that with as by at from are be this which it an or not have has were "
    "query document passage relevant true false yes no paris france french capital city river cell cells "
    "protein gene genes cancer patients treatment study results effect effects blood brain heart risk "
    "increase decrease higher lower association disease clinical trial virus infection immune response "
    "model models neural ranking retrieval search index sparse dense vector score scores first stage "
    "what how why when where who does do can could should would many much more less than about between "
    "water energy temperature pressure flow heat wing aircraft boundary layer shock wave speed mach "
    "electron electrons atom atoms light frequency signal noise system systems network computer data"
).split()


def corpus(n: int = 400) -> list[str]:
    """Deterministic sentences over :data:`WORDS`, to train tokenizers on."""
    out = []
    for i in range(n):
        k = 5 + i % 11
        out.append(" ".join(WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(k)))
    return out + [" ".join(WORDS)]


def wordpiece_tokenizer(path: Path, vocab_size: int = 400):
    """A BERT-style WordPiece tokenizer trained on :func:`corpus`, saved as a fast tokenizer folder."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    raw = BertWordPieceTokenizer(lowercase=True)
    raw.train_from_iterator(corpus(), vocab_size=vocab_size, min_frequency=1,
                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok = BertTokenizerFast(tokenizer_object=raw._tokenizer, unk_token="[UNK]", sep_token="[SEP]",
                            pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", do_lower_case=True)
    tok.save_pretrained(path)
    return tok


def unigram_tokenizer(path: Path):
    """A T5-style SentencePiece-unigram tokenizer (``</s>``, ``<pad>``, ``<unk>``) whose pieces are
    ``▁word`` for every word of :data:`WORDS` plus single characters, so 'true'/'false' are single pieces as
    monoT5 needs."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import T5TokenizerFast

    chars = sorted(set("".join(WORDS)) | set("0123456789.,?!-'"))
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + w, -1.0) for w in dict.fromkeys(WORDS)]
    pieces += [("\u2581", -3.0)] + [(c, -5.0) for c in chars] + [("\u2581" + c, -4.0) for c in chars]
    raw = Tokenizer(models.Unigram(pieces, unk_id=2))
    raw.normalizer = normalizers.Lowercase()
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    raw.post_processor = TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    tok = T5TokenizerFast(tokenizer_object=raw, eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
                          extra_ids=0)
    tok.save_pretrained(path)
    return tok


def sentencepiece_tokenizer(path: Path):
    """A DeBERTa-v3-style SentencePiece-unigram tokenizer (``[CLS] q [SEP] d [SEP]``, ``[PAD]`` 0, ``[UNK]``,
    ``[MASK]``) whose pieces are ``▁word`` for every word of :data:`WORDS` plus single characters, saved as a
    fast ``DebertaV2Tokenizer`` folder."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import DebertaV2TokenizerFast

    chars = sorted(set("".join(WORDS)) | set("0123456789.,?!-'"))
    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    pieces = [(t, 0.0) for t in specials] + [("\u2581" + w, -1.0) for w in dict.fromkeys(WORDS)]
    pieces += [("\u2581", -3.0)] + [(c, -5.0) for c in chars] + [("\u2581" + c, -4.0) for c in chars]
    raw = Tokenizer(models.Unigram(pieces, unk_id=3))
    raw.normalizer = normalizers.Lowercase()
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    raw.post_processor = TemplateProcessing(single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
                                            special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok = DebertaV2TokenizerFast(tokenizer_object=raw, bos_token="[CLS]", eos_token="[SEP]", cls_token="[CLS]",
                                 sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]")
    tok.save_pretrained(path)
    return tok


def deberta_v2_classifier(path: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """DebertaV2ForSequenceClassification in the DeBERTa-v3 layout (relative attention, shared position keys,
    ``c2p|p2c``, no token types) with a SentencePiece tokenizer: the seed's DeBERTa-v3 re-ranker recipe, tiny."""
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    path = Path(path)
    tok = sentencepiece_tokenizer(path)
    torch.manual_seed(seed)
    config = DebertaV2Config(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=64, max_position_embeddings=128, relative_attention=True,
                             position_buckets=16, max_relative_positions=-1, norm_rel_ebd="layer_norm",
                             share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
                             type_vocab_size=0, pad_token_id=tok.pad_token_id, num_labels=num_labels)
    DebertaV2ForSequenceClassification(config).eval().save_pretrained(path)
    return path


def _bert_config(vocab_size: int, **kwargs):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, **kwargs)


def bert_mlm(path: Path, seed: int = 0) -> Path:
    """BertForMaskedLM (what SPLADE checkpoints are) with a WordPiece tokenizer."""
    from transformers import BertForMaskedLM

    path = Path(path)
    tok = wordpiece_tokenizer(path)
    torch.manual_seed(seed)
    BertForMaskedLM(_bert_config(len(tok))).eval().save_pretrained(path)
    return path


def bert_classifier(path: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """BertForSequenceClassification (MiniLM / bge style cross-encoder) with a WordPiece tokenizer."""
    from transformers import BertForSequenceClassification

    path = Path(path)
    tok = wordpiece_tokenizer(path)
    torch.manual_seed(seed)
    BertForSequenceClassification(_bert_config(len(tok), num_labels=num_labels)).eval().save_pretrained(path)
    return path


def bert_encoder(path: Path, seed: int = 0, hidden_size: int = 32) -> Path:
    """A bare BertModel (a bi-encoder backbone, as all-MiniLM-L6-v2 is) with a WordPiece tokenizer, and no
    sentence-transformers files: a plain Hugging Face encoder (``hidden_size`` changes its vectors' dimension)."""
    from transformers import BertConfig, BertModel

    path = Path(path)
    tok = wordpiece_tokenizer(path)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tok), hidden_size=hidden_size, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).eval().save_pretrained(path)
    return path


def sentence_transformer(path: Path, pooling: str = "cls", normalize: bool = True, seed: int = 0) -> Path:
    """The tiny encoder as a sentence-transformers folder saved by sentence-transformers itself (Transformer,
    Pooling, optionally Normalize; max_seq_length 48, a ``query: `` prompt)."""
    from sentence_transformers import SentenceTransformer, models

    path = Path(path)
    backbone = bert_encoder(path.with_name(path.name + "-backbone"), seed=seed)
    transformer = models.Transformer(str(backbone), max_seq_length=48)
    modules = [transformer, models.Pooling(32, pooling_mode=pooling)]
    if normalize:
        modules.append(models.Normalize())
    SentenceTransformer(modules=modules, device="cpu", prompts={"query": "query: ", "document": ""},
                        similarity_fn_name="cosine" if normalize else "dot").save(str(path))
    return path


def distilbert(path: Path, seed: int = 0) -> Path:
    """A bare DistilBertModel (the BERT_Cat backbone) with a WordPiece tokenizer."""
    from transformers import DistilBertConfig, DistilBertModel

    path = Path(path)
    tok = wordpiece_tokenizer(path)
    torch.manual_seed(seed)
    config = DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                              max_position_embeddings=128)
    DistilBertModel(config).eval().save_pretrained(path)
    return path


def t5(path: Path, seed: int = 0) -> Path:
    """T5ForConditionalGeneration (monoT5 / RankT5 backbone) with a unigram tokenizer."""
    from transformers import T5Config, T5ForConditionalGeneration

    path = Path(path)
    tok = unigram_tokenizer(path)
    torch.manual_seed(seed)
    config = T5Config(vocab_size=len(tok), d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2,
                      num_heads=2, decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                      eos_token_id=tok.eos_token_id)
    T5ForConditionalGeneration(config).eval().save_pretrained(path)
    return path


__all__ = ["WORDS", "bert_classifier", "bert_encoder", "bert_mlm", "corpus", "deberta_v2_classifier", "distilbert",
           "sentence_transformer", "sentencepiece_tokenizer", "t5", "unigram_tokenizer", "wordpiece_tokenizer"]
