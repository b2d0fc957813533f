"""Scene geometry, object footprints and apparent-temperature rendering."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.spatial import ConvexHull

from embercast.physics.ceiling_jet import alpert_radial_factor
from embercast.physics.radiation import (
    apparent_temperature,
    band_radiance,
    brightness_temperature,
)
from embercast.scene.geometry import SURFACES, CameraPose, Room, room_hits
from embercast.scene.objects import (
    Box,
    Disc,
    capsule_coverage,
    footprint,
    hit_range,
    static_footprints,
)
from embercast.scene.render import Capsule, FrameState, SceneRenderer, StaticObject

ROOM = Room(length=5.0, width=4.0, height=2.7)
AMBIENT = 21.0
# a camera high on the x = 0 wall, looking along the room and down
POSE = CameraPose(position=(0.3, 2.0, 2.2), yaw=0.0, pitch=25.0)
HEATER = Box(lo=(2.5, 1.5, 0.0), hi=(3.2, 2.3, 0.9))


def random_pose(rng: np.random.Generator, room: Room = ROOM) -> CameraPose:
    margin = 0.1
    return CameraPose(
        position=(
            float(rng.uniform(margin, room.length - margin)),
            float(rng.uniform(margin, room.width - margin)),
            float(rng.uniform(margin, room.height - margin)),
        ),
        yaw=float(rng.uniform(0.0, 360.0)),
        pitch=float(rng.uniform(-89.0, 90.0)),
        hfov=float(rng.uniform(30.0, 100.0)),
    )


def renderer(
    objects: list[StaticObject] | None = None,
    *,
    pose: CameraPose = POSE,
    texture_k: float = 0.5,
    seed: int = 0,
    fire_xy: tuple[float, float] | None = None,
) -> SceneRenderer:
    return SceneRenderer(
        ROOM,
        pose,
        objects or [],
        fire_xy=fire_xy,
        fire_height=2.4,
        layer_depth=0.8,
        texture_k=texture_k,
        rng=np.random.default_rng(seed),
    )


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------


def test_room_validation_and_sizes() -> None:
    assert ROOM.volume == pytest.approx(54.0)
    assert ROOM.surface_area == pytest.approx(2 * 20.0 + 2 * 2.7 * 9.0)
    for bad in (0.3, -2.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="length"):
            Room(length=bad, width=4.0, height=2.7)


def test_camera_basis_is_orthonormal_and_right_handed(global_random_seed: int) -> None:
    rng = np.random.default_rng(global_random_seed)
    for _ in range(5):
        b = random_pose(rng).basis
        np.testing.assert_allclose(b @ b.T, np.eye(3), atol=1e-12)
        # right x down = forward, so the image is not mirrored
        np.testing.assert_allclose(np.cross(b[0], b[1]), b[2], atol=1e-12)
    level = CameraPose(position=(0.0, 0.0, 1.0), yaw=90.0, pitch=0.0).basis
    np.testing.assert_allclose(level, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)


def _assert_hits_on_room(room: Room, pose: CameraPose) -> None:
    hits = room_hits(room, pose)
    h, w = pose.height, pose.width
    assert hits.point.shape == (h, w, 3) and hits.surface.shape == (h, w)
    assert np.all(np.isfinite(hits.distance)) and np.all(hits.distance > 0.0)
    # the hit point is where the ray goes after that distance
    origin = np.asarray(pose.position)
    np.testing.assert_allclose(
        hits.point, origin + pose.rays() * hits.distance[..., None], atol=1e-9
    )
    eps = 1e-9
    size = np.array([room.length, room.width, room.height])
    assert np.all(hits.point >= -eps) and np.all(hits.point <= size + eps)
    # and it lies on the surface it is labelled with
    on_plane = {
        "floor": (2, 0.0),
        "ceiling": (2, room.height),
        "wall_x0": (0, 0.0),
        "wall_x1": (0, room.length),
        "wall_y0": (1, 0.0),
        "wall_y1": (1, room.width),
    }
    for sid, name in enumerate(SURFACES):
        axis, value = on_plane[name]
        sel = hits.surface == sid
        np.testing.assert_allclose(hits.point[sel][:, axis], value, atol=1e-9)


def test_every_ray_hits_a_room_surface_inside_the_box(global_random_seed: int) -> None:
    rng = np.random.default_rng(global_random_seed)
    for _ in range(4):
        _assert_hits_on_room(ROOM, random_pose(rng))


@pytest.mark.parametrize(("yaw", "pitch"), [(0.0, 0.0), (90.0, 90.0), (180.0, -90.0), (270.0, 0.0)])
def test_axis_aligned_rays_hit_the_room(yaw: float, pitch: float) -> None:
    # rays with zero components take the infinite branch of the slab test
    _assert_hits_on_room(ROOM, CameraPose(position=(2.5, 2.0, 1.35), yaw=yaw, pitch=pitch))


def test_project_and_pixel_ray_agree(global_random_seed: int) -> None:
    rng = np.random.default_rng(global_random_seed)
    for _ in range(3):
        pose = random_pose(rng)
        origin = np.asarray(pose.position)
        rays = pose.rays()
        # a point on the ray of a pixel projects to that pixel's centre
        rows = rng.integers(0, pose.height, 50)
        cols = rng.integers(0, pose.width, 50)
        dist = rng.uniform(0.2, 6.0, 50)
        col, row, depth = pose.project(origin + rays[rows, cols] * dist[:, None])
        np.testing.assert_allclose(col, cols + 0.5, atol=1e-9)
        np.testing.assert_allclose(row, rows + 0.5, atol=1e-9)
        np.testing.assert_allclose(depth, dist * (rays[rows, cols] @ pose.basis[2]), rtol=1e-12)
        # the ray of the pixel a point projects into passes within one pixel of the point
        cam = np.column_stack(
            [
                rng.uniform(-0.5, 0.5, 400) * pose.width / pose.focal_px,
                rng.uniform(-0.5, 0.5, 400) * pose.height / pose.focal_px,
                np.ones(400),
            ]
        )
        pts = origin + (cam * rng.uniform(0.2, 8.0, (400, 1))) @ pose.basis
        col, row, depth = pose.project(pts)
        seen = (col >= 0) & (col < pose.width) & (row >= 0) & (row < pose.height)
        assert seen.mean() > 0.99
        rel = pts[seen] - origin
        ray = rays[row[seen].astype(int), col[seen].astype(int)]
        along = np.sum(rel * ray, axis=1)
        off = np.linalg.norm(rel - along[:, None] * ray, axis=1)
        pixel_at_range = np.linalg.norm(rel, axis=1) / pose.focal_px
        assert np.all(along > 0.0)
        assert np.all(off <= pixel_at_range)


def test_optical_axis_projects_to_image_centre() -> None:
    fwd = POSE.basis[2]
    col, row, depth = POSE.project(np.asarray(POSE.position) + 3.0 * fwd[None, :])
    np.testing.assert_allclose([col[0], row[0], depth[0]], [80.0, 60.0, 3.0], atol=1e-9)
    # a point to the camera's right and below lands right of and below the centre
    right, down = POSE.basis[0], POSE.basis[1]
    point = np.asarray(POSE.position) + 3.0 * fwd + 0.2 * right + 0.1 * down
    col, row, _ = POSE.project(point[None, :])
    assert col[0] == pytest.approx(80.0 + 0.2 / 3.0 * POSE.focal_px)
    assert row[0] == pytest.approx(60.0 + 0.1 / 3.0 * POSE.focal_px)


def test_camera_looking_down_sees_mostly_floor() -> None:
    straight_down = CameraPose(position=(2.5, 2.0, 2.6), yaw=0.0, pitch=90.0)
    assert np.all(room_hits(ROOM, straight_down).surface == SURFACES.index("floor"))
    corner = CameraPose(position=(0.2, 0.2, 2.5), yaw=35.0, pitch=45.0)
    surface = room_hits(ROOM, corner).surface
    assert np.mean(surface == SURFACES.index("floor")) > 0.8
    assert not np.any(surface == SURFACES.index("ceiling"))
    up = CameraPose(position=(0.3, 2.0, 1.6), yaw=0.0, pitch=-35.0)
    assert np.mean(room_hits(ROOM, up).surface == SURFACES.index("ceiling")) > 0.9


# --------------------------------------------------------------------------------------------
# footprints
# --------------------------------------------------------------------------------------------


def _box_corners(box: Box) -> NDArray[np.float64]:
    return np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float) * (
        np.subtract(box.hi, box.lo)
    ) + np.asarray(box.lo)


def test_box_footprint_matches_its_projected_corners() -> None:
    col, row, depth = POSE.project(_box_corners(HEATER))
    assert np.all(depth > 0.5) and col.min() > 1 and col.max() < 159 and row.max() < 119
    hull = ConvexHull(np.column_stack([col, row]))
    fp = footprint(HEATER, ROOM, POSE)
    assert np.all((fp.coverage > 0) & (fp.coverage <= 1))
    # the silhouette of a convex box is the hull of its projected corners: same area ...
    assert float(fp.coverage.sum()) == pytest.approx(hull.volume, rel=0.03)
    # ... same place ...
    r, c = np.divmod(fp.index, POSE.width)
    centres = np.column_stack([c + 0.5, r + 0.5])
    w = fp.coverage.astype(float)
    poly = hull.points[hull.vertices]
    signed = _signed_edge_distances(poly, centres)
    # every covered pixel is within a pixel of the silhouette, every pixel well inside is covered
    assert np.all(signed.max(axis=1) <= 1.0)
    all_pixels = np.stack(np.meshgrid(np.arange(160) + 0.5, np.arange(120) + 0.5), -1).reshape(
        -1, 2
    )
    deep = np.flatnonzero(_signed_edge_distances(poly, all_pixels).max(axis=1) < -1.0)
    assert deep.size > 100
    full = fp.index[fp.coverage == 1.0]
    assert np.isin(deep, full).all()
    # and the covered pixels sit around the hull's centre of area
    centroid = (centres * w[:, None]).sum(axis=0) / w.sum()
    assert np.linalg.norm(centroid - _polygon_centroid(poly)) < 0.5
    # depth: mean range to the visible faces, between the nearest and farthest corner
    dist = np.linalg.norm(_box_corners(HEATER) - np.asarray(POSE.position), axis=1)
    assert dist.min() <= fp.depth <= dist.max()


def _signed_edge_distances(
    poly: NDArray[np.float64], pts: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Signed distance of points to each edge line of a counter-clockwise convex polygon
    (negative inside)."""
    edge = np.roll(poly, -1, axis=0) - poly
    # ConvexHull lists 2-d vertices counter-clockwise, so (ey, -ex) points outwards
    normal = np.column_stack([edge[:, 1], -edge[:, 0]]) / np.linalg.norm(edge, axis=1)[:, None]
    return np.einsum("pke,ke->pk", pts[:, None, :] - poly[None, :, :], normal)


