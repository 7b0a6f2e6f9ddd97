/* twin viewer: how layers are coloured. Exposed as `window.TwinStyles`.
 *
 * Point clouds: a CesiumJS CustomShader (one per layer, built once). CesiumJS 1.145 styles glTF
 * point content with Cesium3DTileStyle on the CPU (only legacy .pnts tiles are styled on the
 * GPU), where the per-point EXT_structural_metadata property attributes are not available: a
 * `${classification}` expression throws. The shader reads them as `fsInput.metadata.<name>`
 * instead; the colour mode, the shown classes and the ranges are uniforms, so switching them
 * costs no shader compilation. Point size comes from CesiumJS's point-cloud attenuation
 * (`PointCloudShading`), capped by the size the user picks.
 *
 * Buildings (vector layers): Cesium3DTileStyle expressions on the property-table attributes,
 * which CesiumJS evaluates per feature.
 */
(function () {
  "use strict";

  // ASPRS classes (LAS 1.4) as IGN LiDAR HD uses them, with IGN's own codes 64-67.
  const CLASSES = [
    { code: 1, en: "Unclassified", fr: "Non classé", color: "#9ca3af" },
    { code: 2, en: "Ground", fr: "Sol", color: "#b7885a" },
    { code: 3, en: "Low vegetation", fr: "Végétation basse", color: "#c5e17a" },
    { code: 4, en: "Medium vegetation", fr: "Végétation moyenne", color: "#6cc04a" },
    { code: 5, en: "High vegetation", fr: "Végétation haute", color: "#1f7a3a" },
    { code: 6, en: "Building", fr: "Bâtiment", color: "#e4572e" },
    { code: 9, en: "Water", fr: "Eau", color: "#3b82f6" },
    { code: 17, en: "Bridge deck", fr: "Tablier de pont", color: "#a855f7" },
    { code: 64, en: "Permanent structures", fr: "Sursol pérenne", color: "#f2c94c" },
    { code: 65, en: "Artefacts", fr: "Artefacts", color: "#ff4fd8" },
    { code: 66, en: "Virtual points", fr: "Points virtuels", color: "#22d3ee" },
    { code: 67, en: "Miscellaneous built", fr: "Divers - bâtis", color: "#fb923c" },
  ];
  const OTHER = { code: null, en: "Other codes", fr: "Autres codes", color: "#f5f5f4" };
  const HEIGHT_RAMP = ["#2b83ba", "#abdda4", "#ffffbf", "#fdae61", "#d7191c"];
  const INTENSITY_RAMP = ["#141414", "#ffffff"];
  const MODES = { rgb: 0, classification: 1, height: 2, intensity: 3 };

  function classInfo(code) {
    return CLASSES.find((c) => c.code === code) || { ...OTHER, code };
  }

  /** sRGB (what CSS and the screen use) to linear: CesiumJS converts an unlit material's
   * diffuse colour back to sRGB, so the CSS colour is what gets drawn. */
  function linear(css) {
    const c = Cesium.Color.fromCssColorString(css);
    return [c.red, c.green, c.blue].map((v) =>
      v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4),
    );
  }

  const glslFloat = (v) => (Number.isInteger(v) ? v.toFixed(1) : String(v));
  const glslVec3 = (css) => `vec3(${linear(css).map((v) => v.toFixed(6)).join(", ")})`;

  function rampFunction(name, stops) {
    const n = stops.length - 1;
    const lines = [`vec3 ${name}(float t) {`, `  float x = clamp(t, 0.0, 1.0) * ${glslFloat(n)};`];
    for (let i = 0; i < n; i++) {
      const test = i < n - 1 ? `if (x < ${glslFloat(i + 1)}) ` : "";
      const [a, b] = [glslVec3(stops[i]), glslVec3(stops[i + 1])];
      lines.push(`  ${test}return mix(${a}, ${b}, x - ${glslFloat(i)});`);
    }
    lines.push("}");
    return lines.join("\n");
  }

  /**
   * The CustomShader of one point-cloud layer. `properties`: the layer's property names (only
   * the ones the shader reads must exist in every tile). Uniforms:
   *   u_mode: MODES value; u_show<k>: 1 or 0 per class slot (CLASSES order, then OTHER), four a
   *   vec4; u_heightRange: ramp ends in metres along u_upEC from u_originEC (both in eye
   *   coordinates, set every frame, so heights stay exact far from the Earth's centre, where
   *   world coordinates in float32 would be rounded to half a metre); u_intensityRange.
   */
  function pointCloudShader(properties) {
    const hasClass = properties.includes("classification");
    const hasIntensity = properties.includes("intensity");
    const slots = CLASSES.length + 1;
    const uniforms = {
      u_mode: { type: Cesium.UniformType.FLOAT, value: MODES.height },
      u_heightRange: { type: Cesium.UniformType.VEC2, value: new Cesium.Cartesian2(0, 1) },
      u_originEC: { type: Cesium.UniformType.VEC3, value: new Cesium.Cartesian3() },
      u_upEC: { type: Cesium.UniformType.VEC3, value: new Cesium.Cartesian3(0, 0, 1) },
      u_intensityRange: { type: Cesium.UniformType.VEC2, value: new Cesium.Cartesian2(0, 4000) },
    };
    const flag = (i) => `u_show${i >> 2}.${"xyzw"[i & 3]}`;
    for (let k = 0; k < Math.ceil(slots / 4); k++) {
      uniforms["u_show" + k] = {
        type: Cesium.UniformType.VEC4,
        value: new Cesium.Cartesian4(1, 1, 1, 1),
      };
    }
    const classBranches = CLASSES.map(
      (c, i) =>
        `  ${i ? "else " : ""}if (c == ${glslFloat(c.code)}) { rgb = ${glslVec3(c.color)}; ` +
        `on = ${flag(i)}; }`,
    );
    classBranches.push(`  else { rgb = ${glslVec3(OTHER.color)}; on = ${flag(CLASSES.length)}; }`);
    const text = [
      rampFunction("twinHeightRamp", HEIGHT_RAMP),
      rampFunction("twinIntensityRamp", INTENSITY_RAMP),
      "void fragmentMain(FragmentInput fsInput, inout czm_modelMaterial material) {",
      "  vec3 rgb = material.diffuse;",
      "  float on = 1.0;",
      hasClass ? "  float c = float(fsInput.metadata.classification);" : "",
      hasClass ? classBranches.join("\n") : "",
      "  if (on < 0.5) discard;",
      "  if (u_mode == 1.0) {",
      "    material.diffuse = rgb;",
      "  } else if (u_mode == 2.0) {",
      "    float h = dot(fsInput.attributes.positionEC - u_originEC, u_upEC);",
      "    float span = max(u_heightRange.y - u_heightRange.x, 0.001);",
      "    material.diffuse = twinHeightRamp((h - u_heightRange.x) / span);",
      "  }",
      hasIntensity
        ? [
            "  else if (u_mode == 3.0) {",
            "    float span = max(u_intensityRange.y - u_intensityRange.x, 1.0);",
            "    float t = (float(fsInput.metadata.intensity) - u_intensityRange.x) / span;",
            "    material.diffuse = twinIntensityRamp(t);",
            "  }",
          ].join("\n")
        : "",
      "}",
    ].join("\n");
    return new Cesium.CustomShader({
      uniforms,
      lightingModel: Cesium.LightingModel.UNLIT,
      fragmentShaderText: text,
    });
  }

  /** The u_show<k> vectors for a set of hidden codes (null stands for every other code). */
  function showFlags(hidden) {
    const slots = [...CLASSES.map((c) => !hidden.has(c.code)), !hidden.has(null)];
    const out = [];
    for (let k = 0; k < slots.length; k += 4) {
      const v = [0, 1, 2, 3].map((j) => (slots[k + j] === false ? 0 : 1));
      out.push(new Cesium.Cartesian4(...v));
    }
    return out;
  }

  // ------------------------------------------------------------------ buildings

  const NUMERIC = /^(U?INT(8|16|32|64)|FLOAT(32|64)|SCALAR|number|integer|float|double|real)$/i;
  const HEIGHT_NAMES = [
    "hauteur",
    "height",
    "building:height",
    "haut",
    "hauteur_m",
    "height_m",
    "h",
  ];
  const BUILDING_COLOR = "#eef2f6";
  const CHOROPLETH = ["#fff5b8", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026", "#6e0046"];
  const HEIGHT_BREAKS = [3, 6, 10, 15, 25, 40]; // metres: one to two storeys, ..., towers

  /** Metadata property IDs for source attribute names, as tiles/buildings.py makes them
   * (ASCII letters, digits and _, not starting with a digit, unique). */
  function propertyIds(names) {
    const out = new Map();
    const used = new Set();
    for (const name of names) {
      const ascii = name.normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
      let pid = ascii.replace(/[^A-Za-z0-9_]/g, "_") || "field";
      if (/^[0-9]/.test(pid)) pid = "_" + pid;
      const base = pid;
      for (let k = 2; used.has(pid); k++) pid = `${base}_${k}`;
      used.add(pid);
      out.set(name, pid);
    }
    return out;
  }

  /** The numeric attributes of a layer, the height-like one first: [{name, id, height}]. */
  function numericAttributes(layer) {
    const attrs = (layer.attributes || []).filter((a) => a && a.name);
    const ids = propertyIds(attrs.map((a) => a.name));
    const numeric = attrs
      .filter((a) => NUMERIC.test(String(a.type || "")))
      .map((a) => ({
        name: a.name,
        id: ids.get(a.name),
        height: HEIGHT_NAMES.includes(a.name.toLowerCase()),
      }));
    numeric.sort((a, b) => Number(b.height) - Number(a.height));
    return numeric.filter((a) => a.name.toLowerCase() !== "fid");
  }

  /** Class breaks for an attribute: fixed metres for heights, else quantiles of `values`. */
  function breaksFor(attribute, values) {
    if (attribute.height || !values || values.length < 2) return HEIGHT_BREAKS.slice();
    const sorted = Float64Array.from(values).sort();
    const out = [];
    for (let k = 1; k < CHOROPLETH.length; k++) {
      const v = Number(sorted[Math.floor((k / CHOROPLETH.length) * (sorted.length - 1))]);
      const rounded = Number(v.toPrecision(2));
      if (!out.length || rounded > out[out.length - 1]) out.push(rounded);
    }
    return out;
  }

  /** A Cesium3DTileStyle for buildings: plain, or a choropleth of `attribute` over `breaks`. */
  /** Draped features (parcels, networks, points of interest) tint what lies under them. */
  const DRAPED_COLOR = "color('#38bdf8', 0.6)";

  function buildingStyle(attribute, breaks, draped) {
    if (!attribute) {
      return new Cesium.Cesium3DTileStyle({
        color: draped ? DRAPED_COLOR : `color('${BUILDING_COLOR}')`,
      });
    }
    const v = "${" + attribute.id + "}";
    const conditions = [[`${v} === undefined || ${v} === null || isNaN(${v})`, "color('#9ca3af')"]];
    breaks.forEach((b, i) => conditions.push([`${v} < ${b}`, `color('${CHOROPLETH[i]}')`]));
    const last = CHOROPLETH[Math.min(breaks.length, CHOROPLETH.length - 1)];
    conditions.push(["true", `color('${last}')`]);
    return new Cesium.Cesium3DTileStyle({ color: { conditions } });
  }

  /** The legend entries of a choropleth: [{color, label}]. */
  function choroplethLegend(breaks, unit) {
    const fmt = (v) => `${v}${unit || ""}`;
    const items = breaks.map((b, i) => ({
      color: CHOROPLETH[i],
      label: i === 0 ? `< ${fmt(b)}` : `${fmt(breaks[i - 1])} – ${fmt(b)}`,
    }));
    items.push({
      color: CHOROPLETH[Math.min(breaks.length, CHOROPLETH.length - 1)],
      label: `≥ ${fmt(breaks[breaks.length - 1])}`,
    });
    return items;
  }

  window.TwinStyles = {
    CLASSES,
    OTHER,
    MODES,
    HEIGHT_RAMP,
    INTENSITY_RAMP,
    BUILDING_COLOR,
    classInfo,
    pointCloudShader,
    showFlags,
    propertyIds,
    numericAttributes,
    breaksFor,
    buildingStyle,
    choroplethLegend,
  };
})();
