"""A small U-Net that segments generated shapes, tracked with Kiln (PyTorch, CPU).

Trains on seeded images of circles, squares and triangles (``shapes.py``) to label
every pixel background/circle/square/triangle, and reports the mean intersection
over union (IoU) of the four classes on held-out images, with each class's IoU and
the pixel accuracy.

Run it as a project (``kiln run examples/segmentation``) or directly
(``python train.py``). The model is logged as a ``pytorch`` model in the ``pt2``
format (the graph ``torch.export`` traces, no pickle) that maps images
``[n, 1, 48, 48]`` (float32) to masks ``[n, 48, 48]`` of class numbers.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from shapes import CLASSES, generate
from torch import nn

import kiln


def block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
        nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    )


class UNet(nn.Module):
    """Two down- and two up-sampling steps with skip connections; logits per class.

    Each block is two 3x3 convolutions with batch normalisation, which makes the
    few epochs a CPU can afford converge.
    """

    def __init__(self, width: int, classes: int) -> None:
        super().__init__()
        self.down1 = block(1, width)
        self.down2 = block(width, width * 2)
        self.bottom = block(width * 2, width * 4)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(width * 4, width * 2, 2, stride=2)
        self.merge2 = block(width * 4, width * 2)
        self.up1 = nn.ConvTranspose2d(width * 2, width, 2, stride=2)
        self.merge1 = block(width * 2, width)
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        bottom = self.bottom(self.pool(d2))
        u2 = self.merge2(torch.cat([self.up2(bottom), d2], dim=1))
        u1 = self.merge1(torch.cat([self.up1(u2), d1], dim=1))
        logits: torch.Tensor = self.head(u1)
        return logits


class Segmenter(nn.Module):
    """What is served: the U-Net's most likely class for every pixel."""

    def __init__(self, unet: UNet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.unet(images).argmax(dim=1)


def iou_per_class(predicted: np.ndarray, truth: np.ndarray, classes: int) -> list[float]:
    """Intersection over union of each class over all pixels of all images."""
    scores = []
    for c in range(classes):
        hit, real = predicted == c, truth == c
        union = np.logical_or(hit, real).sum()
        scores.append(float(np.logical_and(hit, real).sum() / union) if union else 1.0)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    images, masks = generate(args.images, seed=args.seed, size=args.size)
    test_images, test_masks = generate(128, seed=args.seed + 1, size=args.size)
    x, y = torch.from_numpy(images), torch.from_numpy(masks)

    with kiln.start_run():
        kiln.log_params(
            {
                "images": args.images,
                "size": args.size,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "width": args.width,
                "learning_rate": args.learning_rate,
                "seed": args.seed,
            }
        )
        unet = UNet(args.width, len(CLASSES))
        optimizer = torch.optim.Adam(unet.parameters(), lr=args.learning_rate)
        steps = args.epochs * -(-len(x) // args.batch_size)
        # one cycle: warm up to the learning rate, then anneal (stable in few epochs)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.learning_rate, total_steps=steps
        )
        # shapes cover few pixels: weigh the classes so background does not win
        weights = torch.tensor([0.25, 1.0, 1.0, 1.0])
        loss_fn = nn.CrossEntropyLoss(weight=weights)
        for epoch in range(args.epochs):
            unet.train()
            order = torch.randperm(len(x))
            total = 0.0
            for start in range(0, len(x), args.batch_size):
                batch = order[start : start + args.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(unet(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.detach().item() * len(batch)
            kiln.log_metric("train_loss", total / len(x), step=epoch)

        model = Segmenter(unet).eval()
        with torch.no_grad():
            predicted = model(torch.from_numpy(test_images)).numpy()
        scores = iou_per_class(predicted, test_masks, len(CLASSES))
        metrics = {
            "mean_iou": float(np.mean(scores)),
            "pixel_accuracy": float((predicted == test_masks).mean()),
            **{f"iou_{name}": score for name, score in zip(CLASSES, scores, strict=True)},
        }
        kiln.log_metrics(metrics)
        kiln.pytorch.log_model(model, name="model", input_example=test_images[:4])
        print(" ".join(f"{key}={value:.4f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
