// The `lenet serve` page: a drawing pad whose contents are sent (debounced) as a PNG to POST /api/predict, and
// the answer drawn as probability bars and one grey-scale tile per feature map. No libraries, nothing remote.
'use strict';

const pad = document.getElementById('pad');
const pen = pad.getContext('2d');
const statusLine = document.getElementById('status');
// While drawing, the picture is sent at most this often (and once more when the stroke ends).
const DEBOUNCE_MS = 150;
// A stroke about as thick, relative to the digit, as the handwriting the model was trained on.
const STROKE_WIDTH = 20;
// Vectors are folded into small rectangles: F6 as the paper's 7×12 bitmaps, C5 as 10×12.
const VECTOR_COLUMNS = { c5: 10, f6: 7 };
const TILE_ZOOM = { input: 3, c1: 3, s2: 5, c3: 5, s4: 8, c5: 6, f6: 6 };

let info = null;          // GET /api/info
let tiles = {};           // layer key → [canvas per map]
let hasInk = false;
let drawSeq = 0;          // bumped whenever the picture changes
let inFlight = false;
let timer = 0;
let uploaded = null;      // a file to send as it is, until the picture is drawn on

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

function clearPad() {
  pen.fillStyle = '#fff';
  pen.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  uploaded = null;
  pad.dataset.pointerTypes = '';
  drawSeq++;
  clearTimeout(timer);
  timer = 0;
  showNothing();
  document.body.dataset.drawSeq = String(drawSeq);
  setStatus('Draw a digit in the box.');
}

// ---------------------------------------------------------------- drawing with pointer events (mouse, pen, touch)
let last = null;

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function dot(p) {
  pen.beginPath();
  pen.arc(p.x, p.y, STROKE_WIDTH / 2, 0, 2 * Math.PI);
  pen.fill();
}

function lineTo(p) {
  pen.beginPath();
  pen.moveTo(last.x, last.y);
  pen.lineTo(p.x, p.y);
  pen.stroke();
  last = p;
}

function changed() {
  hasInk = true;
  uploaded = null;
  drawSeq++;
  document.body.dataset.drawSeq = String(drawSeq);
  schedule();
}

// Not postponed by further changes, so the answer follows the pen during a long stroke.
function schedule() {
  if (!timer) timer = setTimeout(() => { timer = 0; predict(); }, DEBOUNCE_MS);
}

function predictNow() {
  clearTimeout(timer);
  timer = 0;
  predict();
}

pad.addEventListener('pointerdown', event => {
  if (event.button !== 0) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  // Which kinds of pointer drew the picture (mouse, pen, touch): shown to tests and nothing else.
  const kinds = new Set((pad.dataset.pointerTypes ?? '').split(',').filter(Boolean)).add(event.pointerType);
  pad.dataset.pointerTypes = [...kinds].join(',');
  pen.fillStyle = pen.strokeStyle = '#000';
  pen.lineWidth = STROKE_WIDTH;
  pen.lineCap = pen.lineJoin = 'round';
  last = point(event);
  dot(last);
  changed();
});

pad.addEventListener('pointermove', event => {
  if (!last) return;
  // Coalesced events keep fast strokes smooth where the browser batches them.
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of (events.length ? events : [event])) lineTo(point(e));
  changed();
});

function endStroke() {
  if (!last) return;
  last = null;
  // The stroke is finished: answer now rather than after the debounce.
  predictNow();
}
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

document.getElementById('clear').addEventListener('click', clearPad);

document.getElementById('upload').addEventListener('change', async event => {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    // Shown on the pad (fitted, on white) so it can be drawn on; sent as the original file where the server takes it.
    pen.fillStyle = '#fff';
    pen.fillRect(0, 0, pad.width, pad.height);
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale, h = bitmap.height * scale;
    pen.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    changed();
    const sendable = ['image/png', 'image/jpeg'].includes(file.type) && file.size <= info.max_image_bytes;
    uploaded = sendable ? file : null;
    predictNow();
  } catch (error) {
    setStatus(`Cannot read ${file.name}: ${error.message}`, true);
  }
});

// ---------------------------------------------------------------- talking to the server
async function predict() {
  if (!hasInk || !info) return;
  if (inFlight) { schedule(); return; }
  inFlight = true;
  document.body.dataset.state = 'busy';
  const seq = drawSeq;
  try {
    const body = uploaded ?? await new Promise(resolve => pad.toBlob(resolve, 'image/png'));
    const response = await fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': body.type }, body });
    const answer = await response.json();
    if (seq !== drawSeq) return; // the picture changed meanwhile: a newer request follows
    if (!response.ok) {
      showNothing();
      setStatus(answer.error ?? `HTTP ${response.status}`, true);
    } else {
      show(answer);
      setStatus('');
    }
    document.body.dataset.renderedSeq = String(seq);
  } catch (error) {
    setStatus(`No answer from the server: ${error.message}`, true);
  } finally {
    inFlight = false;
    document.body.dataset.state = 'idle';
  }
}

