// The widget manager (embed-amd.js) fetches its fonts from window.__jupyter_widgets_assets_path__,
// by default a path under the page's own folder. Point it at the vendored copy beside this file.
window.__jupyter_widgets_assets_path__ = new URL("vendor/html-manager/", document.currentScript.src).href;
