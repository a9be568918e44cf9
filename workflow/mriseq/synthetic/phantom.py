"""A random 3D abdominal phantom: tissue fractions on a coarse voxel grid in patient coordinates.

Coordinates are DICOM patient coordinates (LPS, mm): x towards the patient's left, y posterior,
z superior; z = 0 lies near the renal hila. Each structure is painted with a soft occupancy (one
voxel wide edge) so voxels on borders hold two tissues: the partial volume that produces the
India-ink edge of opposed-phase images. Only the three largest fractions per voxel are kept, which
makes rendering a series a few gathers instead of a sum over every tissue.

The organs are assembled here (``build_phantom``) from the grid and shapes of
:mod:`mriseq.synthetic.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mriseq.synthetic.shapes import (
    EXTENT,
    VOXEL_MM,
    Painter,
    ellipsoid,
    random_wobble,
    soft,
    superellipse_cylinder,
    tube,
)
from mriseq.synthetic.tissues import INDEX, TISSUES

TOP_K = 3


@dataclass
class Phantom:
    """Top-K tissue fractions per voxel plus the per-patient facts the signal model needs."""

    tissue_index: np.ndarray  # (K, nx, ny, nz) uint8
    weight: np.ndarray  # (K, nx, ny, nz) float32
    texture: np.ndarray  # (nx, ny, nz) float32, ~N(0, 1) smooth field
    origin: np.ndarray  # (3,) mm of voxel (0, 0, 0)
    voxel_mm: float
    liver_fat: float
    body_axes: tuple[float, float]  # LR and AP semi-axes of the body outline (mm)
    spine_y: float
    liver_center: np.ndarray
    relaxation_scale: np.ndarray  # (n_tissues, 2): per-patient factors on T1 and T2

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.texture.shape


def _smooth_noise(rng, shape, sigma_vox: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox)
    return field / (field.std() + 1e-6)


def build_phantom(rng: np.random.Generator) -> Phantom:
    """Build one patient's phantom: random body habitus, organ sizes, shapes and positions."""
    p = Painter()
    u = rng.uniform
    size = u(0.88, 1.12)
    a_body, b_body = u(135, 185) * size, u(100, 135) * size
    y_body = u(-8, 8)
    sc_fat = u(8, 38) * size  # subcutaneous fat thickness
    visceral = u(0.15, 0.6)  # how much visceral fat around organs

    def taper(z):
        # Wider chest and hips than waist, a little.
        return 1.0 + 0.04 * np.tanh((z - 120) / 40) + 0.05 * np.tanh((-z - 150) / 40)

    occ, box = superellipse_cylinder(p, a_body, b_body, y_body, power=u(2.2, 3.0), taper=taper)
    p.paint("fat_sc", occ, box)
    inner_a, inner_b = a_body - sc_fat, b_body - sc_fat * 0.8
    occ, box = superellipse_cylinder(p, inner_a, inner_b, y_body, power=2.4, taper=taper)
    p.paint("muscle", occ, box)
    wall = u(8, 14)
    cav_a, cav_b = inner_a - wall, inner_b - wall
    occ_cavity, cav_box = superellipse_cylinder(p, cav_a, cav_b, y_body, power=2.2, taper=taper)
    p.paint("fat_visceral", occ_cavity, cav_box)
    cavity = np.zeros(p.frac.shape[1:], dtype=np.float32)
    cavity[cav_box] = occ_cavity

    def inside(occ, box):
        return occ * cavity[box]

    spine_y = y_body + b_body - sc_fat * 0.8 - u(62, 78)
    # Paraspinal muscles sit behind the cavity, beside the spine (inside the body outline).
    for side in (-1, 1):
        occ, box = tube(p, [(side * 36, spine_y + 44, EXTENT[2][0]),
                             (side * 36, spine_y + 44, EXTENT[2][1])], u(22, 28))
        p.paint("muscle", occ * (1 - p.frac[INDEX["air"]][box]), box)
    # Lungs above the diaphragm, heart in front of them.
    dome = u(110, 140)
    for side in (-1, 1):
        occ, box = ellipsoid(p, (side * cav_a * 0.48, spine_y - 40, dome + 110),
                              (cav_a * 0.46, cav_b * 0.85, 140), wobble=random_wobble(rng, 0.05))
        p.paint("lung", inside(occ, box), box)
    heart_c = (u(5, 30), y_body - cav_b * 0.35, dome + u(70, 90))
    heart_ax = (u(50, 62), u(42, 52), u(45, 55))
    occ, box = ellipsoid(p, heart_c, heart_ax, rot_z=0.5)
    p.paint("myocardium", inside(occ, box), box)
    occ, box = ellipsoid(p, heart_c, tuple(a - 10 for a in heart_ax), rot_z=0.5)
    p.paint("heart_blood", inside(occ, box), box)

    # Liver: right lobe plus a left lobe across the midline, under the diaphragm dome.
    liver_fat = float(rng.choice([0.0, 0.0, u(0.02, 0.08), u(0.1, 0.3)]))
    lc = np.array([-cav_a * u(0.35, 0.5), y_body + u(-5, 15), dome - u(70, 85)])
    lax = (cav_a * u(0.7, 0.85), cav_b * u(0.95, 1.1), u(80, 95))
    occ_r, box_r = ellipsoid(p, lc, lax, rot_z=u(-0.2, 0.2), wobble=random_wobble(rng, 0.06))
    # The liver fills the right upper quadrant against the wall; its medial border runs
    # obliquely (more medial anteriorly), leaving room for the IVC, kidney and stomach.
    x, y, z = p.coords(box_r)
    ph1, ph2 = u(0, 2 * np.pi, size=2)
    medial = (-cav_a * u(0.05, 0.2) - 0.45 * (y - y_body) + u(6, 14) * np.sin(z / u(20, 35) + ph1)
              + u(4, 10) * np.sin(y / u(15, 30) + ph2))
    p.paint("liver", inside(occ_r, box_r) * soft(x - medial), box_r)
    left_c = (u(5, 35), y_body - cav_b * u(0.35, 0.5), lc[2] + u(10, 25))
    occ, box = ellipsoid(p, left_c, (u(45, 70), u(25, 38), u(35, 50)), rot_z=u(-0.4, 0.1),
                          wobble=random_wobble(rng, 0.08))
    p.paint("liver", inside(occ, box), box)
    # Stomach (left upper quadrant) with an anterior air cap; spleen posterolateral to it.
    st_c = np.array([cav_a * u(0.2, 0.4), y_body - cav_b * u(0.1, 0.3), lc[2] + u(0, 25)])
    st_ax = (u(30, 48), u(28, 40), u(40, 60))
    occ, box = ellipsoid(p, st_c, st_ax, rot_z=u(-0.5, 0.5), wobble=random_wobble(rng, 0.08))
    p.paint("bowel_wall", inside(occ, box), box)
    occ, box = ellipsoid(p, st_c, tuple(a - 5 for a in st_ax), rot_z=0.2)
    p.paint("bowel_fluid", inside(occ, box), box)
    box_s, (x, y, z) = p.box(st_c - np.array(st_ax), st_c + np.array(st_ax))
    air_level = st_c[1] - st_ax[1] * u(0.1, 0.6)
    air = p.occupancy_of(["bowel_fluid"], box_s) * soft(y - air_level)
    p.paint("air", air, box_s)
    spleen_c = (cav_a * u(0.55, 0.72), spine_y - u(10, 30), lc[2] + u(-10, 15))
    spleen_ax = (u(22, 32), u(45, 65), u(45, 65))
    occ, box = ellipsoid(p, spleen_c, spleen_ax, rot_z=u(-0.9, -0.5),
                         wobble=random_wobble(rng, 0.1))
    occ = inside(occ, box)
    p.paint("spleen", occ, box)
    # Arciform red pulp: stripes that enhance late in the arterial phase.
    x, y, z = p.coords(box)
    theta = u(0, np.pi)
    stripes = np.sin((x * np.cos(theta) + y * np.sin(theta)) / u(5, 8) + 0.05 * z * u(-1, 1))
    p.paint("spleen_red_pulp", occ * np.clip(stripes + 0.3, 0, 1), box)

    # Kidneys: cortex, medulla, sinus fat and a urine-filled pelvis.
    for side, drop in ((-1, u(10, 25)), (1, 0.0)):
        kc = np.array([side * u(55, 75), spine_y - u(5, 15), u(0, 25) - drop])
        kax = np.array([u(24, 30), u(20, 26), u(48, 60)])
        rot = side * u(0.3, 0.6)
        occ, box = ellipsoid(p, kc, kax, rot_z=rot)
        p.paint("kidney_cortex", inside(occ, box), box)
        occ, box = ellipsoid(p, kc, kax * 0.72, rot_z=rot)
        p.paint("kidney_medulla", inside(occ, box), box)
        hilum = kc - np.array([side * kax[0] * 0.45, 0, 0])
        occ, box = ellipsoid(p, hilum, kax * np.array([0.35, 0.4, 0.45]), rot_z=rot)
        p.paint("fat_visceral", inside(occ, box), box)
        occ, box = ellipsoid(p, hilum, kax * np.array([0.2, 0.25, 0.3]), rot_z=rot)
        p.paint("urine", inside(occ, box), box)

    # Spine: vertebral bodies with discs, canal with CSF, posterior elements.
    disc_phase, disc_period = u(0, 32), u(30, 36)
    occ, box = tube(p, [(0, spine_y, EXTENT[2][0]), (0, spine_y, EXTENT[2][1])], u(17, 22))
    x, y, z = p.coords(box)
    disc = (np.mod(z - disc_phase, disc_period) < 7).astype(np.float32)
    p.paint("marrow", occ * (1 - disc), box)
    p.paint("disc", occ * disc, box)
    occ, box = tube(p, [(0, spine_y + 30, EXTENT[2][0]), (0, spine_y + 30, EXTENT[2][1])], 8)
    p.paint("csf", occ, box)
    occ, box = tube(p, [(0, spine_y + 50, EXTENT[2][0]), (0, spine_y + 50, EXTENT[2][1])], 9)
    p.paint("marrow", occ * (1 - disc), box)
    # Psoas muscles grow below the kidneys.
    for side in (-1, 1):
        occ, box = tube(p, [(side * 30, spine_y + 2, 40), (side * 50, spine_y - 5, -120),
                             (side * 70, spine_y - 25, EXTENT[2][0])], [6, 22, 28])
        p.paint("muscle", inside(occ, box), box)
    # Iliac wings.
    for side in (-1, 1):
        occ, box = ellipsoid(p, (side * cav_a * 0.75, spine_y - 10, -200), (18, 55, 50),
                              rot_z=side * 0.5)
        p.paint("marrow", inside(occ, box), box)

    # Pancreas along the splenic vein, in front of the spine.
    panc = [(-cav_a * 0.25, spine_y - 50, 5), (0, spine_y - 55, 18),
            (spleen_c[0] - 30, spleen_c[1] - 10, spleen_c[2] - 20)]
    occ, box = tube(p, panc, [u(13, 17), u(9, 12), u(8, 11)])
    p.paint("pancreas", inside(occ, box), box)

    # Bowel: fluid-filled small-bowel loops, a colon frame with stool and gas.
    # Small bowel fills the lower abdomen: many fluid- or chyme-filled loops at every depth.
    for _ in range(int(rng.integers(18, 28))):
        start = np.array([u(-0.75, 0.75) * cav_a, y_body + u(-0.8, 0.5) * cav_b, u(-210, 10)])
        pts = [start]
        for _ in range(6):
            pts.append(pts[-1] + rng.normal(scale=(30, 20, 25)))
        r = u(9, 15)
        occ, box = tube(p, pts, r)
        p.paint("bowel_wall", inside(occ, box), box)
        occ, box = tube(p, pts, r - 2.5)
        p.paint(str(rng.choice(["bowel_fluid", "bowel_fluid", "stool", "air"], p=[0.45, 0.25,
                                                                                  0.2, 0.1])),
                inside(occ, box), box)
    # Colon frame: ascending, transverse (below the liver edge), descending.
    colon = [(-cav_a * 0.8, 0, -170), (-cav_a * 0.8, 0, u(-20, 0)),
             (-cav_a * 0.5, -cav_b * 0.6, u(-40, -15)), (cav_a * 0.5, -cav_b * 0.6, u(-30, 0)),
             (cav_a * 0.8, 10, u(0, 30)), (cav_a * 0.8, 10, -170)]
    colon = [np.array(c) + rng.normal(scale=6, size=3) for c in colon]
    occ, box = tube(p, colon, u(16, 22))
    p.paint("bowel_wall", inside(occ, box), box)
    occ, box = tube(p, colon, 13)
    p.paint(str(rng.choice(["stool", "air"])), inside(occ, box), box)

    # Visceral fat amount: turn some of the visceral fat into... less fat (thin patients).
    if visceral < 0.3:
        sub = p.frac[INDEX["fat_visceral"]]
        move = sub * (0.3 - visceral) * 2
        sub -= move
        p.frac[INDEX["bowel_wall"]] += move * 0.5
        p.frac[INDEX["muscle"]] += move * 0.5

    # Vessels: aorta and IVC along the spine, portal venous tree, hepatic veins.
    ao = [(u(10, 22), spine_y - 30, EXTENT[2][1]), (u(10, 22), spine_y - 30, dome),
          (u(8, 20), spine_y - 32, -150), (40, spine_y - 30, -230)]
    occ, box = tube(p, ao, u(9, 13))
    p.paint("aorta", occ, box)
    occ, box = tube(p, [(30, spine_y - 30, -150), (-40, spine_y - 30, -230)], 6)
    p.paint("aorta", inside(occ, box), box)
    ivc_top = (heart_c[0] - 25, heart_c[1] + 20, heart_c[2] - 20)
    ivc = [(-u(20, 30), spine_y - 25, EXTENT[2][0]), (-u(20, 30), spine_y - 28, 20),
           (-u(18, 30), spine_y - 45, dome - 20), ivc_top]
    occ, box = tube(p, ivc, u(10, 13))
    p.paint("ivc", occ, box)
    conf = np.array([-5, spine_y - 60, 20])
    porta = np.array([lc[0] * 0.6, lc[1] - 10, lc[2] - 15])
    pv = [porta + np.array([-lax[0] * 0.5, u(-10, 10), u(0, 20)]), porta, conf,
          np.array([spleen_c[0] - 15, spleen_c[1] - 5, spleen_c[2] - 10])]
    occ, box = tube(p, pv, [5, u(7, 9), 6, 5])
    p.paint("portal_vein", occ, box)
    occ, box = tube(p, [porta, (left_c[0], left_c[1] + 10, left_c[2])], 4)
    p.paint("portal_vein", occ, box)
    hv_root = np.array(ivc[2])
    for target in ((lc[0] - lax[0] * 0.7, lc[1] + 10, lc[2] + 20),
                   (lc[0] * 0.3, lc[1] - lax[1] * 0.6, lc[2] + 15),
                   (left_c[0], left_c[1], left_c[2] + 10)):
        occ, box = tube(p, [hv_root, target], [u(5, 7), 2.5])
        p.paint("hepatic_vein", occ, box)

    # Biliary tree: ducts along the portal branches down to the pancreatic head; gallbladder.
    cbd_low = np.array([-cav_a * 0.25 + 5, spine_y - 45, 0])
    ducts = [np.array(pv[0]) + np.array([0, -6, 5]), porta + np.array([0, -8, 3]), cbd_low]
    occ, box = tube(p, ducts, [2.0, u(3.0, 4.5), u(3.0, 4.0)])
    p.paint("bile_duct", occ, box)
    occ, box = tube(p, [porta + np.array([0, -8, 3]),
                         (left_c[0], left_c[1] + 4, left_c[2] + 5)], [2.5, 1.8])
    p.paint("bile_duct", occ, box)
    occ, box = tube(p, [cbd_low, (0, spine_y - 55, 18), panc[2]], [1.8, 1.8, 1.5])
    p.paint("bile_duct", occ, box)
    gb_c = (lc[0] + u(5, 25), lc[1] - lax[1] * u(0.5, 0.7), lc[2] - lax[2] * u(0.5, 0.7))
    occ, box = ellipsoid(p, gb_c, (u(14, 20), u(14, 20), u(30, 45)), rot_z=u(-0.5, 0.5))
    p.paint("bile", inside(occ, box), box)

    # Liver lesions in some patients: simple cysts (fluid) and hypervascular solid lesions.
    for _ in range(int(rng.choice([0, 0, 1, 2, 3]))):
        centre = lc + rng.uniform(-0.5, 0.5, size=3) * np.array(lax)
        r = u(6, 18)
        occ, box = ellipsoid(p, centre, (r, r * u(0.8, 1.2), r * u(0.8, 1.2)))
        in_liver = p.occupancy_of(["liver"], box)
        p.paint(str(rng.choice(["bile", "lesion"])), occ * in_liver, box)

    weights, indices = _top_k(p.frac)
    texture = _smooth_noise(rng, p.frac.shape[1:], 1.2)
    return Phantom(
        tissue_index=indices,
        weight=weights,
        texture=texture,
        origin=np.array([a[0] for a in p.axes], dtype=np.float64),
        voxel_mm=VOXEL_MM,
        liver_fat=liver_fat,
        body_axes=(a_body, b_body),
        spine_y=float(spine_y),
        liver_center=lc,
        relaxation_scale=np.exp(rng.normal(scale=0.07, size=(len(TISSUES), 2))),
    )


def _top_k(frac: np.ndarray):
    """Keep the TOP_K largest tissue fractions per voxel, renormalised to sum to one.

    Most voxels hold one tissue; only the mixed ones (edges) need a partial sort."""
    n_tissues = frac.shape[0]
    flat = frac.reshape(n_tissues, -1)
    idx = np.zeros((TOP_K, flat.shape[1]), dtype=np.uint8)
    w = np.zeros((TOP_K, flat.shape[1]), dtype=np.float32)
    idx[0] = flat.argmax(axis=0)
    w[0] = 1.0
    mixed = np.flatnonzero(np.count_nonzero(flat > 1e-3, axis=0) > 1)
    sub = flat[:, mixed]
    top = np.argpartition(-sub, TOP_K - 1, axis=0)[:TOP_K]
    top_w = np.take_along_axis(sub, top, axis=0)
    top_w /= np.maximum(top_w.sum(axis=0, keepdims=True), 1e-6)
    idx[:, mixed] = top
    w[:, mixed] = top_w
    shape = (TOP_K, *frac.shape[1:])
    return w.reshape(shape), idx.reshape(shape)
