"""A synthetic face whose expression follows a scenario's valence and arousal (pure rendering).

:class:`devices.simulated.camera.SimulatedCamera` films it; training data (synthetic AMIGOS) and
tests draw it directly. Every frame's truth is known (the scenario at the frame's session time), so
face analysis can be measured against it. The face is drawn with OpenCV (anti-aliased, sub-pixel) from a static sprite
(skin shading, hair, nose, ears, neck) rendered once, plus the expressive parts drawn per frame:

* mouth — corners up and a wider, opening smile for positive valence; corners down and pressed
  lips for negative valence; nasolabial folds deepen with a smile;
* brows — raised, inner ends higher (worry) with arousal; lowered and knit for negative valence;
* eyes — wider with arousal, pupils slightly dilated; blinks and small gaze shifts;
* head — slow sway plus faster fidgeting scaled by arousal;
* light — global brightness flicker and additive sensor noise.

All randomness derives from ``seed`` and the session time, so :func:`render_face` is a pure
function and a camera replays identically.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterable

import numpy as np

_SHIFT = 4  # sub-pixel bits for cv2 drawing: smooth motion of small features
_ONE = 1 << _SHIFT
_MASK64 = (1 << 64) - 1
_Color = tuple[float, ...] | float
# sprite layout in design units (pixels of a 480-line frame): size, and the face centre in it
_SPR_W, _SPR_H, _FACE_X, _FACE_Y = 460.0, 460.0, 230.0, 170.0
_FACE_Y_IN_FRAME = 230.0
_SKINS = ((150, 182, 228), (118, 152, 205), (98, 135, 186), (84, 112, 160))  # BGR
_HAIRS = ((28, 36, 52), (40, 62, 96), (22, 24, 28), (60, 90, 130))
_IRISES = ((110, 80, 40), (40, 70, 100), (60, 100, 70), (30, 45, 70))


def _hash01(*keys: int) -> float:
    """A uniform number in [0, 1) from integers (splitmix64): cheap, stateless randomness."""
    z = 0x9E3779B97F4A7C15
    for k in keys:
        z = (z ^ (k & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        z = (z ^ (z >> 31)) * 0x94D049BB133111EB & _MASK64
        z ^= z >> 29
    return (z >> 11) / float(1 << 53)


def _pts(xy: Iterable[tuple[float, float]]) -> np.ndarray:
    return np.round(np.asarray(list(xy), dtype=float) * _ONE).astype(np.int32)


class FaceRenderer:
    """Renders synthetic-face frames of one size and one seeded identity.

    Parameters
    ----------
    width, height : int — frame size (pixels); geometry scales with ``height``
    seed : int — identity (skin, hair, iris colour), motion phases and noise
    """

    def __init__(self, width: int = 640, height: int = 480, seed: int = 0) -> None:
        import cv2

        self.width, self.height, self.seed = int(width), int(height), int(seed)
        self.s = s = self.height / 480.0
        rng = np.random.default_rng(self.seed)
        self.skin = np.array(_SKINS[self.seed % len(_SKINS)], dtype=float)
        self.hair = _HAIRS[(self.seed // 4) % len(_HAIRS)]
        self.iris = _IRISES[(self.seed // 16) % len(_IRISES)]
        self.bg = (168, 152, 138)
        self.phase = rng.uniform(0, 2 * math.pi, 12)
        self.ffreq = rng.uniform(0.9, 3.2, 6)  # fidget frequencies (Hz)
        sw, sh = round(_SPR_W * s), round(_SPR_H * s)
        self.fx, self.fy = _FACE_X * s, _FACE_Y * s
        self.sprite = self._draw_sprite(sw, sh)
        self.work = self.sprite.copy()
        # features live in this sprite band; only it is restored each frame
        self.band = (max(0, int(self.fy - 95 * s)), min(sh, int(self.fy + 105 * s)))
        self.frame_bg = np.empty((self.height, self.width, 3), np.uint8)
        self.frame_bg[:] = self.bg
        pad = 16
        noise = rng.normal(0.0, 2.2, (3, self.height + pad, self.width + pad, 3))
        self.noise_pos = np.clip(np.round(noise), 0, 255).astype(np.uint8)
        self.noise_neg = np.clip(np.round(-noise), 0, 255).astype(np.uint8)
        self._pad = pad
        self._cv2 = cv2

    # --- static parts -------------------------------------------------------------------------
    def _draw_sprite(self, sw: int, sh: int) -> np.ndarray:
        import cv2

        s, fx, fy, aa = self.s, self.fx, self.fy, cv2.LINE_AA
        img = np.empty((sh, sw, 3), np.float32)
        img[:] = self.bg
        skin = tuple(float(c) for c in self.skin)

        def P(x: float, y: float) -> tuple[float, float]:
            return fx + x * s, fy + y * s

        def ell(
            m: np.ndarray, c: tuple[float, float], ax: tuple[float, float], col: _Color
        ) -> None:
            cx, cy = P(*c)
            cv2.ellipse(m, (round(cx * _ONE), round(cy * _ONE)),
                        (round(ax[0] * s * _ONE), round(ax[1] * s * _ONE)),
                        0, 0, 360, col, -1, aa, _SHIFT)  # fmt: skip

        shirt = (92, 84, 48)
        ell(img, (0, 310), (215, 120), shirt)
        neck = _pts([P(-40, 60), P(40, 60), P(48, 200), P(-48, 200)])
        cv2.fillPoly(img, [neck], tuple(0.72 * c for c in skin), aa, _SHIFT)
        ell(img, (0, -28), (101, 112), self.hair)  # back of the hair
        ell(img, (-85, 8), (12, 22), tuple(0.85 * c for c in skin))
        ell(img, (85, 8), (12, 22), tuple(0.85 * c for c in skin))
        th = np.linspace(0, 2 * math.pi, 90, endpoint=False)
        jaw = 1.0 - 0.17 * np.clip(np.sin(th), 0, None) ** 2  # narrower towards the chin
        face = _pts(
            P(86 * j * math.cos(t), 112 * math.sin(t)) for t, j in zip(th, jaw, strict=True)
        )
        mask = np.zeros((sh, sw), np.float32)
        cv2.fillPoly(mask, [face], 1.0, aa, _SHIFT)
        # soft light from the upper left: a tone map applied inside the face only
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        r2 = ((xx - fx + 20 * s) / (95 * s)) ** 2 + ((yy - fy + 25 * s) / (125 * s)) ** 2
        light = 1.08 - 0.22 * np.clip(r2, 0, 1.6)
        shade = np.zeros((sh, sw), np.float32)
        for ex in (-36, 36):  # eye sockets: the dark band Haar-like face detectors expect
            ell(shade, (ex, -18), (27, 15), 0.28)
        ell(shade, (0, 30), (16, 7), 0.18)  # below the nose tip
        cv2.line(shade, _pt(P(-11, -8)), _pt(P(-14, 26)), 0.22, round(5 * s), aa, _SHIFT)
        cv2.line(shade, _pt(P(11, -8)), _pt(P(14, 26)), 0.30, round(5 * s), aa, _SHIFT)
        ell(shade, (0, 84), (20, 5), 0.12)  # under the lower lip
        shade = np.asarray(cv2.GaussianBlur(shade, (0, 0), 6 * s))
        hi = np.zeros((sh, sw), np.float32)
        cv2.line(hi, _pt(P(0, -12)), _pt(P(0, 22)), 0.12, round(5 * s), aa, _SHIFT)
        for cx in (-45, 45):
            ell(hi, (cx, 30), (20, 14), 0.06)
        hi = np.asarray(cv2.GaussianBlur(hi, (0, 0), 4 * s))
        tone = (light * (1.0 - shade) + hi)[..., None]
        face_img = np.clip(self.skin[None, None, :] * tone, 0, 255).astype(np.float32)
        img = img * (1 - mask[..., None]) + face_img * mask[..., None]
        for nx in (-8, 8):  # nostrils
            ell(img, (nx, 30), (4.5, 2.5), tuple(0.45 * c for c in skin))
        # fringe: hair over the forehead down to a hairline that dips at the temples
        xs = np.linspace(-98, 98, 41)
        line = [P(x, -64 + 30 * (abs(x) / 86) ** 2.2) for x in xs]
        top = [P(103 * math.cos(t), -28 - 114 * math.sin(t)) for t in np.linspace(0, math.pi, 40)]
        cv2.fillPoly(img, [_pts(line + top)], self.hair, aa, _SHIFT)
        return np.clip(img, 0, 255).astype(np.uint8)

    # --- per-frame parts ----------------------------------------------------------------------
    def pose(self, arousal: float, t_s: float) -> tuple[float, float, float]:
        """Head offset (dx, dy in pixels) and roll (degrees) at session time ``t_s`` (s)."""
        p, f, s = self.phase, self.ffreq, self.s
        k = 0.5 * (1.0 + float(np.clip(arousal, -1, 1)))  # fidgeting grows with arousal
        tau = 2 * math.pi * t_s
        # slow sway (0.07–0.11 Hz) plus fidgeting at seeded 0.9–3.2 Hz frequencies
        w = np.sin(np.r_[0.11, 0.07, 0.09, f[:5]] * tau + p[:8])
        dx = 7 * w[0] + k * (2.5 * w[3] + 1.5 * w[4])
        dy = 4 * w[1] + k * 2.0 * w[5]
        roll = 2.0 * w[2] + k * (1.6 * w[6] + 0.8 * w[7])
        return float(dx * s), float(dy * s), float(roll)

    def blink(self, t_s: float) -> float:
        """Eyelid closure in [0, 1]: one blink per 3-s slot at a seeded moment, 0.16 s long."""
        slot = math.floor(t_s / 3.0)
        for k in (slot - 1, slot):
            t0 = 3.0 * k + 0.2 + 2.6 * _hash01(self.seed, 1, k)
            u = (t_s - t0) / 0.16
            if 0.0 <= u <= 1.0:
                return 1.0 - abs(2.0 * u - 1.0)
        return 0.0

    def render(self, valence: float, arousal: float, t_s: float, blink: bool = True) -> np.ndarray:
        """One BGR uint8 frame (height, width, 3) for valence/arousal in [-1, 1] at ``t_s`` (s)."""
        cv2 = self._cv2
        v, a = float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))
        y0, y1 = self.band
        self.work[y0:y1] = self.sprite[y0:y1]
        closure = self.blink(t_s) if blink else 0.0
        slot = math.floor(t_s / 0.6)
        gaze = (0.5 + 0.25 * (1 + a)) * 2.6
        gx = gaze * (2 * _hash01(self.seed, 2, slot) - 1)
        gy = 0.5 * gaze * (2 * _hash01(self.seed, 3, slot) - 1)
        for side in (-1, 1):
            self._eye(side, a, closure, gx, gy)
            self._brow(side, v, a)
        self._mouth(v, a)
        dx, dy, roll = self.pose(a, t_s)
        s = self.s
        ox, oy = self.width / 2 - self.fx, _FACE_Y_IN_FRAME * s - self.fy  # sprite origin in frame
        m = cv2.getRotationMatrix2D((self.fx, self.fy), roll, 1.0)
        m[0, 2] += ox + dx
        m[1, 2] += oy + dy
        sh, sw = self.sprite.shape[:2]
        x0, yt = max(0, int(ox) - 12), max(0, int(oy) - 12)
        x1, yb = min(self.width, int(ox + sw) + 12), min(self.height, int(oy + sh) + 12)
        m[0, 2] -= x0
        m[1, 2] -= yt
        out = self.frame_bg.copy()
        cv2.warpAffine(self.work, m, (x1 - x0, yb - yt), dst=out[yt:yb, x0:x1],
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)  # fmt: skip
        tau = 2 * math.pi * t_s
        tick = round(t_s * 1000.0)
        gain = (1.0 + 0.035 * math.sin(0.23 * tau + self.phase[8])
                + 0.012 * math.sin(4.7 * tau + self.phase[9])
                + 0.01 * (_hash01(self.seed, 4, tick) - 0.5))  # fmt: skip
        cv2.convertScaleAbs(out, dst=out, alpha=gain)
        k = int(_hash01(self.seed, 5, tick) * 3)
        py, px = (int(_hash01(self.seed, 6 + i, tick) * self._pad) for i in range(2))
        h, w = self.height, self.width
        cv2.add(out, self.noise_pos[k, py : py + h, px : px + w], dst=out)
        cv2.subtract(out, self.noise_neg[(k + 1) % 3, py : py + h, px : px + w], dst=out)
        return out

    def _P(self, x: float, y: float) -> tuple[float, float]:
        return self.fx + x * self.s, self.fy + y * self.s

    def _eye(self, side: int, a: float, closure: float, gx: float, gy: float) -> None:
        cv2, s, img, aa = self._cv2, self.s, self.work, self._cv2.LINE_AA
        ex, ey = 36.0 * side, -18.0
        open_ = 1.0 - 0.95 * closure
        up = (7.5 + 3.0 * a) * open_
        lo = (4.5 + 1.0 * a) * open_
        xs = np.linspace(-1, 1, 17)
        upper = [self._P(ex + 18 * x, ey - up * (1 - x * x) * (1 + 0.15 * x * side)) for x in xs]
        lower = [self._P(ex + 18 * x, ey + lo * (1 - x * x)) for x in xs[::-1]]
        cx, cy = self._P(ex, ey)
        r = 16
        bx0, by0 = int(cx - (r + 10) * s), int(cy - (r + 6) * s)
        bx1, by1 = int(cx + (r + 10) * s) + 1, int(cy + (r + 6) * s) + 1
        roi = img[by0:by1, bx0:bx1]
        off = np.array([bx0, by0], float)
        patch = roi.copy()
        almond = _pts(np.array(upper + lower) - off)
        cv2.fillPoly(patch, [almond], (226, 230, 236), aa, _SHIFT)
        ic = (round((cx + gx * s - bx0) * _ONE), round((cy + gy * s - by0) * _ONE))
        cv2.circle(patch, ic, round(8.0 * s * _ONE), self.iris, -1, aa, _SHIFT)
        cv2.circle(patch, ic, round((3.0 + 0.8 * a) * s * _ONE), (20, 20, 20), -1, aa, _SHIFT)
        hl = (ic[0] - round(2.5 * s * _ONE), ic[1] - round(2.5 * s * _ONE))
        cv2.circle(patch, hl, round(1.3 * s * _ONE), (245, 245, 245), -1, aa, _SHIFT)
        mask = np.zeros(patch.shape[:2], np.uint8)
        cv2.fillPoly(mask, [almond], 255, aa, _SHIFT)
        wgt = mask[..., None].astype(np.float32) * (1.0 / 255.0)
        roi[:] = (roi * (1 - wgt) + patch * wgt).astype(np.uint8)
        lid = (34, 30, 34)
        cv2.polylines(img, [_pts(upper)], False, lid, max(1, round(2.2 * s)), aa, _SHIFT)
        crease = [self._P(ex + 17 * x, ey - up - (4.0 + 1.5 * a) * (1 - x * x) - 2) for x in xs]
        cv2.polylines(img, [_pts(crease)], False, tuple(0.6 * c for c in self.skin), 1, aa, _SHIFT)

    def _brow(self, side: int, v: float, a: float) -> None:
        cv2 = self._cv2
        pa, na, nv = max(a, 0.0), max(-a, 0.0), max(-v, 0.0)
        inner_x = 14.0 + 4.0 * pa - 5.0 * nv  # knit towards the nose when unhappy
        inner_y = -41.0 - 8.0 * pa + 7.0 * nv + 2.0 * na  # inner raise (worry) vs lowering
        outer_y = -42.0 - 4.0 * pa + 1.5 * nv + 2.0 * na
        xs = np.linspace(0, 1, 9)
        mid = [(inner_x + (60 - inner_x) * u, inner_y + (outer_y - inner_y) * u - 6 * math.sin(math.pi * u)) for u in xs]  # fmt: skip
        thick = [4.0 - 2.2 * u for u in xs]
        top = [self._P(side * x, y - t) for (x, y), t in zip(mid, thick, strict=True)]
        bot = [self._P(side * x, y + t) for (x, y), t in zip(mid, thick, strict=True)][::-1]
        cv2.fillPoly(self.work, [_pts(top + bot)], self.hair, cv2.LINE_AA, _SHIFT)

    def _mouth(self, v: float, a: float) -> None:
        cv2, aa, img = self._cv2, self._cv2.LINE_AA, self.work
        pv, nv = max(v, 0.0), max(-v, 0.0)
        my, hw = 62.0, 28.0 + 6.0 * pv - 2.0 * nv
        corner = -11.0 * v  # corners up (smile) or down (frown), design pixels
        gap = 9.0 * max(v - 0.3, 0.0) / 0.7 + 2.5 * max(a - 0.5, 0.0)
        lip_up, lip_lo = 4.5 * (1 - 0.35 * nv), 6.5 * (1 - 0.4 * nv)
        xs = np.linspace(-1, 1, 21)
        seam = [(hw * x, my + corner * x * x) for x in xs]
        inner_up = [(x, y - gap * 0.35 * (1 - u * u)) for (x, y), u in zip(seam, xs, strict=True)]
        inner_lo = [(x, y + gap * (1 - u * u)) for (x, y), u in zip(seam, xs, strict=True)]
        bow = [(x, y - lip_up * (1 - u * u) * (1 - 0.25 * math.exp(-((u * 6) ** 2)))) for (x, y), u in zip(inner_up, xs, strict=True)]  # fmt: skip
        low = [(x, y + lip_lo * (1 - u * u) ** 0.8) for (x, y), u in zip(inner_lo, xs, strict=True)]
        P = self._P
        lips = tuple(c for c in (0.62 * self.skin + np.array([0.0, -8.0, 30.0])).clip(0, 255))
        cv2.fillPoly(img, [_pts([P(*p) for p in bow + low[::-1]])], lips, aa, _SHIFT)
        if gap > 0.6:
            hole = [P(*p) for p in inner_up + inner_lo[::-1]]
            cv2.fillPoly(img, [_pts(hole)], (40, 30, 55), aa, _SHIFT)
            teeth = [P(x, y + 0.55 * (yl - y)) for (x, y), (_, yl) in zip(inner_up, inner_lo, strict=True)]  # fmt: skip
            tpoly = [P(*p) for p in inner_up] + teeth[::-1]
            cv2.fillPoly(img, [_pts(tpoly)], (215, 225, 232), aa, _SHIFT)
        else:
            cv2.polylines(img, [_pts([P(*p) for p in seam])], False, (50, 40, 70), 1, aa, _SHIFT)
        if pv > 0.2:  # nasolabial folds deepen with a smile; they end outside the corners
            col = tuple(c * (1 - 0.18 * pv) for c in self.skin * 0.95)
            for sd in (-1, 1):
                fold = [P(sd * (20 + 12 * u + 10 * u * u), 31 + 30 * u) for u in np.linspace(0, 1, 8)]  # fmt: skip
                cv2.polylines(img, [_pts(fold)], False, col, 1, aa, _SHIFT)


def _pt(p: tuple[float, float]) -> tuple[int, int]:
    return round(p[0] * _ONE), round(p[1] * _ONE)


@functools.lru_cache(maxsize=4)
def _renderer(width: int, height: int, seed: int) -> FaceRenderer:
    return FaceRenderer(width, height, seed)


_render_lock = threading.Lock()


def render_face(
    valence: float,
    arousal: float,
    t_s: float,
    *,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    blink: bool = True,
) -> np.ndarray:
    """Render one synthetic-face frame without a camera.

    Parameters
    ----------
    valence, arousal : float — expression, each in [-1, 1] (clipped)
    t_s : float — session time (s); drives head motion, blinks, gaze, flicker and noise
    width, height : int — frame size (pixels)
    seed : int — identity and randomness; equal arguments give identical frames
    blink : bool — False keeps the eyes open (blinks would otherwise close them briefly)

    Returns
    -------
    ndarray, shape (height, width, 3), uint8, BGR
    """
    with _render_lock:  # cached renderers share a scratch buffer
        return _renderer(int(width), int(height), int(seed)).render(valence, arousal, t_s, blink)