def _polygon_centroid(poly: NDArray[np.float64]) -> NDArray[np.float64]:
    x, y = poly[:, 0], poly[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2.0
    return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6.0 * area)


@pytest.mark.parametrize("centre_xy", [(2.5, 2.0), (2.9, 2.3), (2.1, 1.6)])
def test_disc_seen_from_above_covers_its_area(centre_xy: tuple[float, float]) -> None:
    pose = CameraPose(position=(2.5, 2.0, 2.5), yaw=0.0, pitch=90.0)
    disc = Disc(center=(*centre_xy, 0.9), radius=0.12)
    fp = footprint(disc, ROOM, pose)
    # image plane parallel to the disc: a similarity, pi r^2 / (1.6 m / f)^2 pixels wherever it is
    pixel = 1.6 / pose.focal_px
    assert float(fp.coverage.sum()) == pytest.approx(math.pi * 0.12**2 / pixel**2, rel=0.03)
    # depth of a static footprint: mean range along the rays that hit it
    centre_range = float(np.linalg.norm(np.subtract(disc.center, pose.position)))
    assert 1.6 <= fp.depth == pytest.approx(centre_range, rel=0.01)
    # centred under the projected centre
    col, row, _ = pose.project(np.array([disc.center]))
    r, c = np.divmod(fp.index, pose.width)
    w = fp.coverage.astype(float)
    assert np.sum((c + 0.5) * w) / w.sum() == pytest.approx(col[0], abs=0.2)
    assert np.sum((r + 0.5) * w) / w.sum() == pytest.approx(row[0], abs=0.2)


