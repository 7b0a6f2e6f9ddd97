/* twin viewer: a minimal reader of binary glTF (.glb) point tiles, for what CesiumJS does not
 * give back once a tile is on the GPU: the attributes of one point (picking) and a few
 * statistics of a layer (has it colour, what range of intensity).
 *
 * Only what the point tiles of tiles/pointcloud.py (and most others) use: a JSON chunk, one
 * binary chunk, plain accessors (no sparse, no Draco or meshopt compression), node transforms,
 * and EXT_structural_metadata property attributes. Exposed as `window.TwinGlb`.
 */
(function () {
  "use strict";

  const GLB_MAGIC = 0x46546c67; // "glTF"
  const CHUNK_JSON = 0x4e4f534a;
  const CHUNK_BIN = 0x004e4942;
  const POINTS = 0;
  const SIZES = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 };
  // componentType -> [bytes, DataView getter, normalisation divisor]
  const COMPONENTS = {
    5120: [1, "getInt8", 127],
    5121: [1, "getUint8", 255],
    5122: [2, "getInt16", 32767],
    5123: [2, "getUint16", 65535],
    5125: [4, "getUint32", 4294967295],
    5126: [4, "getFloat32", 1],
  };

  /** The JSON and binary chunk of a .glb file. */
  function parse(arrayBuffer) {
    const view = new DataView(arrayBuffer);
    if (view.byteLength < 20 || view.getUint32(0, true) !== GLB_MAGIC) {
      throw new Error("not a binary glTF file");
    }
    let json = null;
    let bin = null;
    let offset = 12;
    while (offset + 8 <= view.byteLength) {
      const length = view.getUint32(offset, true);
      const type = view.getUint32(offset + 4, true);
      const start = offset + 8;
      if (type === CHUNK_JSON) {
        json = JSON.parse(new TextDecoder().decode(new Uint8Array(arrayBuffer, start, length)));
      } else if (type === CHUNK_BIN && !bin) {
        bin = new DataView(arrayBuffer, start, length);
      }
      offset = start + length + ((4 - (length % 4)) % 4);
    }
    if (!json) throw new Error("glb without a JSON chunk");
    return { json, bin };
  }

  /** An accessor's values as a Float64Array (count * size), normalised when it says so. */
  function accessor(glb, index) {
    const acc = glb.json.accessors[index];
    const size = SIZES[acc.type];
    const [bytes, getter, divisor] = COMPONENTS[acc.componentType] || [];
    if (!size || !getter) throw new Error("unsupported accessor " + index);
    const out = new Float64Array(acc.count * size);
    if (acc.bufferView === undefined || acc.sparse) {
      if (acc.sparse) throw new Error("sparse accessors are not supported");
      return { values: out, size, count: acc.count }; // all zeros, as the spec says
    }
    const bv = glb.json.bufferViews[acc.bufferView];
    if ((bv.buffer || 0) !== 0 || !glb.bin) throw new Error("external buffers are not supported");
    const stride = bv.byteStride || bytes * size;
    const base = (bv.byteOffset || 0) + (acc.byteOffset || 0);
    const scale = acc.normalized ? 1 / divisor : 1;
    const bin = glb.bin;
    for (let i = 0, k = 0; i < acc.count; i++) {
      const at = base + i * stride;
      for (let c = 0; c < size; c++, k++) {
        out[k] = bin[getter](at + c * bytes, true) * scale;
      }
    }
    return { values: out, size, count: acc.count };
  }

  function nodeMatrix(node) {
    if (node.matrix) return Cesium.Matrix4.fromArray(node.matrix);
    const t = node.translation || [0, 0, 0];
    const r = node.rotation || [0, 0, 0, 1];
    const s = node.scale || [1, 1, 1];
    return Cesium.Matrix4.fromTranslationQuaternionRotationScale(
      new Cesium.Cartesian3(t[0], t[1], t[2]),
      new Cesium.Quaternion(r[0], r[1], r[2], r[3]),
      new Cesium.Cartesian3(s[0], s[1], s[2]),
    );
  }

  /** Every POINTS primitive of the default scene, with its node's matrix (glTF y-up frame), its
   * positions and the values of its property attributes (name -> Float64Array), plus "color"
   * (r, g, b in 0..1, three per point) when the primitive has COLOR_0. */
  function pointSets(glb) {
    const json = glb.json;
    if ((json.extensionsRequired || []).some((e) => /draco|meshopt/i.test(e))) {
      throw new Error("compressed glTF is not supported");
    }
    const metadata = (json.extensions || {}).EXT_structural_metadata || {};
    const propertyAttributes = metadata.propertyAttributes || [];
    const sets = [];
    const visit = (index, parent) => {
      const node = json.nodes[index];
      const matrix = Cesium.Matrix4.multiply(parent, nodeMatrix(node), new Cesium.Matrix4());
      const mesh = node.mesh !== undefined ? json.meshes[node.mesh] : null;
      for (const primitive of (mesh && mesh.primitives) || []) {
        if (primitive.mode !== POINTS || primitive.attributes.POSITION === undefined) continue;
        const set = { matrix, positions: accessor(glb, primitive.attributes.POSITION), values: {} };
        set.count = set.positions.count;
        const ext = (primitive.extensions || {}).EXT_structural_metadata || {};
        for (const i of ext.propertyAttributes || []) {
          const pa = propertyAttributes[i];
          for (const [name, prop] of Object.entries((pa && pa.properties) || {})) {
            const attr = primitive.attributes[prop.attribute];
            if (attr === undefined) continue;
            const values = accessor(glb, attr).values;
            if (prop.scale !== undefined || prop.offset !== undefined) {
              const [scale, offset] = [prop.scale ?? 1, prop.offset ?? 0];
              for (let k = 0; k < values.length; k++) values[k] = values[k] * scale + offset;
            }
            set.values[name] = values;
          }
        }
        if (primitive.attributes.COLOR_0 !== undefined) {
          const colour = accessor(glb, primitive.attributes.COLOR_0);
          const rgb = new Float64Array(colour.count * 3);
          for (let k = 0; k < colour.count; k++) {
            for (let c = 0; c < 3; c++) rgb[k * 3 + c] = colour.values[k * colour.size + c];
          }
          set.values.color = rgb;
        }
        sets.push(set);
      }
      for (const child of node.children || []) visit(child, matrix);
    };
    const scene = json.scenes ? json.scenes[json.scene || 0] : { nodes: [] };
    for (const index of scene.nodes || []) visit(index, Cesium.Matrix4.IDENTITY);
    return sets;
  }

  /** The values of one property at quantiles (0..1) over every point of the sets. */
  function quantiles(sets, name, qs) {
    const all = [];
    for (const set of sets) {
      const values = set.values[name];
      if (values) for (let i = 0; i < values.length; i++) all.push(values[i]);
    }
    if (!all.length) return null;
    const sorted = Float64Array.from(all).sort();
    return qs.map((q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  }

  /**
   * The point of `sets` nearest to `world` (ECEF), drawn with `tileTransform` (the tile's
   * computed transform; glTF content is y-up, so Cesium's y-up to z-up turn comes between),
   * among points for which `accept(set, index)` holds. Returns { set, index, distance, world }
   * with the distance in metres, or null.
   */
  function nearestPoint(sets, tileTransform, world, accept) {
    let best = null;
    const zUp = Cesium.Matrix4.multiply(
      tileTransform,
      Cesium.Axis.Y_UP_TO_Z_UP,
      new Cesium.Matrix4(),
    );
    for (const set of sets) {
      const toWorld = Cesium.Matrix4.multiply(zUp, set.matrix, new Cesium.Matrix4());
      const local = Cesium.Matrix4.multiplyByPoint(
        Cesium.Matrix4.inverse(toWorld, new Cesium.Matrix4()),
        world,
        new Cesium.Cartesian3(),
      );
      // Distances in the local frame, scaled back to metres by the matrix's scale.
      const scale = Cesium.Matrix4.getMaximumScale(toWorld);
      const p = set.positions.values;
      for (let i = 0; i < set.count; i++) {
        const dx = p[i * 3] - local.x;
        const dy = p[i * 3 + 1] - local.y;
        const dz = p[i * 3 + 2] - local.z;
        const d2 = dx * dx + dy * dy + dz * dz;
        if ((!best || d2 < best.d2) && (!accept || accept(set, i))) {
          best = { set, index: i, d2, toWorld, scale };
        }
      }
    }
    if (!best) return null;
    const p = best.set.positions.values;
    const k = best.index * 3;
    const at = new Cesium.Cartesian3(p[k], p[k + 1], p[k + 2]);
    return {
      set: best.set,
      index: best.index,
      distance: Math.sqrt(best.d2) * best.scale,
      world: Cesium.Matrix4.multiplyByPoint(best.toWorld, at, new Cesium.Cartesian3()),
    };
  }

  /** Fetch and parse a .glb (the browser's cache usually has it: CesiumJS fetched it first). */
  async function load(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
    return parse(await response.arrayBuffer());
  }

  window.TwinGlb = { parse, accessor, pointSets, quantiles, nearestPoint, load };
})();
