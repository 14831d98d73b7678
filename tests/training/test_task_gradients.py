"""The Gram matrix and combined update of TaskGradients equal brute-force per-task backward passes."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from mtl.encoders import CNNEncoder, LSTMEncoder, TransformerEncoder
from mtl.heads import ClassificationHead, TaggingHead
from mtl.training.task_gradients import TaskGradients, representation_leaf

VOCAB = 30
ENCODERS = {
    "lstm": partial(LSTMEncoder, embed_dim=8, hidden_dim=6, num_layers=2, dropout=0.0),
    "cnn": partial(CNNEncoder, embed_dim=8, channels=4, dropout=0.0),
    "transformer": partial(TransformerEncoder, dim=8, num_layers=1, num_heads=2, ff_dim=16, dropout=0.0),
}


def batch(seed: int, lengths: list[int]) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, 12, (n,), generator=g)  # a small id range: tasks share tokens
    mask = ids != 0
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": torch.zeros_like(ids),
        "word_starts": mask,
        "tag_labels": torch.randint(0, 3, ids.shape, generator=g).masked_fill(~mask, -100),
        "class_labels": torch.randint(0, 3, (len(lengths),), generator=g),
    }


def setup(name: str, encoder=None):
    torch.manual_seed(0)
    encoder = encoder if encoder is not None else ENCODERS[name](VOCAB)
    heads = [
        ClassificationHead(encoder.out_dim, ["a", "b", "c"], dropout=0.0),
        TaggingHead(encoder.out_dim, ["x", "y", "z"], dropout=0.0),
    ]
    batches = [batch(1, [5, 3, 4]), batch(2, [6, 6])]
    batches[0]["labels"] = batches[0]["class_labels"]
    batches[1]["labels"] = batches[1]["tag_labels"]
    return encoder, heads, batches


def losses_of(encoder, heads, batches):
    return [h.loss(h(encoder(b["input_ids"], b["attention_mask"]), b), b) for h, b in zip(heads, batches)]


@pytest.mark.parametrize("name", list(ENCODERS))
def test_parameter_mode_gram_and_update_are_exact(name: str) -> None:
    check_parameter_mode(*setup(name))


def test_parameter_mode_is_exact_on_a_pretrained_encoder(tiny_pretrained) -> None:
    """A transformers model's word-embedding table (its input embeddings) is taken by the
    looked-up rows too."""
    from mtl.encoders import PretrainedEncoder

    encoder = PretrainedEncoder(VOCAB, str(tiny_pretrained("bert")), padding_idx=0, dropout=0.0)
    assert TaskGradients(encoder).lookup is encoder.model.embeddings.word_embeddings
    check_parameter_mode(*setup("pretrained", encoder))


def check_parameter_mode(encoder, heads, batches) -> None:
    shared = [p for p in encoder.parameters()]

    # brute force: full dense gradient of every shared parameter, per task
    reference = []
    for loss in losses_of(encoder, heads, batches):
        grads = torch.autograd.grad(loss, shared, allow_unused=True)
        reference.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, shared)]))
    J = torch.stack(reference).double()
    weights = torch.tensor([0.3, 1.7], dtype=torch.float64)

    task_gradients = TaskGradients(encoder)
    with task_gradients.capture_lookups() as lookups:
        losses = losses_of(encoder, heads, batches)
    pairs = [(b["input_ids"], looked_up) for b, looked_up in zip(batches, lookups)]
    gram, update = task_gradients.parameters_step(losses, heads, pairs)
    torch.testing.assert_close(gram, J @ J.T, rtol=1e-5, atol=1e-8)

    update.apply(weights)
    combined = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in shared]).double()
    torch.testing.assert_close(combined, weights @ J, rtol=1e-5, atol=1e-7)

    # heads get their own unweighted gradient
    for head, b in zip(heads, batches):
        own = torch.autograd.grad(head.loss(head(encoder(b["input_ids"], b["attention_mask"]), b), b), list(head.parameters()))
        for p, g in zip(head.parameters(), own):
            torch.testing.assert_close(p.grad, g)


@pytest.mark.parametrize("name", list(ENCODERS))
def test_representation_mode_matches_a_weighted_backward(name: str) -> None:
    """Also where ``pooled`` is computed from ``hidden`` (CNN, Transformer): that path counts once."""
    encoder, heads, batches = setup(name)
    one = batches[0] | {"labels": batches[0]["class_labels"]}
    other = batches[0] | {"labels": batches[0]["tag_labels"]}
    weights = torch.tensor([2.0, 0.5], dtype=torch.float64)

    encoded = encoder(one["input_ids"], one["attention_mask"])
    expected_loss = 2.0 * heads[0].loss(heads[0](encoded, one), one) + 0.5 * heads[1].loss(heads[1](encoded, other), other)
    expected = torch.autograd.grad(expected_loss, list(encoder.parameters()))

    encoded = encoder(one["input_ids"], one["attention_mask"])
    leaf = representation_leaf(encoded)
    losses = [heads[0].loss(heads[0](leaf, one), one), heads[1].loss(heads[1](leaf, other), other)]
    gram, update = TaskGradients(encoder).representation_step(losses, heads, leaf, encoded)
    assert gram.shape == (2, 2) and gram[0, 0] > 0 and gram[1, 1] > 0
    update.apply(weights)
    for p, g in zip(encoder.parameters(), expected):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", list(ENCODERS))
def test_representation_mode_keeps_only_the_outputs_the_heads_read(name: str) -> None:
    """Heads on the pooled vector: the matrix holds only its (B*D) gradients, the Gram
    matrix is theirs, and the update is still the weighted backward."""
    torch.manual_seed(0)
    encoder = ENCODERS[name](VOCAB)
    heads = [ClassificationHead(encoder.out_dim, ["a", "b", "c"], dropout=0.0) for _ in range(3)]  # pooling "encoder"
    one = batch(1, [5, 3, 4])
    labels = [torch.tensor(v) for v in ([0, 1, 2], [2, 2, 0], [1, 0, 1])]
    weights = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)

    encoded = encoder(one["input_ids"], one["attention_mask"])
    per_task = [
        torch.autograd.grad(h.loss(h(encoded, one), one | {"labels": y}), encoded.pooled, retain_graph=True)[0]
        for h, y in zip(heads, labels)
    ]
    G = torch.stack([g.reshape(-1) for g in per_task]).double()  # (3, B*D)
    expected = torch.autograd.grad(
        sum(w * h.loss(h(encoded, one), one | {"labels": y}) for w, h, y in zip(weights.tolist(), heads, labels)),
        list(encoder.parameters()),
    )

    encoded = encoder(one["input_ids"], one["attention_mask"])
    leaf = representation_leaf(encoded)
    losses = [h.loss(h(leaf, one), one | {"labels": y}) for h, y in zip(heads, labels)]
    gram, update = TaskGradients(encoder).representation_step(losses, heads, leaf, encoded)
    assert update.matrix.shape == (3, encoded.pooled.numel())  # no (B, T, D) block of zeros
    torch.testing.assert_close(gram, G @ G.T, rtol=1e-5, atol=1e-10)
    update.apply(weights)
    for p, g in zip(encoder.parameters(), expected):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-7)