@pytest.mark.parametrize("radius_px", [0.15, 0.3, 0.55])
def test_subpixel_disc_keeps_its_area_wherever_it_is(
    radius_px: float, global_random_seed: int
) -> None:
    """A glowing ember smaller than a pixel is never lost between the sample rays: its coverage
    is its projected area at every sub-pixel position."""
    rng = np.random.default_rng(global_random_seed)
    pose = CameraPose(position=(2.5, 2.0, 2.5), yaw=0.0, pitch=90.0)
    pixel = 1.6 / pose.focal_px  # the disc plane is 1.6 m below, parallel to the image
    expected = math.pi * radius_px**2
    for _ in range(40):
        centre = (2.5 + rng.uniform(-0.5, 0.5), 2.0 + rng.uniform(-0.5, 0.5), 0.9)
        fp = footprint(Disc(center=centre, radius=radius_px * pixel), ROOM, pose)
        assert float(fp.coverage.sum()) == pytest.approx(expected, rel=0.01)
        assert fp.index.size <= 4 and np.all(fp.coverage <= 1.0)
    hidden = footprint(Disc(center=(5.5, 2.0, 0.9), radius=0.3 * pixel), ROOM, pose)
    assert hidden.index.size == 0


def test_static_objects_hide_each_other_by_range() -> None:
    """A z-buffer, not a painter's order: an ember on top of the item it burns stays visible
    (small or not), and a box behind a nearer box is hidden where they overlap."""
    pose = CameraPose(position=(0.2, 0.2, 2.5), yaw=38.0, pitch=30.0)
    item = Box(lo=(2.7, 2.0, 0.0), hi=(3.3, 2.6, 0.4))
    item_alone = float(footprint(item, ROOM, pose).coverage.sum())
    for radius in (0.01, 0.1):  # sub-pixel (area-preserving) and sampled
        ember = Disc(center=(3.0, 2.3, 0.41), radius=radius)
        alone = footprint(ember, ROOM, pose)
        ember_fp, item_fp = static_footprints([ember, item], ROOM, pose)
        assert float(ember_fp.coverage.sum()) == pytest.approx(float(alone.coverage.sum()))
        if ember_fp.subpixel:
            # composited over the item: the item keeps every ray (no share taken twice)
            assert float(item_fp.coverage.sum()) == pytest.approx(item_alone)
        else:  # the item gives up the pixels the ember covers
            assert float(item_fp.coverage.sum()) < item_alone
    front = Box(lo=(1.5, 1.2, 0.0), hi=(2.0, 1.7, 1.5))
    back = Box(lo=(2.5, 2.0, 0.0), hi=(3.0, 2.5, 1.0))
    back_alone = footprint(back, ROOM, pose)
    front_fp, back_fp = static_footprints([front, back], ROOM, pose)
    assert float(back_fp.coverage.sum()) < 0.9 * float(back_alone.coverage.sum())
    assert float(front_fp.coverage.sum()) == pytest.approx(
        float(footprint(front, ROOM, pose).coverage.sum())
    )
    # an ember hidden behind the front box is not drawn
    hidden = Disc(center=(2.75, 2.25, 0.2), radius=0.01)
    assert footprint(hidden, ROOM, pose).index.size > 0
    assert static_footprints([hidden, front], ROOM, pose)[0].index.size == 0


