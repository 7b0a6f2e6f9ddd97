/* twin ground layers: imported DEMs (quantized-mesh terrain) and orthophotos (imagery).
 *
 * They are not 3D Tiles, so app.js gets from here a small handle that behaves like a tileset
 * where it matters: `show` (get/set), `boundingSphere` (from the layer's WGS84 extent, for
 * "Zoom to"), `ready` and `destroy()`.
 *
 * Only one terrain can be the ground at a time: showing a terrain layer makes it the scene's
 * terrain and hides the others; hiding it brings back the plain ellipsoid.
 */
(function () {
  "use strict";

  const terrains = new Set();

  function sphereOf(layer, height) {
    const [w, s, e, n] = layer.extent_wgs84 || [0, 0, 0, 0];
    const rectangle = Cesium.Rectangle.fromDegrees(w, s, e, n);
    return Cesium.BoundingSphere.fromRectangle3D(rectangle, Cesium.Ellipsoid.WGS84, height || 0);
  }

  /** Tile URLs of a closed group's layer carry the user's token (see TwinAuth.tileResource);
   *  pages without sign-in show open layers only. */
  function tiles(layer, url) {
    return window.TwinAuth ? window.TwinAuth.tileResource(layer, url) : url;
  }

  function auth(layer) {
    return layer.group_id && window.TwinAuth ? window.TwinAuth.headers() : {};
  }

  /** The folder URL of a layer version (its entry file's directory, with a trailing slash). */
  function folderOf(url) {
    return url.slice(0, url.lastIndexOf("/") + 1);
  }

  async function terrain(viewer, layer) {
    const provider = await Cesium.CesiumTerrainProvider.fromUrl(
      tiles(layer, folderOf(layer.tileset_url)),
      { requestVertexNormals: true },
    );
    const range = (layer.versions.find((v) => v.number === layer.version) || {}).stats || {};
    const heights = range.height_range || [0, 0];
    let shown = false;
    const handle = {
      kind: "terrain",
      provider,
      boundingSphere: sphereOf(layer, (heights[0] + heights[1]) / 2),
      get show() {
        return shown;
      },
      set show(value) {
        shown = !!value;
        if (shown) {
          for (const other of terrains) if (other !== handle) other.show = false;
          viewer.scene.terrainProvider = provider;
          viewer.scene.globe.enableLighting = false;
        } else if (viewer.scene.terrainProvider === provider) {
          viewer.scene.terrainProvider = new Cesium.EllipsoidTerrainProvider();
        }
        handle.onchange && handle.onchange(shown);
        viewer.scene.requestRender();
      },
      destroy() {
        handle.show = false;
        terrains.delete(handle);
      },
    };
    terrains.add(handle);
    return handle;
  }

  async function imagery(viewer, layer) {
    const response = await fetch(layer.tileset_url, { headers: auth(layer) });
    if (!response.ok) throw new Error(`imagery.json: HTTP ${response.status}`);
    const meta = await response.json();
    const [w, s, e, n] = meta.bounds;
    const provider = new Cesium.UrlTemplateImageryProvider({
      url: tiles(layer, folderOf(layer.tileset_url) + meta.url),
      tilingScheme: new Cesium.WebMercatorTilingScheme(),
      rectangle: Cesium.Rectangle.fromDegrees(w, s, e, n),
      minimumLevel: meta.min_zoom,
      maximumLevel: meta.max_zoom,
      tileWidth: meta.tile_size || 256,
      tileHeight: meta.tile_size || 256,
      credit: layer.name,
    });
    const imageryLayer = viewer.imageryLayers.addImageryProvider(provider);
    return {
      kind: "imagery",
      provider,
      imageryLayer,
      boundingSphere: sphereOf(layer, 0),
      get show() {
        return imageryLayer.show;
      },
      set show(value) {
        imageryLayer.show = !!value;
        viewer.scene.requestRender();
      },
      destroy() {
        viewer.imageryLayers.remove(imageryLayer, true);
      },
    };
  }

  window.TwinGround = {
    kinds: new Set(["terrain", "imagery"]),
    load(viewer, layer) {
      return layer.kind === "terrain" ? terrain(viewer, layer) : imagery(viewer, layer);
    },
  };
})();
