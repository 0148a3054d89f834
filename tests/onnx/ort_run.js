// ort_run.js — runs an ONNX model in onnxruntime (npm onnxruntime-node) on
// .npy inputs and writes its first output as a float32 .npy file: the
// independent evaluation of tests/onnx/run.sh.
//   node ort_run.js ORT_DIR MODEL.onnx OUT.npy NAME=IN.npy...
// ORT_DIR is where `npm install onnxruntime-node` put node_modules.
'use strict';
const fs = require('fs');
const path = require('path');
const [ortDir, modelPath, outPath, ...feeds] = process.argv.slice(2);
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));

// .npy (format 1.0-3.0, little-endian float32/int32/int64, C order)
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const data = buf.subarray(hstart + hlen);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const arrays = {'<f4': Float32Array, '<i4': Int32Array, '<i8': BigInt64Array};
  if (!arrays[descr]) throw new Error(`${file}: dtype ${descr} not supported`);
  return {descr, shape, data: new arrays[descr](ab)};
}

function writeNpy(file, shape, f32) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre, 0);
  pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength)]));
}

(async () => {
  const session = await ort.InferenceSession.create(modelPath, {graphOptimizationLevel: 'all'});
  const inputs = {};
  for (const f of feeds) {
    const eq = f.indexOf('=');
    const name = f.slice(0, eq);
    const meta = session.inputNames.includes(name) ? name : null;
    if (!meta) throw new Error(`model has no input '${name}' (it has ${session.inputNames.join(', ')})`);
    const a = readNpy(f.slice(eq + 1));
    const type = a.descr === '<f4' ? 'float32' : a.descr === '<i4' ? 'int32' : 'int64';
    inputs[name] = new ort.Tensor(type, a.data, a.shape);
  }
  const results = await session.run(inputs);
  const out = results[session.outputNames[0]];
  console.log(`onnxruntime ${ort.env.versions.node}: ${session.outputNames[0]} [${out.dims.join(', ')}]`);
  writeNpy(outPath, out.dims, out.data);
})().catch(e => { console.error(`ort_run.js: ${e.message || e}`); process.exit(1); });