def test_annulus_and_its_core_tile_the_whole_disc() -> None:
    """A spreading front drawn as a core disc plus rings covers exactly the disc: rays through
    the hole miss the ring, and a sub-pixel ring keeps the area between its radii."""
    pose = CameraPose(position=(2.5, 2.0, 2.5), yaw=0.0, pitch=90.0)
    centre = (2.6, 2.1, 0.9)
    whole = footprint(Disc(center=centre, radius=0.2), ROOM, pose)
    core, ring = static_footprints(
        [Disc(center=centre, radius=0.1), Disc(center=centre, radius=0.2, inner=0.1)], ROOM, pose
    )
    assert float(core.coverage.sum() + ring.coverage.sum()) == pytest.approx(
        float(whole.coverage.sum()), rel=0.01
    )
    assert float(ring.coverage.sum()) == pytest.approx(3.0 * float(core.coverage.sum()), rel=0.05)
    origin = np.asarray(pose.position, dtype=np.float64)
    down = np.array([0.0, 0.0, -1.0])
    hole = np.array([[centre[0] - origin[0], centre[1] - origin[1], centre[2] - origin[2]]])
    hole /= np.linalg.norm(hole)
    assert math.isinf(float(hit_range(Disc(center=centre, radius=0.2, inner=0.1), origin, hole)[0]))
    assert float(hit_range(Disc(center=(2.5, 2.0, 0.9), radius=0.2), origin, down)) == 1.6
    pixel = 1.6 / pose.focal_px
    small = footprint(Disc(center=centre, radius=0.5 * pixel, inner=0.3 * pixel), ROOM, pose)
    assert small.subpixel
    assert float(small.coverage.sum()) == pytest.approx(math.pi * (0.25 - 0.09), rel=0.01)


