/* twin project variants in a scene: what a variant's `content` (issue #9's API) looks like in 3D.
 * Shared by the viewer's Projects panel, the compare page and the meeting pages.
 *
 *   footprints -> extruded polygons standing on the ground (height in metres, colour by use)
 *   trees      -> a trunk (cylinder) and a crown (ellipsoid)
 *   paths      -> corridors of their width draped on the ground
 *   models     -> glTF models (the project's GLB assets) placed on the ground
 *   hidden     -> features of a 3D Tiles layer hidden (their id property in `values`)
 *   clips      -> clipping polygons cut out of a layer (meshes, 3D Tiles; the globe for terrain)
 *   layers     -> layers shown or hidden
 *
 * `window.TwinVariant`:
 *   renderer(viewer, {tilesetOf(layerId), assetUrl(assetId), setLayerVisible(id, visible)})
 *       -> { show(content), clear(), content, dataSource, counts(), refresh(), drawn() }
 *   bounds(content): [w, s, e, n] of everything placed, or null
 *   indicatorRows(indicators): [[key, label, text]] in a stable order; format(key, value)
 *   USES: footprint uses and their colours
 */
(function () {
  "use strict";

  const USES = {
    housing: "#f59e0b",
    school: "#22c55e",
    office: "#60a5fa",
    shop: "#f472b6",
    equipment: "#a78bfa",
    other: "#e5e7eb",
  };

  const LABELS = [
    ["buildings_added", "Buildings added", ""],
    ["footprint_area_m2", "Footprint area", " m²"],
    ["floor_area_m2", "Floor area", " m²"],
    ["height_max_m", "Tallest", " m"],
    ["trees_added", "Trees planted", ""],
    ["path_length_m", "Paths", " m"],
    ["features_hidden", "Buildings removed", ""],
    ["models_placed", "Models placed", ""],
  ];
  const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  function format(key, value) {
    if (value === null || value === undefined || value === "") return "–";
    if (typeof value !== "number") return String(value);
    const known = LABELS.find((l) => l[0] === key);
    return numberFormat.format(value) + (known ? known[2] : "");
  }

  function labelOf(key) {
    const known = LABELS.find((l) => l[0] === key);
    if (known) return known[1];
    const text = key.replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  /** The indicators as rows, the known ones first in a fixed order, then the others. */
  function indicatorRows(indicators) {
    const data = indicators || {};
    const keys = LABELS.map((l) => l[0]).filter((k) => k in data);
    for (const k of Object.keys(data).sort()) if (!keys.includes(k)) keys.push(k);
    return keys.map((k) => [k, labelOf(k), format(k, data[k])]);
  }

  function bounds(content) {
    const c = content || {};
    let w = Infinity;
    let s = Infinity;
    let e = -Infinity;
    let n = -Infinity;
    const add = (lon, lat) => {
      if (!Number.isFinite(lon) || !Number.isFinite(lat)) return;
      w = Math.min(w, lon);
      e = Math.max(e, lon);
      s = Math.min(s, lat);
      n = Math.max(n, lat);
    };
    for (const f of c.footprints || []) for (const p of f.polygon || []) add(p[0], p[1]);
    for (const p of c.paths || []) for (const q of p.line || []) add(q[0], q[1]);
    for (const clip of c.clips || []) for (const p of clip.polygon || []) add(p[0], p[1]);
    for (const t of c.trees || []) add(t.lon, t.lat);
    for (const m of c.models || []) add(m.lon, m.lat);
    return w <= e ? [w, s, e, n] : null;
  }

  function ringPositions(ring) {
    const points = (ring || []).slice();
    const last = points[points.length - 1];
    if (points.length > 1 && last[0] === points[0][0] && last[1] === points[0][1]) points.pop();
    return Cesium.Cartesian3.fromDegreesArray(points.flatMap((p) => [p[0], p[1]]));
  }

  function colour(css, fallback, alpha) {
    let c;
    try {
      c = Cesium.Color.fromCssColorString(css || fallback);
    } catch (_) {
      c = undefined;
    }
    return (c || Cesium.Color.fromCssColorString(fallback)).withAlpha(alpha);
  }

  const hooked = new WeakSet(); // tilesets whose tileVisible hides features

  function renderer(viewer, options) {
    const opts = options || {};
    const dataSource = new Cesium.CustomDataSource("variant");
    viewer.dataSources.add(dataSource);
    // The viewer renders on request, and entity geometry is built over a few frames (in
    // workers): keep asking for frames until three in a row find everything drawn.
    let rendering = null; // the postRender listener's remover while frames are asked for
    let readyFrames = 0;
    const redraw = () => {
      readyFrames = 0;
      viewer.scene.requestRender();
      if (rendering) return;
      const until = performance.now() + 60000;
      rendering = viewer.scene.postRender.addEventListener(() => {
        readyFrames = viewer.dataSourceDisplay.ready ? readyFrames + 1 : 0;
        if (readyFrames >= 3 || performance.now() > until) {
          rendering();
          rendering = null;
        } else {
          viewer.scene.requestRender();
        }
      });
    };
    // Hidden features: tileset -> {property, values: Set}
    const hiding = new Map();
    const clipped = new Set(); // tilesets (or the globe) given clipping polygons
    const r = {
      content: null,
      dataSource,
      show,
      clear,
      refresh,
      counts,
      drawn,
      drawing: () => !!rendering, // true while the new geometry is being built and drawn
      hiddenSeen, // how many of the hidden ids were met (and hidden) in the tiles drawn
    };

    function hook(tileset) {
      if (hooked.has(tileset)) return;
      hooked.add(tileset);
      // Features are hidden as tiles are drawn: whatever style the layer has (the viewer may
      // restyle it), the feature stays hidden; a style re-applied shows them again.
      // A glTF tile applies its style when it updates, after this event: a feature shown again
      // by a style is hidden in the next frame, which is asked for here.
      tileset.tileVisible.addEventListener((tile) => {
        const rule = tileset.twinHidden;
        const content = tile.content;
        if (!rule || !content || !content.featuresLength) return;
        let changed = false;
        for (let i = 0; i < content.featuresLength; i++) {
          const feature = content.getFeature(i);
          const value = feature.getProperty(rule.property);
          if (value !== undefined && rule.values.has(String(value))) {
            if (feature.show) {
              feature.show = false;
              changed = true;
            }
            rule.seen.add(String(value));
          }
        }
        if (changed) viewer.scene.requestRender();
      });
    }

    function applyHidden(list) {
      for (const tileset of hiding.keys()) {
        tileset.twinHidden = null;
        tileset.makeStyleDirty(); // every feature shown again, the layer's own style re-applied
      }
      hiding.clear();
      let pending = false;
      for (const rule of list || []) {
        const tileset = opts.tilesetOf && opts.tilesetOf(rule.layer_id);
        if (!tileset) {
          pending = true; // not loaded yet: `refresh()` tries again
          continue;
        }
        if (!(tileset instanceof Cesium.Cesium3DTileset)) continue;
        hook(tileset);
        const values = new Set((rule.values || []).map(String));
        const existing = tileset.twinHidden;
        if (existing && existing.property === rule.property) {
          for (const v of values) existing.values.add(v);
        } else {
          tileset.twinHidden = { property: rule.property, values, seen: new Set() };
        }
        hiding.set(tileset, tileset.twinHidden);
        tileset.makeStyleDirty();
      }
      return pending;
    }

    function applyClips(list) {
      for (const target of clipped) target.clippingPolygons = undefined;
      clipped.clear();
      const byLayer = new Map();
      for (const clip of list || []) {
        if (!clip.polygon || clip.polygon.length < 3) continue;
        if (!byLayer.has(clip.layer_id)) byLayer.set(clip.layer_id, []);
        byLayer.get(clip.layer_id).push(new Cesium.ClippingPolygon({ positions: ringPositions(clip.polygon) }));
      }
      let pending = false;
      for (const [layerId, polygons] of byLayer) {
        let target = opts.tilesetOf && opts.tilesetOf(layerId);
        if (!target) {
          pending = true;
          continue;
        }
        if (!(target instanceof Cesium.Cesium3DTileset)) {
          if (target.kind !== "terrain") continue;
          target = viewer.scene.globe; // a terrain layer: cut the globe
        }
        try {
          target.clippingPolygons = new Cesium.ClippingPolygonCollection({ polygons });
          clipped.add(target);
        } catch (err) {
          console.warn("twin: clipping polygons:", String((err && err.message) || err));
        }
      }
      return pending;
    }

    // An item's `base` is its ground in ellipsoidal metres, where the scene has no terrain but
    // its buildings stand at their real altitude; without one, it stands on the terrain.
    const based = (item) => typeof item.base === "number";
    const reference = (item) =>
      based(item) ? Cesium.HeightReference.NONE : Cesium.HeightReference.RELATIVE_TO_GROUND;
    const ground = (item) => (based(item) ? item.base : 0);

    function addFootprint(f) {
      const height = Math.max(0.5, Number(f.height) || 10);
      const css = f.color || USES[f.use] || USES.other;
      dataSource.entities.add({
        id: "footprint:" + f.id,
        name: f.name || "Building",
        polygon: {
          hierarchy: new Cesium.PolygonHierarchy(ringPositions(f.polygon)),
          height: ground(f),
          heightReference: reference(f),
          extrudedHeight: ground(f) + height,
          extrudedHeightReference: reference(f),
          material: colour(css, USES.other, 0.92),
          shadows: Cesium.ShadowMode.DISABLED,
        },
        properties: { kind: "footprint", itemId: f.id },
      });
    }

    function addTree(t) {
      const height = Math.max(1, Number(t.height) || 8);
      const crown = Math.max(0.5, Number(t.crown) || height * 0.6);
      const trunk = Math.max(0.5, height - crown * 0.6);
      const at = (h) => Cesium.Cartesian3.fromDegrees(t.lon, t.lat, ground(t) + h);
      dataSource.entities.add({
        id: "tree:" + t.id,
        name: "Tree",
        position: at(trunk / 2),
        cylinder: {
          length: trunk,
          topRadius: Math.max(0.15, crown * 0.08),
          bottomRadius: Math.max(0.2, crown * 0.1),
          material: Cesium.Color.fromCssColorString("#7c4a1e"),
          heightReference: reference(t),
        },
        properties: { kind: "tree", itemId: t.id },
      });
      dataSource.entities.add({
        id: "tree-crown:" + t.id,
        name: "Tree",
        position: at(height - crown / 2),
        ellipsoid: {
          radii: new Cesium.Cartesian3(crown / 2, crown / 2, crown / 2),
          material: Cesium.Color.fromCssColorString("#15803d"),
          heightReference: reference(t),
        },
        properties: { kind: "tree", itemId: t.id },
      });
    }

    function addPath(p) {
      if (!p.line || p.line.length < 2) return;
      dataSource.entities.add({
        id: "path:" + p.id,
        name: p.name || "Path",
        corridor: {
          positions: Cesium.Cartesian3.fromDegreesArray(p.line.flatMap((q) => [q[0], q[1]])),
          width: Math.max(0.5, Number(p.width) || 3),
          material: Cesium.Color.fromCssColorString("#fde68a").withAlpha(0.9),
          classificationType: Cesium.ClassificationType.BOTH,
        },
        properties: { kind: "path", itemId: p.id },
      });
    }

    function addModel(m) {
      const url = opts.assetUrl ? opts.assetUrl(m.asset) : null;
      if (!url) return;
      const above = Number(m.height) || 0;
      const position = Cesium.Cartesian3.fromDegrees(m.lon, m.lat, ground(m) + above);
      const hpr = new Cesium.HeadingPitchRoll(Cesium.Math.toRadians(Number(m.heading) || 0), 0, 0);
      dataSource.entities.add({
        id: "model:" + m.id,
        name: m.name || "Model",
        position,
        orientation: Cesium.Transforms.headingPitchRollQuaternion(position, hpr),
        model: {
          uri: url,
          scale: Number(m.scale) || 1,
          heightReference: reference(m),
        },
        properties: { kind: "model", itemId: m.id },
      });
    }

    function applyLayers(list) {
      if (!opts.setLayerVisible) return;
      for (const l of list || []) opts.setLayerVisible(l.layer_id, l.visible !== false);
    }

    let pendingTimer = null;
    function show(content) {
      r.content = content || {};
      dataSource.entities.suspendEvents();
      dataSource.entities.removeAll();
      const c = r.content;
      for (const f of c.footprints || []) addFootprint(f);
      for (const t of c.trees || []) addTree(t);
      for (const p of c.paths || []) addPath(p);
      for (const m of c.models || []) addModel(m);
      dataSource.entities.resumeEvents();
      applyLayers(c.layers);
      refresh();
      redraw();
    }

    /** Apply the hidden features and clips again (the layers they name may have loaded since). */
    function refresh() {
      const c = r.content || {};
      const pending = applyHidden(c.hidden) | applyClips(c.clips);
      clearTimeout(pendingTimer);
      if (pending) pendingTimer = setTimeout(refresh, 1000);
      redraw();
    }

    function hiddenSeen() {
      let n = 0;
      for (const rule of hiding.values()) n += rule.seen.size;
      return n;
    }

    function clear() {
      show({});
    }

    function counts() {
      const c = r.content || {};
      const hidden = (c.hidden || []).reduce((n, h) => n + (h.values || []).length, 0);
      return {
        footprints: (c.footprints || []).length,
        trees: (c.trees || []).length,
        paths: (c.paths || []).length,
        models: (c.models || []).length,
        hidden,
        clips: (c.clips || []).length,
        entities: dataSource.entities.values.length,
      };
    }

    /** True once the entities' geometry is built (ground primitives are asynchronous). */
    function drawn() {
      return viewer.dataSourceDisplay ? viewer.dataSourceDisplay.ready : true;
    }

    return r;
  }

  window.TwinVariant = { renderer, bounds, indicatorRows, format, labelOf, USES };
})();