// ---------------------------------------------------------------- showing the answer
const bars = document.getElementById('bars');

function buildBars(classes) {
  bars.replaceChildren(...classes.map((name, c) => {
    const li = document.createElement('li');
    li.dataset.class = String(c);
    li.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="p"></span>';
    li.querySelector('.name').textContent = name;
    return li;
  }));
}

function buildTiles(layers) {
  const root = document.getElementById('layers');
  tiles = {};
  for (const [key, layer] of Object.entries(layers)) {
    const section = document.createElement('div');
    section.className = 'layer';
    section.dataset.layer = key;
    const title = document.createElement('h2');
    title.textContent = layer.name;
    const row = document.createElement('div');
    row.className = 'tiles';
    section.append(title, row);
    const vector = layer.shape.length === 1;
    const maps = vector ? 1 : layer.shape[0];
    const width = vector ? VECTOR_COLUMNS[key] : layer.shape[2];
    const height = vector ? Math.ceil(layer.shape[0] / width) : layer.shape[1];
    const zoom = TILE_ZOOM[key] ?? 4;
    tiles[key] = [];
    for (let m = 0; m < maps; m++) {
      const figure = document.createElement('div');
      figure.className = 'tile';
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      canvas.style.width = `${width * zoom}px`;
      canvas.style.height = `${height * zoom}px`;
      canvas.dataset.layer = key;
      canvas.dataset.map = String(m);
      canvas.title = vector ? `${key.toUpperCase()}: ${layer.shape[0]} units` : `${key.toUpperCase()} map ${m}`;
      const label = document.createElement('span');
      label.textContent = vector ? `${layer.shape[0]} units` : String(m);
      figure.append(canvas, label);
      row.append(figure);
      tiles[key].push(canvas);
    }
    root.append(section);
  }
}

// One grey scale per layer, symmetric about zero, so the maps of a layer can be compared with each other.
function drawTile(canvas, values, range) {
  const g = canvas.getContext('2d');
  const image = g.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < canvas.width * canvas.height; i++) {
    const v = i < values.length ? values[i] : 0;
    const grey = Math.round(255 * (0.5 + 0.5 * Math.max(-1, Math.min(1, v / range))));
    image.data.set(i < values.length ? [grey, grey, grey, 255] : [0, 0, 0, 0], 4 * i);
  }
  g.putImageData(image, 0, 0);
}

function show(answer) {
  const predicted = document.getElementById('predicted');
  predicted.textContent = answer.label;
  predicted.dataset.class = String(answer.class);
  document.getElementById('confidence').textContent =
    `${(100 * answer.probabilities[answer.class]).toFixed(1)} %`;
  bars.querySelectorAll('li').forEach((li, c) => {
    const p = answer.probabilities[c];
    li.classList.toggle('top', c === answer.class);
    li.querySelector('.fill').style.width = `${(100 * p).toFixed(1)}%`;
    li.querySelector('.p').textContent = `${(100 * p).toFixed(1)} %`;
  });
  for (const [key, canvases] of Object.entries(tiles)) {
    const data = answer.maps[key];
    const maps = answer.shapes[key].length === 1 ? [data] : data;
    const range = Math.max(1e-6, ...maps.map(m => Math.max(...m.map(Math.abs))));
    canvases.forEach((canvas, m) => drawTile(canvas, maps[m], range));
  }
  document.getElementById('timing').textContent = `answered in ${answer.elapsed_ms} ms on the server`;
}

function showNothing() {
  const predicted = document.getElementById('predicted');
  predicted.textContent = '–';
  predicted.dataset.class = '';
  document.getElementById('confidence').textContent = '';
  document.getElementById('timing').textContent = '';
  bars.querySelectorAll('li').forEach(li => {
    li.classList.remove('top');
    li.querySelector('.fill').style.width = '0';
    li.querySelector('.p').textContent = '';
  });
  for (const canvases of Object.values(tiles))
    for (const canvas of canvases) canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
}

// ---------------------------------------------------------------- start
async function start() {
  clearPad();
  try {
    const response = await fetch('/api/info');
    info = await response.json();
    document.getElementById('model').textContent = info.model;
    document.getElementById('device').textContent = info.device;
    document.getElementById('device-name').textContent = `(${info.device_name})`;
    buildBars(info.classes);
    buildTiles(info.layers);
    document.body.dataset.state = 'idle';
  } catch (error) {
    setStatus(`Cannot reach the server: ${error.message}`, true);
  }
}

start();
