"""Synthetic street scenes for miniature downloads: images that look like a drive, not like noise.

A scene is laid out once per sequence (buildings, trees, poles, parked and moving cars,
pedestrians) and rendered per frame with the camera moving forward, so objects keep their
instance ids from frame to frame, label maps are piecewise constant with hard edges, and
photos carry texture and sensor noise (PNG sizes and codec speeds close to real frames).
Labels are Cityscapes trainIds (0-18, 255 void); instance ids start at 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Cityscapes trainIds used here
ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR = 0, 1, 2, 5, 7, 8, 9, 10, 11, 13
VOID = 255
# Cityscapes colours of the trainIds (cityscapesScripts labels.py), for rendering photos
_COLORS = {
    ROAD: (128, 64, 128), SIDEWALK: (244, 35, 232), BUILDING: (70, 70, 70), POLE: (153, 153, 153),
    SIGN: (220, 220, 0), VEGETATION: (107, 142, 35), TERRAIN: (152, 251, 152), SKY: (70, 130, 180),
    PERSON: (220, 20, 60), CAR: (0, 0, 142),
}


@dataclass(frozen=True)
class Frame:
    rgb: np.ndarray  # (H, W, 3) uint8 photo
    semantic: np.ndarray  # (H, W) uint8 trainIds, 255 void
    instance: np.ndarray  # (H, W) uint16, 0 = none


@dataclass(frozen=True)
class _Thing:
    cls: int
    ident: int  # instance id; 0 for a crowd region
    x: float  # world position along the street (pixels at the reference depth)
    ground: float  # 0 (horizon) .. 1 (bottom row): depth of its foot point
    width: float
    height: float
    speed: float  # world pixels per frame
    shade: tuple[int, int, int]


class StreetScene:
    def __init__(self, seed: int, height: int, width: int, instance_ids: list[int] | None = None):
        self.h, self.w, self.seed = height, width, seed
        rng = np.random.default_rng(seed)
        self.horizon = int(height * rng.uniform(0.38, 0.46))
        self.buildings = [(x, rng.uniform(0.25, 0.9), rng.uniform(80, 220), tuple(int(v) for v in rng.integers(60, 160, 3)))
                          for x in np.cumsum(rng.uniform(60, 200, 40))]
        self.trees = [(x, rng.uniform(25, 60)) for x in np.cumsum(rng.uniform(150, 400, 15))]
        self.poles = list(np.cumsum(rng.uniform(180, 420, 12)))
        ids = list(instance_ids or range(1, 40))
        things: list[_Thing] = []
        for i in range(6):  # cars in lanes and parked
            things.append(_Thing(CAR, ids.pop(0), float(rng.uniform(0, 1.4 * width)), float(rng.uniform(0.35, 0.95)),
                                 float(rng.uniform(150, 210)), float(rng.uniform(70, 95)), float(rng.uniform(-4, 6)),
                                 tuple(int(v) for v in rng.integers(20, 230, 3))))
        for i in range(4):  # pedestrians on the sidewalks
            things.append(_Thing(PERSON, ids.pop(0), float(rng.uniform(0, 1.4 * width)), float(rng.uniform(0.2, 0.6)),
                                 float(rng.uniform(22, 32)), float(rng.uniform(80, 110)), float(rng.uniform(-1.5, 1.5)),
                                 tuple(int(v) for v in rng.integers(30, 200, 3))))
        # a distant cluster of cars annotated as a crowd: car pixels without an instance id
        things.append(_Thing(CAR, 0, float(rng.uniform(0, width)), 0.08, 300.0, 45.0, 0.5, (90, 90, 110)))
        self.things = sorted(things, key=lambda t: t.ground)  # far first: near things are painted over them
        self.texture = _texture(np.random.default_rng(seed + 1), height, width)

    def render(self, t: int, void_ring: int = 2) -> Frame:
        h, w, horizon = self.h, self.w, self.horizon
        camera = 5.0 * t
        sem = np.full((h, w), SKY, np.uint8)
        inst = np.zeros((h, w), np.uint16)
        rgb = np.empty((h, w, 3), np.float32)
        rows = np.arange(h, dtype=np.float32)[:, None]
        rgb[:horizon] = (np.array([95, 140, 200]) + (rows[:horizon, :, None] / max(horizon, 1)) * 70)[:, :, :]
        # ground: road in the middle, sidewalks on both sides, widening towards the camera
        sem[horizon:] = ROAD
        rgb[horizon:] = (105, 100, 108)
        ys = np.arange(horizon, h)
        depth = (ys - horizon) / max(h - horizon, 1)
        left = (w * (0.42 - 0.42 * depth)).astype(int)
        right = (w * (0.58 + 0.42 * depth)).astype(int)
        cols = np.arange(w)[None, :]
        side = (cols < left[:, None]) | (cols > right[:, None])
        sem[horizon:][side] = SIDEWALK
        rgb[horizon:][side] = (170, 160, 165)
        # lane markings move towards the camera
        dash = ((ys + int(camera * 2)) // 12) % 2 == 0
        for y, d, on in zip(ys, depth, dash):
            if on:
                half = max(1, int(2 + 4 * d))
                rgb[y, w // 2 - half:w // 2 + half] = (235, 235, 235)
        # terrain strip at the foot of the buildings
        sem[horizon - 3:horizon + 2] = TERRAIN
        rgb[horizon - 3:horizon + 2] = (120, 160, 90)
        for x0, rel_h, bw, shade in self.buildings:
            x = int((x0 - camera * 0.6) % (w * 1.6) - w * 0.3)
            top = int(horizon - rel_h * horizon)
            a, b = max(x, 0), min(int(x + bw), w)
            if a >= b:
                continue
            sem[top:horizon - 3, a:b] = BUILDING
            block = rgb[top:horizon - 3, a:b]
            block[:] = shade
            block[(np.arange(block.shape[0])[:, None] % 14 < 7) & (np.arange(a, b)[None, :] % 18 < 9)] *= 0.55
        for x0, radius in self.trees:
            cx = (x0 - camera * 0.8) % (w * 1.6) - w * 0.3
            cy = horizon - radius * 1.2
            y0, y1 = int(max(cy - radius, 0)), int(min(cy + radius + 1, h))
            x0_, x1 = int(max(cx - radius * 1.25, 0)), int(min(cx + radius * 1.25 + 1, w))
            if y0 >= y1 or x0_ >= x1:
                continue
            yy, xx = np.ogrid[y0:y1, x0_:x1]
            crown = (yy - cy) ** 2 + ((xx - cx) * 0.8) ** 2 < radius ** 2
            sem[y0:y1, x0_:x1][crown] = VEGETATION
            rgb[y0:y1, x0_:x1][crown] = _COLORS[VEGETATION]
        for x0 in self.poles:
            x = int((x0 - camera) % (w * 1.6) - w * 0.3)
            if 0 <= x < w - 4:
                sem[int(horizon * 0.35):horizon + 8, x:x + 4] = POLE
                rgb[int(horizon * 0.35):horizon + 8, x:x + 4] = _COLORS[POLE]
                sem[int(horizon * 0.35):int(horizon * 0.35) + 14, x - 6:x + 10] = SIGN
                rgb[int(horizon * 0.35):int(horizon * 0.35) + 14, x - 6:x + 10] = _COLORS[SIGN]
        thing_mask = np.zeros((h, w), bool)
        for thing in self.things:
            scale = 0.25 + 0.75 * thing.ground
            foot = int(horizon + thing.ground * (h - horizon) * 0.9)
            tw, th = thing.width * scale, thing.height * scale
            x = (thing.x + thing.speed * t - camera * 0.3) % (w * 1.4) - w * 0.2
            a, b = int(max(x, 0)), int(min(x + tw, w))
            top = int(max(foot - th, 0))
            if a >= b or top >= foot:
                continue
            yy, xx = np.ogrid[top:foot, a:b]
            if thing.cls == PERSON:
                shape = ((xx - (x + tw / 2)) / (tw / 2)) ** 2 + ((yy - (foot - th / 2)) / (th / 2)) ** 2 < 1
            else:  # car body with a cabin
                body = yy > foot - th * 0.6
                cabin = (xx > x + tw * 0.2) & (xx < x + tw * 0.8)
                shape = body | cabin
            sem[top:foot, a:b][shape] = thing.cls
            inst[top:foot, a:b][shape] = thing.ident
            thing_mask[top:foot, a:b] |= shape
            region = rgb[top:foot, a:b]
            region[shape] = thing.shade
            if thing.cls == CAR:
                window = shape & (yy < foot - th * 0.6) & (yy > top + th * 0.1)
                region[window] = (40, 50, 60)
        # photo: texture and sensor noise (luma-dominant), like a real frame compresses
        noise = np.random.default_rng((self.seed, t)).standard_normal((h, w), dtype=np.float32)
        rgb += self.texture[..., None] + noise[..., None] * 4.0
        photo = np.clip(rgb, 0, 255).astype(np.uint8)
        if void_ring:
            # STEP maps void a ring around every annotated object (deeplab2 create_step_panoptic_maps)
            ring = _dilate(thing_mask, void_ring) & ~thing_mask
            sem[ring] = VOID
            inst[ring] = 0
        return Frame(photo, sem, inst)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Band-limited luminance texture (a few octaves of smoothed noise), fixed for a sequence."""
    out = np.zeros((h, w), np.float32)
    for cell, amp in ((32, 10.0), (8, 6.0), (2, 3.0)):
        coarse = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
        smooth = Image.fromarray(coarse).resize((w, h), Image.BILINEAR)
        out += amp * np.asarray(smooth)
    return out


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out