def test_subpixel_ember_is_composited_over_the_item_it_burns() -> None:
    """An ember smaller than a pixel mixes its radiance into the pixel in proportion to its
    area, over the item under it, even when the item's nearer face puts it nearer on average
    (drawn last)."""
    pose = CameraPose(position=(0.5, 2.0, 2.5), yaw=0.0, pitch=45.0)
    item = Box(lo=(2.2, 1.7, 0.0), hi=(2.8, 2.3, 0.5))
    ember = Disc(center=(2.75, 2.0, 0.51), radius=0.006)  # the far edge of the item's top
    objects = [
        StaticObject(name="ember", shape=ember, emissivity=1.0),
        StaticObject(name="item", shape=item, emissivity=1.0),
    ]
    r = SceneRenderer(
        ROOM,
        pose,
        objects,
        fire_xy=None,
        fire_height=2.4,
        layer_depth=0.8,
        texture_k=0.0,
        rng=np.random.default_rng(0),
    )
    img = r.render(FrameState(ambient=AMBIENT, objects=np.array([500.0, 60.0]))).ravel()
    fp = footprint(ember, ROOM, pose)
    assert fp.subpixel and fp.index.size > 0
    assert fp.depth > footprint(item, ROOM, pose).depth
    expected = brightness_temperature(
        band_radiance(60.0) + fp.coverage * (band_radiance(500.0) - band_radiance(60.0))
    )
    np.testing.assert_allclose(img[fp.index], expected, atol=0.05)
    assert float(img[fp.index].max()) > 60.5


def test_object_behind_a_wall_has_no_footprint() -> None:
    # a disc on the other side of the x = 5 m wall is hidden
    pose = CameraPose(position=(2.5, 2.0, 1.5), yaw=0.0, pitch=0.0)
    hidden = footprint(Disc(center=(5.5, 2.0, 1.0), radius=0.3), ROOM, pose)
    assert hidden.index.size == 0 and hidden.depth == math.inf
    seen = footprint(Disc(center=(4.5, 2.0, 1.0), radius=0.3), ROOM, pose)
    assert seen.index.size > 0


def _capsule_area_px(r_px: float, length_px: float) -> float:
    return 2.0 * r_px * length_px + math.pi * r_px**2


