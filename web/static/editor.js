/* twin variant editor: the drawing tools of the viewer's Projects panel. A tool takes clicks on
 * the map (through `twin.onPick`, chained by projects.js) and changes the variant's content:
 *
 *   footprint: click the corners on the ground, Finish, then name, height and use
 *   tree:      each click plants a tree
 *   path:      click the points of a line, Finish (width in metres)
 *   model:     choose or upload a .glb, then click where it stands
 *   hide:      click buildings of a 3D Tiles layer to remove them (click again to bring back)
 *   clip:      click the corners of an area to cut out of a mesh (or other) layer, Finish
 *
 * `window.TwinEditor.create({viewer, twin, content(), change(content, what), layerOfTileset,
 *   clipLayers(), uploadAsset(file), assets()})` -> editor:
 *   tool (null or a tool name), points ([[lon, lat]] being drawn), start(tool), cancel(),
 *   finish(), click(position) (true when the click was taken), pointAt(position) -> [lon, lat],
 *   addFootprint(polygon, {name, height, use, floors}), modelAsset (the asset id to place),
 *   hideFeature(feature), idProperty(feature)
 */
(function () {
  "use strict";

  const { element } = window.TwinDom;
  const $ = (id) => document.getElementById(id);

  // The property that identifies a building, by the names the usual sources give it
  // (IGN BD TOPO `cleabs`, BDNB `batiment_c…`, OSM / generic ids); else the first text one.
  const ID_NAMES = [
    "cleabs",
    "batiment_c",
    "batiment_construction_id",
    "batiment_groupe_id",
    "batiment_g",
    "id",
    "ID",
    "gml_id",
    "osm_id",
    "building_id",
    "fid",
    "name",
  ];

  function newId(prefix) {
    return prefix + Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
  }

  const round = (v) => Math.round(v * 1e7) / 1e7;

  function create(options) {
    const { viewer, twin } = options;
    const scene = viewer.scene;
    const sketch = new Cesium.CustomDataSource("sketch");
    viewer.dataSources.add(sketch);

    const editor = {
      tool: null,
      points: [],
      modelAsset: null,
      start,
      cancel,
      finish,
      click,
      pointAt,
      addFootprint,
      hideFeature,
      idProperty,
      pendingFootprint: null, // the polygon waiting for its height and use
    };

    const content = () => options.content();
    const change = (what, mutate) => {
      const c = structuredClone(content() || {});
      mutate(c);
      options.change(c, what);
    };

    // ------------------------------------------------------------ where a click lands

    /** [lon, lat, height] of the ground under a screen position: the globe (terrain) first,
     * through whatever stands in front of it (footprints, trees and models stand on the
     * ground, not on the roofs seen before it); what is drawn there when the ray misses it. */
    function pointAt(position) {
      const ray = viewer.camera.getPickRay(position);
      let world = ray && scene.globe.pick(ray, scene);
      if (!world && scene.pickPositionSupported) {
        try {
          world = scene.pickPosition(position);
        } catch (_) {
          world = undefined;
        }
      }
      if (!world) return null;
      const c = Cesium.Cartographic.fromCartesian(world);
      if (!c) return null;
      return [round(Cesium.Math.toDegrees(c.longitude)), round(Cesium.Math.toDegrees(c.latitude)), c.height];
    }

    // ------------------------------------------------------------ sketch

    function drawSketch() {
      sketch.entities.removeAll();
      const pts = editor.points;
      for (const p of pts) {
        sketch.entities.add({
          position: Cesium.Cartesian3.fromDegrees(p[0], p[1]),
          point: {
            pixelSize: 10,
            color: Cesium.Color.fromCssColorString("#facc15"),
            outlineColor: Cesium.Color.BLACK,
            outlineWidth: 2,
            heightReference: Cesium.HeightReference.CLAMP_TO_GROUND,
            disableDepthTestDistance: Number.POSITIVE_INFINITY,
          },
        });
      }
      if (pts.length >= 2) {
        const closed = editor.tool === "path" ? pts : [...pts, pts[0]];
        sketch.entities.add({
          polyline: {
            positions: Cesium.Cartesian3.fromDegreesArray(closed.flatMap((p) => [p[0], p[1]])),
            width: 3,
            clampToGround: true,
            material: Cesium.Color.fromCssColorString("#facc15"),
          },
        });
      }
      scene.requestRender();
      renderStatus();
    }

    const HINTS = {
      footprint: "Click the corners of the building on the ground, then Finish.",
      tree: "Click the map to plant trees. Done when finished.",
      path: "Click the points of the path, then Finish.",
      model: "Choose or upload a model (.glb), then click where it stands.",
      hide: "Click buildings to remove them; click a removed one's place to keep it.",
      clip: "Click the corners of the area to cut out of the layer, then Finish.",
    };

    function renderStatus() {
      const box = $("projects-tool-status");
      if (!box) return;
      box.hidden = !editor.tool;
      $("projects-tool-hint").textContent = editor.tool ? HINTS[editor.tool] : "";
      const needsShape = ["footprint", "path", "clip"].includes(editor.tool);
      const min = editor.tool === "path" ? 2 : 3;
      $("projects-tool-finish").hidden = !needsShape;
      $("projects-tool-finish").disabled = editor.points.length < min;
      $("projects-tool-undo").hidden = !needsShape;
      $("projects-tool-undo").disabled = editor.points.length === 0;
      $("projects-tool-points").textContent = needsShape ? `${editor.points.length} point(s)` : "";
      for (const row of document.querySelectorAll("#projects-tool-status [data-for]")) {
        row.hidden = row.dataset.for !== editor.tool;
      }
      for (const button of document.querySelectorAll("#projects-tools [data-tool]")) {
        const on = button.dataset.tool === editor.tool;
        button.classList.toggle("active", on);
        button.setAttribute("aria-pressed", String(on));
      }
      scene.canvas.style.cursor = editor.tool ? "crosshair" : "";
    }

    // ------------------------------------------------------------ tools

    function start(tool) {
      cancel();
      editor.tool = tool || null;
      editor.points = [];
      if (tool === "clip") fillClipLayers();
      drawSketch();
    }

    function cancel() {
      editor.tool = null;
      editor.points = [];
      editor.pendingFootprint = null;
      const form = $("projects-footprint-form");
      if (form) form.hidden = true;
      drawSketch();
    }

    function fillClipLayers() {
      const select = $("projects-clip-layer");
      const current = select.value;
      select.textContent = "";
      for (const layer of options.clipLayers()) {
        select.append(element("option", { value: String(layer.id), textContent: layer.name }));
      }
      if (current) select.value = current;
    }

    function finish() {
      const pts = editor.points.slice();
      if (editor.tool === "footprint" && pts.length >= 3) {
        // The outline stays drawn (closed) while its name, height and use are asked for.
        editor.pendingFootprint = pts;
        editor.tool = null;
        drawSketch();
        $("projects-footprint-form").hidden = false;
        $("projects-footprint-height").focus();
        return;
      }
      if (editor.tool === "path" && pts.length >= 2) {
        const width = Number($("projects-path-width") && $("projects-path-width").value) || 3;
        change("path", (c) => {
          (c.paths = c.paths || []).push({ id: newId("p"), name: "", line: pts, width });
        });
      } else if (editor.tool === "clip" && pts.length >= 3) {
        const layerId = Number($("projects-clip-layer").value);
        if (!layerId) return;
        change("clip", (c) => {
          (c.clips = c.clips || []).push({ id: newId("c"), layer_id: layerId, polygon: pts });
        });
      } else {
        return;
      }
      cancel();
    }

    function addFootprint(polygon, props) {
      const p = props || {};
      const height = Number(p.height);
      const floors = p.floors === undefined || p.floors === "" || p.floors === null ? null : Number(p.floors);
      const item = {
        id: newId("b"),
        name: p.name || "",
        polygon: polygon.map((q) => [q[0], q[1]]),
        height: Number.isFinite(height) && height > 0 ? height : 10,
        use: p.use || "housing",
        floors: Number.isFinite(floors) ? Math.round(floors) : null,
        // Coloured by use, so that a school reads as one in the scene and on the projector.
        color: p.color || window.TwinVariant.USES[p.use || "housing"] || window.TwinVariant.USES.other,
      };
      change("footprint", (c) => {
        (c.footprints = c.footprints || []).push(item);
      });
      return item;
    }

    function submitFootprint(e) {
      e.preventDefault();
      if (!editor.pendingFootprint) return;
      addFootprint(editor.pendingFootprint, {
        name: $("projects-footprint-name").value.trim(),
        height: $("projects-footprint-height").value,
        use: $("projects-footprint-use").value,
        floors: $("projects-footprint-floors").value,
      });
      $("projects-footprint-form").reset();
      cancel();
    }

    function idProperty(feature) {
      const ids = (feature.getPropertyIds && feature.getPropertyIds()) || [];
      for (const name of ID_NAMES) {
        if (ids.includes(name)) {
          const v = feature.getProperty(name);
          if (v !== undefined && v !== null && v !== "") return name;
        }
      }
      return ids.find((name) => typeof feature.getProperty(name) === "string") || null;
    }

    /** Remove (or bring back) a building: {layer_id, property, values} in `hidden`. */
    function hideFeature(feature) {
      const tileset = feature.tileset || (feature.primitive && feature.primitive.tileset);
      const layerId = options.layerOfTileset(tileset);
      const property = idProperty(feature);
      if (layerId === null || layerId === undefined || !property) return false;
      const value = String(feature.getProperty(property));
      change("hide", (c) => {
        c.hidden = c.hidden || [];
        let rule = c.hidden.find((h) => h.layer_id === layerId && h.property === property);
        if (!rule) {
          rule = { layer_id: layerId, property, values: [] };
          c.hidden.push(rule);
        }
        if (!rule.values.includes(value)) rule.values.push(value);
      });
      return true;
    }

    /** A click on the map while a tool is on: true when taken. */
    function click(picked, position) {
      if (!editor.tool || !position) return false;
      if (editor.tool === "hide") {
        const feature = picked instanceof Cesium.Cesium3DTileFeature ? picked : null;
        if (feature) hideFeature(feature);
        return true;
      }
      const at = pointAt(position);
      if (!at) return true;
      const [lon, lat] = at;
      if (editor.tool === "tree") {
        const height = Number($("projects-tree-height") && $("projects-tree-height").value) || 8;
        change("tree", (c) => {
          (c.trees = c.trees || []).push({ id: newId("t"), lon, lat, height, crown: Math.round(height * 0.6 * 10) / 10 });
        });
        return true;
      }
      if (editor.tool === "model") {
        const asset = editor.modelAsset || $("projects-model-asset").value;
        if (!asset) {
          $("projects-tool-hint").textContent = "Choose or upload a model first.";
          return true;
        }
        const info = options.assets().find((a) => String(a.id) === String(asset));
        change("model", (c) => {
          (c.models = c.models || []).push({
            id: newId("m"),
            asset: String(asset),
            name: info ? info.name : "",
            lon,
            lat,
            height: 0,
            heading: 0,
            scale: 1,
          });
        });
        return true;
      }
      editor.points.push([lon, lat]);
      drawSketch();
      return true;
    }

    // ------------------------------------------------------------ wiring

    $("projects-tools").addEventListener("click", (e) => {
      const button = e.target.closest("[data-tool]");
      if (!button) return;
      start(editor.tool === button.dataset.tool ? null : button.dataset.tool);
    });
    $("projects-tool-finish").addEventListener("click", finish);
    $("projects-tool-undo").addEventListener("click", () => {
      editor.points.pop();
      drawSketch();
    });
    $("projects-tool-cancel").addEventListener("click", cancel);
    $("projects-footprint-form").addEventListener("submit", submitFootprint);
    $("projects-footprint-cancel").addEventListener("click", cancel);
    $("projects-model-asset").addEventListener("change", (e) => {
      editor.modelAsset = e.target.value || null;
    });
    $("projects-model-file").addEventListener("change", async (e) => {
      const file = e.target.files && e.target.files[0];
      if (!file) return;
      const asset = await options.uploadAsset(file);
      e.target.value = "";
      if (asset) {
        editor.modelAsset = String(asset.id);
        $("projects-model-asset").value = String(asset.id);
      }
    });
    document.addEventListener("keydown", (e) => {
      if (!editor.tool || e.target.closest("input, textarea, select")) return;
      if (e.key === "Escape") cancel();
      else if (e.key === "Enter") finish();
      else if (e.key === "Backspace" && editor.points.length) {
        editor.points.pop();
        drawSketch();
      }
    });
    renderStatus();
    return editor;
  }

  window.TwinEditor = { create, ID_NAMES };
})();
