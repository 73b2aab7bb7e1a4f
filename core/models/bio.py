"""Bio Network (paper Table I) and Bio Auto-Encoder (Table II), one instance per bio-signal.

Input to both is one scaled signal window of shape (N, 1, W): W samples (default 1000 at 128 Hz,
about 7.8 s) in the units left after scaling (dimensionless). Sizes below are for W = 1000; both
networks work for any window long enough, the layer sizes then follow the same formulas.

The table typos are resolved as in ``shared/reference/bmmn-architecture.md``: conv2-conv4 are three
parallel kernels over pool1 (not a chain), and pool1 is carried to the merge as the skip connection;
that is the only reading for which the merge has the paper's 2652 features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.models._init import he_uniform_

BIO_WINDOW = 1000
"""Default window length in samples (1000 at 128 Hz, the paper's "eight heartbeats")."""

LATENT_SIZE = 128
"""Length of the auto-encoder's latent vector z (Table II)."""

# Bio Network: conv1 is padded by 2 on each side, which is what turns 1000 into the table's 805.
_BIO_PAD = 2
_BIO_BRANCH_KERNELS = (100, 50, 25)
# Auto-encoder kernels (no padding): 1000 -> 801 -> 400 -> 301 -> 150 -> 101 -> 50.
_AE_KERNELS = (200, 100, 50)
_AE_CHANNELS = (16, 8, 4)


def bio_network_sizes(window: int = BIO_WINDOW) -> dict[str, int]:
    """Temporal length of each Bio Network layer for a window of ``window`` samples.

    Returns
    -------
    dict
        ``conv1``, ``pool1``, ``conv2`` … ``pool4`` (samples) and ``merge`` (number of features).
        For 1000: 805, 402, 307, 153, 357, 178, 382, 191 and 2652.
    """
    conv1 = window + 2 * _BIO_PAD - 200 + 1
    pool1 = conv1 // 2
    sizes = {"conv1": conv1, "pool1": pool1}
    merge = pool1 * 4
    for i, k in enumerate(_BIO_BRANCH_KERNELS, start=2):
        conv = pool1 + 2 * _BIO_PAD - k + 1
        sizes[f"conv{i}"] = conv
        sizes[f"pool{i}"] = conv // 2
        merge += (conv // 2) * 2
    sizes["merge"] = merge
    return sizes


def autoencoder_sizes(window: int = BIO_WINDOW) -> dict[str, int]:
    """Temporal length of each Bio Auto-Encoder encoder layer (samples) for ``window`` samples.

    For 1000: conv1 801, pool1 400, conv2 301, pool2 150, conv3 101, pool3 50. The decoder mirrors
    them: upsample to conv3's length, a transposed conv brings it to pool2's, and so on up to
    ``window``.
    """
    sizes: dict[str, int] = {}
    length = window
    for i, k in enumerate(_AE_KERNELS, start=1):
        length = length - k + 1
        sizes[f"conv{i}"] = length
        length //= 2
        sizes[f"pool{i}"] = length
    return sizes


class BioNetwork(nn.Module):
    """1D-CNN feature extractor for one bio-signal (paper Table I).

    Parameters
    ----------
    window
        Input length in samples (default 1000). At least 389, so every branch has output.

    Notes
    -----
    ``forward`` maps (N, 1, window) to (N, out_features); ``out_features`` is 2652 for 1000.
    """

    def __init__(self, window: int = BIO_WINDOW) -> None:
        super().__init__()
        sizes = bio_network_sizes(window)
        if min(sizes[f"pool{i}"] for i in (2, 3, 4)) < 1:
            raise ValueError(f"bio window of {window} samples is too short for the Bio Network")
        self.window = window
        self.out_features = sizes["merge"]
        self.conv1 = nn.Conv1d(1, 4, kernel_size=200, padding=_BIO_PAD)
        self.pool1 = nn.MaxPool1d(2, stride=2)
        self.conv2 = nn.Conv1d(4, 2, kernel_size=_BIO_BRANCH_KERNELS[0], padding=_BIO_PAD)
        self.pool2 = nn.MaxPool1d(2, stride=2)
        self.conv3 = nn.Conv1d(4, 2, kernel_size=_BIO_BRANCH_KERNELS[1], padding=_BIO_PAD)
        self.pool3 = nn.MaxPool1d(2, stride=2)
        self.conv4 = nn.Conv1d(4, 2, kernel_size=_BIO_BRANCH_KERNELS[2], padding=_BIO_PAD)
        self.pool4 = nn.MaxPool1d(2, stride=2)
        he_uniform_(self)

    def forward(self, x: Tensor) -> Tensor:
        """Features of shape (N, out_features) from a window of shape (N, 1, window)."""
        p1 = self.pool1(F.relu(self.conv1(x)))
        p2 = self.pool2(F.relu(self.conv2(p1)))
        p3 = self.pool3(F.relu(self.conv3(p1)))
        p4 = self.pool4(F.relu(self.conv4(p1)))
        merged = torch.cat([p.flatten(1) for p in (p1, p2, p3, p4)], dim=1)
        # Table I lists a ReLU on the merge; its inputs are already non-negative (max-pooled ReLU
        # outputs), so it changes nothing, but it is kept so the layer list matches the paper.
        return F.relu(merged)


class BioAutoEncoder(nn.Module):
    """Convolutional auto-encoder for one bio-signal (paper Table II) with latent vector z.

    Parameters
    ----------
    window
        Input length in samples (default 1000). At least 601, so the encoder has output.
    latent
        Length of z (default 128).

    Notes
    -----
    The decoder upsamples to fixed lengths (nearest neighbour) instead of max-unpooling with the
    encoder's indices: those indices carry the input's peak positions past z, and z must be the
    only path from input to reconstruction. The output layer is linear: the paper's final ReLU
    cannot reproduce a scaled, zero-mean signal.
    """

    def __init__(self, window: int = BIO_WINDOW, latent: int = LATENT_SIZE) -> None:
        super().__init__()
        sizes = autoencoder_sizes(window)
        if sizes["pool3"] < 1:
            raise ValueError(f"bio window of {window} samples is too short for the auto-encoder")
        self.window = window
        self.latent = latent
        c1, c2, c3 = _AE_CHANNELS
        k1, k2, k3 = _AE_KERNELS
        self._code_shape = (c3, sizes["pool3"])
        self.conv1 = nn.Conv1d(1, c1, kernel_size=k1)
        self.pool1 = nn.MaxPool1d(2, stride=2)
        self.conv2 = nn.Conv1d(c1, c2, kernel_size=k2)
        self.pool2 = nn.MaxPool1d(2, stride=2)
        self.conv3 = nn.Conv1d(c2, c3, kernel_size=k3)
        self.pool3 = nn.MaxPool1d(2, stride=2)
        self.fc = nn.Linear(c3 * sizes["pool3"], latent)
        self.fc_dec = nn.Linear(latent, c3 * sizes["pool3"])
        self.unpool1 = nn.Upsample(size=sizes["conv3"], mode="nearest")
        self.deconv4 = nn.ConvTranspose1d(c3, c2, kernel_size=k3)
        self.unpool2 = nn.Upsample(size=sizes["conv2"], mode="nearest")
        self.deconv5 = nn.ConvTranspose1d(c2, c1, kernel_size=k2)
        self.unpool3 = nn.Upsample(size=sizes["conv1"], mode="nearest")
        self.deconv6 = nn.ConvTranspose1d(c1, 1, kernel_size=k1)
        he_uniform_(self, linear_output=self.deconv6)

    def encode(self, x: Tensor) -> Tensor:
        """Latent z of shape (N, latent) from a window of shape (N, 1, window)."""
        h = self.pool1(F.relu(self.conv1(x)))
        h = self.pool2(F.relu(self.conv2(h)))
        h = self.pool3(F.relu(self.conv3(h)))
        # No activation on z: the paper gives none, and a linear code keeps the sign information.
        return self.fc(h.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction of shape (N, 1, window) from z of shape (N, latent)."""
        h = self.fc_dec(z).view(z.shape[0], *self._code_shape)
        h = F.relu(self.deconv4(self.unpool1(h)))
        h = F.relu(self.deconv5(self.unpool2(h)))
        return self.deconv6(self.unpool3(h))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(z, reconstruction)``: shapes (N, latent) and (N, 1, window)."""
        z = self.encode(x)
        return z, self.decode(z)
