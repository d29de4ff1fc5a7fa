#!/usr/bin/env node
// ort_bench.js: ONNX Runtime's side of the speed benchmark (bench/run_benchmarks.py drives it).
//
//   node ort_bench.js --ort DIR MODEL.onnx INPUT.npy... [--threads N] [--warmup W] [--runs N]
//                     [--max-seconds S] [--out DIR]
//   node ort_bench.js --ort DIR --baseline
//
// The same protocol as bench/cnnrun_bench.c: create the session from the file (timed: file to
// ready-to-run session), the first run (timed apart), W-1 more warm-up runs, then N timed runs —
// fewer if S seconds pass first, but at least three — and one JSON line on stdout. Inputs are
// read before the clock starts and fed in the order of the graph inputs. --out writes each output
// of the last run as DIR/<output name>.npy. --ort names the onnxruntime-node package directory
// the driver installed in the build tree.
//
// Session options: the CPU execution provider with every graph optimisation, intraOpNumThreads
// = --threads, one inter-op thread, sequential execution; everything else is ORT's default
// (memory arena and memory patterns on), as a user would run it.
//
// --baseline loads the package (node, the binding and libonnxruntime) and nothing else, so the
// driver can tell what node itself costs from what a model costs.
'use strict';
const fs = require('fs');
const path = require('path');

const MIN_TIMED_RUNS = 3;

function usage(why) {
    process.stderr.write(`ort_bench.js: ${why}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const o = { threads: 2, warmup: 2, runs: 10, maxSeconds: 0, inputs: [], baseline: false };
    const numbers = { '--threads': ['threads', 0], '--warmup': ['warmup', 1], '--runs': ['runs', 1] };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--baseline') { o.baseline = true; continue; }
        if (!arg.startsWith('--')) {
            if (o.model === undefined) o.model = arg; else o.inputs.push(arg);
            continue;
        }
        const value = argv[++i];
        if (value === undefined) usage(`${arg} lacks its value`);
        if (arg in numbers) {
            const [key, min] = numbers[arg];
            if (!/^\d+$/.test(value) || Number(value) < min) usage(`${arg} wants an integer >= ${min}`);
            o[key] = Number(value);
        } else if (arg === '--max-seconds') {
            o.maxSeconds = Number(value);
            if (!(o.maxSeconds >= 0)) usage('--max-seconds wants a number >= 0');
        } else if (arg === '--out') o.out = value;
        else if (arg === '--ort') o.ort = value;
        else usage(`unknown option ${arg}`);
    }
    if (!o.ort) usage('--ort DIR is required');
    if (!o.baseline && o.model === undefined) usage('no model given');
    return o;
}

// The .npy element types the zoo needs, as ONNX Runtime tensor types and typed arrays.
const NPY_TYPES = {
    '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
    '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array],
    '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
    const buf = fs.readFileSync(file);
    if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
    const major = buf[6];
    const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
    const start = (major === 1 ? 10 : 12) + headerLen;
    const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
    const descr = /'descr':\s*'([^']+)'/.exec(header);
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!descr || !shape || /'fortran_order':\s*True/.test(header))
        throw new Error(`${file}: unsupported .npy header ${header.trim()}`);
    const type = NPY_TYPES[descr[1]];
    if (!type) throw new Error(`${file}: unsupported dtype ${descr[1]}`);
    const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
    // A copy, so the typed array starts on its own aligned buffer whatever the header size.
    const bytes = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
    return { type: type[0], data: new type[1](bytes), dims };
}

function writeNpy(file, tensor) {
    const entry = Object.entries(NPY_TYPES).find(([, t]) => t[0] === tensor.type);
    if (!entry) throw new Error(`output type ${tensor.type} has no .npy form here`);
    const dims = tensor.dims.map(String);
    const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
    let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
    // Pad so the data start on a 64-byte boundary, as NumPy writes it.
    header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
    const prefix = Buffer.alloc(10);
    prefix.write('\x93NUMPY', 0, 'latin1');
    prefix[6] = 1;
    prefix[7] = 0;
    prefix.writeUInt16LE(header.length, 8);
    const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]));
}

function nowMs() {
    return Number(process.hrtime.bigint()) / 1e6;
}

async function bench(ort, o) {
    const arrays = o.inputs.map(readNpy);
    const t0 = nowMs();
    const session = await ort.InferenceSession.create(o.model, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: o.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
    });
    const t1 = nowMs();
    if (arrays.length !== session.inputNames.length)
        throw new Error(`the model takes ${session.inputNames.length} inputs, ${arrays.length} given`);
    const feeds = {};
    session.inputNames.forEach((name, i) => {
        feeds[name] = new ort.Tensor(arrays[i].type, arrays[i].data, arrays[i].dims);
    });

    let firstRunMs = 0;
    let results;
    for (let i = 0; i < o.warmup; i++) {
        const start = nowMs();
        results = await session.run(feeds);
        if (i === 0) firstRunMs = nowMs() - start;
    }
    const latencies = [];
    const timedStart = nowMs();
    while (latencies.length < o.runs) {
        const start = nowMs();
        results = await session.run(feeds);
        const end = nowMs();
        latencies.push(end - start);
        if (o.maxSeconds > 0 && latencies.length >= MIN_TIMED_RUNS &&
            end - timedStart >= o.maxSeconds * 1e3)
            break;
    }
    if (o.out)
        for (const name of session.outputNames) writeNpy(path.join(o.out, `${name}.npy`), results[name]);
    return {
        threads: o.threads, load_ms: t1 - t0, first_run_ms: firstRunMs, warmup_runs: o.warmup,
        latencies_ms: latencies,
    };
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const ort = require(path.resolve(o.ort));
    const version = require(path.join(path.resolve(o.ort), 'package.json')).version;
    const head = { runtime: 'onnxruntime', version, node: process.versions.node };
    const body = o.baseline ? { baseline: true } : await bench(ort, o);
    process.stdout.write(JSON.stringify({ ...head, ...body }) + '\n');
}

main().catch((err) => {
    process.stderr.write(`ort_bench.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
});