@pytest.mark.parametrize("r_px", [0.05, 0.15, 0.3, 0.45])
@pytest.mark.parametrize("length_px", [0.0, 1.5, 6.0])
def test_subpixel_capsule_keeps_its_area(
    r_px: float, length_px: float, global_random_seed: int
) -> None:
    rng = np.random.default_rng(global_random_seed)
    pose = CameraPose(position=(0.0, 2.0, 1.5), yaw=0.0, pitch=0.0)
    f = pose.focal_px
    ratios = []
    for _ in range(150):
        d = float(rng.uniform(2.0, 6.0))
        centre = np.array([d, 2.0 + rng.uniform(-0.3, 0.3) * d / 4, 1.5 + rng.uniform(-0.3, 0.3)])
        angle = rng.uniform(0.0, np.pi)
        half = 0.5 * length_px * d / f * np.array([0.0, math.cos(angle), math.sin(angle)])
        idx, cov = capsule_coverage(pose, centre - half, centre + half, r_px * d / f, r_px * d / f)
        assert np.all((cov > 0.0) & (cov <= 1.0))
        assert np.unique(idx).size == idx.size
        ratios.append(float(cov.sum()) / _capsule_area_px(r_px, length_px))
    # area preserved on average over sub-pixel positions ...
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.04)
    # ... and never lost or doubled at one position (a dot within 15 %; a short thin line
    # aliases more because its one-pixel-wide body has sharp ends)
    lo, hi = (0.85, 1.15) if length_px == 0.0 else (0.6, 1.7)
    assert lo <= min(ratios) and max(ratios) <= hi


def test_large_capsule_covers_its_area_and_is_solid() -> None:
    pose = CameraPose(position=(0.0, 2.0, 1.5), yaw=0.0, pitch=0.0)
    d, f = 3.0, pose.focal_px
    r, length = 4.0 * d / f, 20.0 * d / f
    idx, cov = capsule_coverage(
        pose, np.array([d, 2.0, 1.5 - length / 2]), np.array([d, 2.0, 1.5 + length / 2]), r, r
    )
    # the soft edge adds pi/12 px^2 at the rounded ends
    assert float(cov.sum()) == pytest.approx(_capsule_area_px(4.0, 20.0) + math.pi / 12, rel=0.01)
    assert np.sum(cov == 1.0) > 0.8 * _capsule_area_px(3.0, 20.0)
    rows, cols = np.divmod(idx, pose.width)
    assert abs(cols.mean() + 0.5 - 80.0) < 0.1 and abs(rows.mean() + 0.5 - 60.0) < 0.1


def test_capsule_behind_or_beside_the_camera_covers_nothing() -> None:
    pose = CameraPose(position=(2.0, 2.0, 1.5), yaw=0.0, pitch=0.0)
    behind = capsule_coverage(pose, np.array([1.0, 2.0, 1.5]), np.array([0.5, 2.1, 1.8]), 0.1, 0.1)
    assert behind[0].size == 0 and behind[1].size == 0
    beside = capsule_coverage(pose, np.array([3.0, 6.0, 1.5]), np.array([3.0, 6.0, 2.0]), 0.1, 0.1)
    assert beside[0].size == 0
    ahead = capsule_coverage(pose, np.array([3.0, 2.0, 1.5]), np.array([3.0, 2.0, 2.0]), 0.1, 0.1)
    assert ahead[0].size > 0


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------


def test_uniform_room_renders_ambient_within_texture(global_random_seed: int) -> None:
    state = FrameState(ambient=AMBIENT)
    flat = renderer(texture_k=0.0, seed=global_random_seed).render(state)
    textured = renderer(texture_k=0.5, seed=global_random_seed).render(state)
    assert flat.shape == (POSE.height, POSE.width) and flat.dtype == np.float32
    # without texture only the small floor-to-ceiling gradient is left: -0.8 .. +0.2 K
    surface = room_hits(ROOM, POSE).surface
    floor = surface == SURFACES.index("floor")
    assert floor.mean() > 0.3
    np.testing.assert_allclose(flat[floor], AMBIENT - 0.8, atol=1e-5)
    assert np.all(flat >= AMBIENT - 0.8 - 1e-5) and np.all(flat <= AMBIENT + 0.2 + 1e-5)
    # the texture has exactly the requested spread around that
    texture = (textured - flat).astype(np.float64)
    assert texture.std() == pytest.approx(0.5, abs=2e-3)
    assert abs(texture.mean()) < 0.5
    assert np.all(np.abs(textured - AMBIENT) < 0.8 + 6 * 0.5)
    # the same seed gives the same frame
    again = renderer(texture_k=0.5, seed=global_random_seed).render(state)
    np.testing.assert_array_equal(again, textured)


