"""Training and evaluation loops (Adam, cross-entropy, seeded shuffling)."""

from __future__ import annotations

from typing import Any


def _train(torch: Any, model: Any, x: Any, y: Any, *, epochs: int, lr: float,
           batch_size: int, generator: Any) -> None:
    """Adam, cross-entropy, seeded shuffling; a new optimiser every call."""
    if epochs <= 0:
        return
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    n = int(x.shape[0])
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()


def _accuracy(torch: Any, model: Any, x: Any, y: Any, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, int(x.shape[0]), batch):
            pred = model(x[i:i + batch]).argmax(dim=1)
            correct += int((pred == y[i:i + batch]).sum().item())
    return correct / int(x.shape[0])
