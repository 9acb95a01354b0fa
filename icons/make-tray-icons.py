#!/usr/bin/env python3
"""Draws the tray icons (32x32 RGBA PNG, Python's standard library only): one shape per state, so
the shape tells the state as well as the colour (for colour-blind people), each with a light
rim so it stands out on a dark panel as well as a light one; and the macOS template variants
(black shapes with alpha, which the menu bar tints itself).

  python3 icons/make-tray-icons.py        rewrites icons/tray-*.png

signed out: a hollow ring · working: a ring around a dot · ready: a shield with a check mark ·
warning: a triangle with an exclamation mark · blocked: a disc with a bar (no entry).
"""
import math
import pathlib
import struct
import zlib

SIZE = 32
SAMPLES = 4  # per axis, for smooth edges
HERE = pathlib.Path(__file__).resolve().parent

COLOURS = {
    "signed-out": (0x6E, 0x77, 0x81),
    "working": (0x09, 0x69, 0xDA),
    "ready": (0x1A, 0x7F, 0x37),
    "warning": (0xA3, 0x6F, 0x00),
    "blocked": (0xCF, 0x22, 0x2E),
}
RIM = (0xFF, 0xFF, 0xFF)
MARK = (0xFF, 0xFF, 0xFF)
WARNING_MARK = (0x1F, 0x23, 0x28)
C = SIZE / 2


def ring(x, y, outer, inner):
    d = math.hypot(x - C, y - C)
    return inner <= d <= outer


def disc(x, y, r):
    return math.hypot(x - C, y - C) <= r


def segment_distance(x, y, a, b):
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def triangle(x, y, grow=0.0):
    """An upward triangle; `grow` widens it by that many pixels on every side."""
    top, left, right = (C, 3.0 - grow * 1.6), (2.5 - grow, 28.0 + grow), (29.5 + grow, 28.0 + grow)
    def side(p, q):
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])
    s1, s2, s3 = side(top, left), side(left, right), side(right, top)
    return (s1 <= 0 and s2 <= 0 and s3 <= 0) or (s1 >= 0 and s2 >= 0 and s3 >= 0)


def shield(x, y, grow=0.0):
    """A shield (wide top, pointed foot); `grow` widens it by about that many pixels."""
    g = grow
    points = [(5.5 - g, 5.0 - g), (C, 2.0 - g * 1.2), (26.5 + g, 5.0 - g), (26.5 + g, 15.0),
              (C, 30.0 + g * 1.3), (5.5 - g, 15.0)]
    inside = False
    for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1]):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def shape(name, x, y):
    """What covers (x, y): 'rim', 'fill', 'mark' or None."""
    if name == "signed-out":
        if ring(x, y, 11.0, 6.5):
            return "fill"
        if ring(x, y, 13.0, 4.5):
            return "rim"
    elif name == "working":
        if ring(x, y, 11.5, 7.5) or disc(x, y, 4.5):
            return "fill"
        if ring(x, y, 13.0, 6.0) or disc(x, y, 6.0):
            return "rim"
    elif name == "ready":
        check = min(segment_distance(x, y, (10.0, 14.5), (14.5, 19.5)),
                    segment_distance(x, y, (14.5, 19.5), (22.0, 9.5)))
        if shield(x, y):
            return "mark" if check <= 1.9 else "fill"
        if shield(x, y, grow=1.8):
            return "rim"
    elif name == "warning":
        bar = segment_distance(x, y, (C, 11.0), (C, 19.5)) <= 1.8
        dot = math.hypot(x - C, y - 23.8) <= 1.9
        if triangle(x, y):
            return "mark" if bar or dot else "fill"
        if triangle(x, y, grow=2.0):
            return "rim"
    elif name == "blocked":
        if disc(x, y, 11.5):
            return "mark" if abs(y - C) <= 2.2 and abs(x - C) <= 7.5 else "fill"
        if disc(x, y, 13.5):
            return "rim"
    return None


def pixels(name, template):
    colour = COLOURS[name]
    mark = WARNING_MARK if name == "warning" else MARK
    rows = []
    for py in range(SIZE):
        row = bytearray()
        for px in range(SIZE):
            r = g = b = a = 0.0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = px + (sx + 0.5) / SAMPLES
                    y = py + (sy + 0.5) / SAMPLES
                    part = shape(name, x, y)
                    if part is None:
                        continue
                    if template:
                        # The menu bar tints the opaque parts; marks are holes.
                        if part == "fill":
                            a += 1
                        continue
                    rgb = {"rim": RIM, "fill": colour, "mark": mark}[part]
                    r, g, b, a = r + rgb[0], g + rgb[1], b + rgb[2], a + 1
            n = SAMPLES * SAMPLES
            if a:
                row += bytes((round(r / a), round(g / a), round(b / a), round(255 * a / n)))
            else:
                row += bytes(4)
            if template:
                row[-4:-1] = bytes(3)
        rows.append(bytes(row))
    return rows


def png(rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    for name in COLOURS:
        (HERE / f"tray-{name}.png").write_bytes(png(pixels(name, template=False)))
        (HERE / f"tray-{name}-template.png").write_bytes(png(pixels(name, template=True)))
        print(f"icons/tray-{name}.png, icons/tray-{name}-template.png")


if __name__ == "__main__":
    main()
