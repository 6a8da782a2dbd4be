// Runs an exported .onnx model in ONNX Runtime (onnxruntime-node, CPU) on one input tensor and
// prints every output as JSON, each float32 value written exactly (JSON numbers of the doubles
// the floats convert to): what tests/test_export_onnx.cpp compares against the engine's predict.
//
//   node run_onnx.js MODEL.onnx INPUT.f32 N C H W   raw little-endian float32, (N, C, H, W)
//   node run_onnx.js MODEL.onnx INPUT.json          {"shape": [N, C, H, W], "data": [...]}
//
// Output: {"inputs": [...], "outputs": [...], "<output name>": {"shape": [...], "data": [[...]]}}
// with each output's rows (dimension 0) as arrays. Exit status 1 with a message on any error.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readInput(args) {
  const [path, ...dims] = args;
  if (path.endsWith('.json')) {
    const input = JSON.parse(fs.readFileSync(path, 'utf8'));
    return {shape: input.shape, data: Float32Array.from(input.data)};
  }
  if (dims.length === 0) throw new Error(`${path}: a raw float32 input needs its shape (N C H W)`);
  const shape = dims.map((d) => {
    const n = Number(d);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`bad dimension '${d}'`);
    return n;
  });
  const bytes = fs.readFileSync(path);
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * 4)
    throw new Error(`${path}: ${bytes.length} bytes, shape [${shape}] needs ${count * 4}`);
  // A copy into an aligned buffer; the file's bytes are little-endian float32.
  const data = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < count; ++i) data[i] = view.getFloat32(4 * i, true);
  return {shape, data};
}

// (N, ...) values as N rows of plain numbers.
function rows(tensor) {
  const n = tensor.dims[0];
  const per = n > 0 ? tensor.data.length / n : 0;
  const out = [];
  for (let r = 0; r < n; ++r) out.push(Array.from(tensor.data.subarray(r * per, (r + 1) * per)));
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 2) throw new Error('usage: node run_onnx.js MODEL.onnx INPUT.f32 N C H W | INPUT.json');
  const session = await ort.InferenceSession.create(args[0], {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,  // the tests share two cores with the build
  });
  const input = readInput(args.slice(1));
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape)};
  const results = await session.run(feeds);
  const out = {inputs: session.inputNames, outputs: session.outputNames};
  for (const name of session.outputNames) out[name] = {shape: results[name].dims, data: rows(results[name])};
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run_onnx.js: ${e.message}\n`);
  process.exit(1);
});
