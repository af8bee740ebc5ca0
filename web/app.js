// zdce's page: the exported enhancer (zdce.onnx, `zdce export`) run by onnxruntime-web on a photo the
// person picks. Nothing is uploaded: the photo is decoded, enhanced and encoded in this page.
// The graph's inputs and outputs are described in docs/onnx.md.
import * as ort from "./vendor/ort.wasm.min.mjs";

const MODEL_URL = "zdce.onnx";
// Photos above this many pixels are scaled down before enhancing: the graph holds a few float32
// copies of the photo at once, and a browser tab's WebAssembly memory stops at 4 GB.
// `?max-pixels=N` lowers the cap (the page's test uses it on a small photo).
const MAX_PIXELS = Math.min(16_000_000, Number(new URLSearchParams(location.search).get("max-pixels")) || Infinity);
const STEPS = 8n; // curve iterations, zdce's default
const AUTO = -1; // a negative strength is the graph's "auto": its guard chooses per photo

const $ = (id) => document.getElementById(id);
const ui = {
  file: $("file"), drop: $("drop"), status: $("status"), error: $("error"), notice: $("notice"),
  result: $("result"), strength: $("strength"), strengthValue: $("strength-value"), auto: $("auto"),
  split: $("split"), compare: $("compare"), before: $("before"), after: $("after"), download: $("download"),
};

let session = null;
let photo = null; // {name, width, height, pixels: Float32Array (1, 3, H, W), alpha: Uint8ClampedArray}
let strength = AUTO;
let running = false;
let pending = false;

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) ui.status.textContent = message;
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  setState("error", "");
}

function clearMessages() {
  ui.error.hidden = true;
  ui.notice.hidden = true;
}

async function loadSession() {
  ort.env.wasm.wasmPaths = new URL("vendor/", location.href).href;
  // Threads need a cross-origin isolated page (`zdce web` serves one); otherwise one thread.
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  session = await ort.InferenceSession.create(MODEL_URL, { executionProviders: ["wasm"] });
  setState("ready", "Ready: pick or drop a photo.");
}

async function decode(file) {
  try {
    // The file's own pixel values: no colour conversion, no premultiplied alpha, EXIF orientation applied.
    return await createImageBitmap(file, {
      colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image",
    });
  } catch (err) {
    throw new Error(`${file.name}: not an image this browser can read (${err.message || err.name})`);
  }
}

function fit(width, height) {
  if (width * height <= MAX_PIXELS) return [width, height, 1];
  const scale = Math.sqrt(MAX_PIXELS / (width * height));
  return [Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale)), scale];
}

async function openPhoto(file) {
  clearMessages();
  if (!session) return;
  setState("working", `Reading ${file.name}…`);
  let bitmap;
  try {
    bitmap = await decode(file);
  } catch (err) {
    ui.result.hidden = true;
    photo = null;
    showError(err.message);
    return;
  }
  const [width, height, scale] = fit(bitmap.width, bitmap.height);
  if (scale < 1) {
    const mp = (n) => (n / 1e6).toFixed(1);
    ui.notice.textContent = `${file.name} is ${bitmap.width}×${bitmap.height} (${mp(bitmap.width * bitmap.height)} MP): ` +
      `enhanced and downloaded at ${width}×${height} (${mp(width * height)} MP), the most this page handles.`;
    ui.notice.hidden = false;
  }
  for (const canvas of [ui.before, ui.after]) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = ui.before.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const n = width * height;
  const pixels = new Float32Array(3 * n);
  const alpha = new Uint8ClampedArray(n);
  for (let i = 0; i < n; i++) {
    pixels[i] = rgba[4 * i] / 255;
    pixels[n + i] = rgba[4 * i + 1] / 255;
    pixels[2 * n + i] = rgba[4 * i + 2] / 255;
    alpha[i] = rgba[4 * i + 3];
  }
  photo = { name: file.name, width, height, pixels, alpha };
  strength = AUTO;
  ui.result.hidden = false;
  await enhance();
}

async function enhance() {
  if (running) {
    pending = true;
    return;
  }
  running = true;
  try {
    do {
      pending = false;
      await runOnce();
    } while (pending);
  } catch (err) {
    showError(`Enhancing ${photo ? photo.name : "the photo"} failed: ${err.message || err}`);
  } finally {
    running = false;
  }
}

async function runOnce() {
  const { name, width, height, pixels, alpha } = photo;
  setState("working", `Enhancing ${name}…`);
  const start = performance.now();
  const feeds = {
    image: new ort.Tensor("float32", pixels, [1, 3, height, width]),
    steps: new ort.Tensor("int64", BigInt64Array.from([STEPS]), []),
    strength: new ort.Tensor("float32", Float32Array.from([strength]), []),
  };
  const out = await session.run(feeds, ["enhanced", "applied_strength"]);
  const enhanced = out.enhanced.data;
  const applied = out.applied_strength.data[0];
  const n = width * height;
  const rgba = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    // As zdce's engine converts to 8 bits: round to nearest.
    rgba[4 * i] = Math.floor(enhanced[i] * 255 + 0.5);
    rgba[4 * i + 1] = Math.floor(enhanced[n + i] * 255 + 0.5);
    rgba[4 * i + 2] = Math.floor(enhanced[2 * n + i] * 255 + 0.5);
    rgba[4 * i + 3] = alpha[i];
  }
  ui.after.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  out.enhanced.dispose();
  const ms = Math.round(performance.now() - start);
  if (strength === AUTO) {
    ui.strength.value = applied.toFixed(2);
    ui.strengthValue.textContent = `auto (${applied.toFixed(2)})`;
  } else {
    ui.strengthValue.textContent = applied.toFixed(2);
  }
  await offerDownload(name);
  document.body.dataset.ms = String(ms);
  document.body.dataset.strength = applied.toFixed(4);
  document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
  setState("done", `${name}: ${width}×${height}, enhanced in ${(ms / 1000).toFixed(2)} s.`);
}

async function offerDownload(name) {
  const blob = await new Promise((resolve) => ui.after.toBlob(resolve, "image/png"));
  if (ui.download.href) URL.revokeObjectURL(ui.download.href);
  ui.download.href = URL.createObjectURL(blob);
  ui.download.download = `${name.replace(/\.[^.]*$/, "")}_enhanced.png`;
}

ui.file.addEventListener("change", () => ui.file.files[0] && openPhoto(ui.file.files[0]));
ui.drop.addEventListener("dragover", (e) => { e.preventDefault(); ui.drop.classList.add("over"); });
ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
ui.drop.addEventListener("drop", (e) => {
  e.preventDefault();
  ui.drop.classList.remove("over");
  if (e.dataTransfer.files[0]) openPhoto(e.dataTransfer.files[0]);
});
ui.strength.addEventListener("input", () => {
  strength = Number(ui.strength.value);
  ui.strengthValue.textContent = strength.toFixed(2);
  if (photo) enhance();
});
ui.auto.addEventListener("click", () => {
  strength = AUTO;
  if (photo) enhance();
});
ui.split.addEventListener("input", () => ui.compare.style.setProperty("--split", `${ui.split.value}%`));

loadSession().catch((err) => showError(`The enhancer could not be loaded (${MODEL_URL}): ${err.message || err}`));