def test_hot_static_object_raises_exactly_its_pixels(global_random_seed: int) -> None:
    heater = StaticObject(name="heater", shape=HEATER, emissivity=0.95)
    plain = renderer(seed=global_random_seed).render(FrameState(ambient=AMBIENT))
    hot = renderer([heater], seed=global_random_seed).render(
        FrameState(ambient=AMBIENT, objects=np.array([150.0]))
    )
    fp = footprint(HEATER, ROOM, POSE)
    changed = np.flatnonzero((hot != plain).ravel())
    np.testing.assert_array_equal(changed, np.sort(fp.index))
    rise = (hot - plain).ravel()[fp.index]
    assert np.all(rise > 5.0)
    full = fp.index[fp.coverage == 1.0]
    assert full.size > 100
    expected = float(apparent_temperature(150.0, 0.95, AMBIENT))
    np.testing.assert_allclose(hot.ravel()[full], expected, atol=1e-3)
    # partly covered pixels lie between the background and the object
    part = fp.coverage < 1.0
    assert np.all(hot.ravel()[fp.index[part]] < expected)


def test_lower_emissivity_pulls_a_hot_object_toward_ambient() -> None:
    fp = footprint(HEATER, ROOM, POSE)
    full = fp.index[fp.coverage == 1.0]
    state = FrameState(ambient=AMBIENT, objects=np.array([300.0]))
    seen = []
    for eps in (1.0, 0.9, 0.6, 0.3):
        obj = StaticObject(name="pan", shape=HEATER, emissivity=eps)
        values = renderer([obj]).render(state).ravel()[full]
        np.testing.assert_allclose(
            values, float(apparent_temperature(300.0, eps, AMBIENT)), atol=1e-3
        )
        seen.append(float(values.mean()))
    assert seen[0] == pytest.approx(300.0, abs=1e-3)
    assert all(a > b for a, b in zip(seen, seen[1:], strict=False))
    assert seen[-1] > AMBIENT + 20.0


def test_flame_capsule_is_between_ambient_and_its_temperature() -> None:
    flame = Capsule(
        p0=(2.8, 2.0, 0.9), p1=(2.8, 2.0, 1.4), r0=0.08, r1=0.01, temp=900.0, emissivity=0.3
    )
    plain = renderer().render(FrameState(ambient=AMBIENT))
    img = renderer().render(FrameState(ambient=AMBIENT, capsules=[flame]))
    idx, cov = capsule_coverage(POSE, np.asarray(flame.p0), np.asarray(flame.p1), 0.08, 0.01)
    assert cov.max() == 1.0
    np.testing.assert_array_equal(np.flatnonzero((img != plain).ravel()), np.sort(idx))
    seen = img.ravel()[idx]
    assert np.all(seen > plain.ravel()[idx])
    # a flame is semi-transparent: what is behind it shows through with weight 1 - emissivity
    behind = plain.ravel()[idx]
    expected = brightness_temperature(0.3 * band_radiance(900.0) + 0.7 * band_radiance(behind))
    assert np.all((AMBIENT + 100.0 < expected) & (expected < 900.0))
    assert np.all(seen <= expected + 1e-3)
    np.testing.assert_allclose(seen[cov == 1.0], expected[cov == 1.0], atol=1e-3)
    # ... so a hot object behind it stays brighter than ambient behind it would
    assert float(apparent_temperature(900.0, 0.3, AMBIENT)) == pytest.approx(
        float(brightness_temperature(0.3 * band_radiance(900.0) + 0.7 * band_radiance(AMBIENT))),
        abs=1e-3,
    )


