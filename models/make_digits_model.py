#!/usr/bin/python3
"""Train the bundled example model: a small CNN on scikit-learn's 8x8 handwritten digits.

Run from the repository root with Debian's interpreter (torch 1.13, onnx 1.12, scikit-learn):

    /usr/bin/python3 models/make_digits_model.py

Writes, next to this script:
    digits_cnn.onnx               the trained model (opset 13, input "image" [batch,1,8,8] float32,
                                  output "probabilities" [batch,10])
    digit_sample.npy              one test image [1,1,8,8]
    digit_sample_expected.npy     PyTorch's output for it [1,10]
    digits_batch8.npy             eight harder test images [8,1,8,8] (see below)
    digits_batch8_expected.npy    PyTorch's output for them [8,10]

The data set ships inside scikit-learn, so nothing is downloaded. Training is deterministic
(fixed seeds, deterministic algorithms, one thread), so a rerun reproduces the same weights on the
same machine and library versions.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
SPLIT_SEED = 42
EPOCHS = 40
BATCH = 32


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(64, 10)

    def logits(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = F.relu(self.conv3(x))
        # The flatten PyTorch users write; it exports as a Shape/Gather/Unsqueeze/Concat/Reshape chain.
        x = x.view(x.size(0), -1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)

    def forward(self, x):
        # The exported model ends in Softmax so that its output reads as class probabilities.
        return F.softmax(self.logits(x), dim=1)


def load_data():
    digits = load_digits()
    # Pixels are 0..16; scale to 0..1, NCHW with one channel.
    images = (digits.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    return train_test_split(images, labels, test_size=0.25, random_state=SPLIT_SEED, stratify=labels)


def train(model, x_train, y_train):
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=15, gamma=0.3)
    xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(xs), generator=generator)
        total = 0.0
        for start in range(0, len(xs), BATCH):
            idx = order[start:start + BATCH]
            optimizer.zero_grad()
            loss = F.cross_entropy(model.logits(xs[idx]), ys[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        scheduler.step()
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(xs):.4f}")


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    x_train, x_test, y_train, y_test = load_data()
    model = DigitsCNN()
    train(model, x_train, y_train)

    model.eval()
    with torch.no_grad():
        probs = model(torch.from_numpy(x_test)).numpy()
    accuracy = float((probs.argmax(1) == y_test).mean())
    print(f"test accuracy {accuracy * 100:.2f}% on {len(y_test)} held-out images "
          f"({len(y_train)} used for training)")
    if accuracy < 0.97:
        sys.exit(f"test accuracy {accuracy:.4f} is below the expected 0.97; not writing the model")

    onnx_path = os.path.join(HERE, "digits_cnn.onnx")
    torch.onnx.export(model, torch.from_numpy(x_test[:1]), onnx_path,
                      opset_version=13, input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)")

    # The first test image is the single sample (a clear, confident example). The batch holds the
    # eight correctly classified test images the model is least sure of: their probabilities are
    # spread over several classes, so a comparison against them is sensitive to small errors in a
    # runtime, where saturated outputs (0 or 1 to many digits) would hide them.
    confidence = probs.max(1)
    correct = np.flatnonzero(probs.argmax(1) == y_test)
    least_sure = np.sort(correct[np.argsort(confidence[correct], kind="stable")[:8]])
    samples = {"digit_sample": (x_test[:1], y_test[:1]),
               "digits_batch8": (x_test[least_sure], y_test[least_sure])}
    for name, (images, labels) in samples.items():
        with torch.no_grad():
            expected = model(torch.from_numpy(images)).numpy().astype(np.float32)
        np.save(os.path.join(HERE, name + ".npy"), np.ascontiguousarray(images))
        np.save(os.path.join(HERE, name + "_expected.npy"), expected)
        print(f"{name}: true labels {labels.tolist()}, predicted {expected.argmax(1).tolist()}")
    with torch.no_grad():
        sample_probs = model(torch.from_numpy(x_test[:1])).numpy()[0]
    print(f"digit_sample predicted class {int(sample_probs.argmax())} "
          f"(probability {sample_probs.max():.4f}), true label {int(y_test[0])}")


if __name__ == "__main__":
    main()