def test_hot_gas_in_front_of_a_hot_object_lets_it_show_through() -> None:
    """A faint warm plume (emissivity 0.05) in front of a 300 degC heater must not paint the
    heater over with room-temperature radiance: 95 % of the heater's radiance comes through."""
    heater = StaticObject(name="heater", shape=HEATER, emissivity=0.95)
    r = renderer([heater])
    hot = r.render(FrameState(ambient=AMBIENT, objects=np.array([300.0])))
    plume = Capsule(p0=(2.0, 1.9, 0.2), p1=(2.0, 1.9, 2.0), r0=0.25, r1=0.3, temp=35.0,
                    emissivity=0.05)  # fmt: skip
    both = r.render(FrameState(ambient=AMBIENT, objects=np.array([300.0]), capsules=[plume]))
    idx, cov = capsule_coverage(POSE, np.asarray(plume.p0), np.asarray(plume.p1), 0.25, 0.3)
    behind = hot.ravel()[idx]
    full = (cov == 1.0) & (behind > 250.0)
    assert full.sum() > 10
    expected = brightness_temperature(
        0.05 * band_radiance(35.0) + 0.95 * band_radiance(behind[full])
    )
    np.testing.assert_allclose(both.ravel()[idx][full], expected, atol=1e-2)
    assert np.all(both.ravel()[idx][full] > 250.0)


def test_ceiling_jet_warms_ceiling_nearest_the_fire_axis_most() -> None:
    pose = CameraPose(position=(0.3, 2.0, 1.6), yaw=0.0, pitch=-35.0)
    fire_xy = (3.0, 2.0)
    scene = renderer(pose=pose, fire_xy=fire_xy)
    warm = scene.render(FrameState(ambient=AMBIENT, jet=20.0)).astype(np.float64)
    cold = scene.render(FrameState(ambient=AMBIENT)).astype(np.float64)
    rise = warm - cold
    hits = room_hits(ROOM, pose)
    ceiling = hits.surface == SURFACES.index("ceiling")
    r = np.hypot(hits.point[..., 0] - fire_xy[0], hits.point[..., 1] - fire_xy[1])
    assert r[ceiling].min() < 0.05  # the camera sees the ceiling above the fire
    # on the ceiling, the rise is the Alpert excess for Q^(2/3) = 20
    np.testing.assert_allclose(
        rise[ceiling], 20.0 * alpert_radial_factor(2.4, r[ceiling]), rtol=1e-5, atol=1e-3
    )
    # the warmest pixel is on the ceiling, nearest the axis, and the rise falls with radius
    top = np.unravel_index(np.argmax(rise), rise.shape)
    assert ceiling[top] and r[top] <= 0.18 * 2.4
    order = np.argsort(r[ceiling])
    assert np.all(np.diff(rise[ceiling][order]) <= 1e-3)
    assert rise[ceiling][order[-1]] < 0.5 * rise.max()
    assert np.all(rise >= 0.0)
    # seen from above: walls are warmed only within the top 15 % of the room, the floor never
    scene = renderer(fire_xy=fire_xy)
    rise = scene.render(FrameState(ambient=AMBIENT, jet=20.0)) - scene.render(
        FrameState(ambient=AMBIENT)
    )
    hits = room_hits(ROOM, POSE)
    low = hits.point[..., 2] < 0.85 * ROOM.height
    assert low.mean() > 0.5 and np.all(rise[low] == 0.0)
    assert np.all(rise[~low] > 0.0)


def test_hot_layer_warms_upper_surfaces_not_the_floor() -> None:
    scene = renderer()
    rise = scene.render(FrameState(ambient=AMBIENT, layer=8.0)) - scene.render(
        FrameState(ambient=AMBIENT)
    )
    hits = room_hits(ROOM, POSE)
    floor = hits.surface == SURFACES.index("floor")
    z = hits.point[..., 2]
    assert np.all(rise[floor] == 0.0)
    np.testing.assert_allclose(rise[~floor & (z > ROOM.height - 0.5)], 8.0, atol=1e-4)
    np.testing.assert_allclose(rise[~floor & (z < ROOM.height - 1.2)], 0.0, atol=1e-4)
