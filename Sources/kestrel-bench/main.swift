import Foundation
import KestrelKernels

// kestrel-bench SUITE [options]: benchmarks that print figures and ratios against a baseline
// measured in the same run. Build with `swift build -c release --product kestrel-bench`.
// `--omp-passive` first: restart with OMP_WAIT_POLICY=passive unless a wait policy is set.
if CommandLine.arguments.dropFirst().first == "--omp-passive" { OpenMPWaitPolicy.restartPassiveIfUnset() }
let args = Array(CommandLine.arguments.dropFirst().drop { $0 == "--omp-passive" })
switch args.first {
case "model": try runModelBench(args: Array(args.dropFirst()))
case "kernels": if args.dropFirst().first == "--rows-only" { runRowKernelBench() } else { runKernelBench() }
case "gemm": runGEMMBench(args: Array(args.dropFirst()))
case "gemm-layers": runGEMMLayersBench(args: Array(args.dropFirst()))
case "index-recall": runIndexRecallBench(args: Array(args.dropFirst()))
case "faiss-speed": runFaissSpeedBench(args: Array(args.dropFirst()))
case "make-model": try runMakeModel(args: Array(args.dropFirst()))
case "store-open": try runStoreOpenBench(args: Array(args.dropFirst()))
case "precision-agreement": try runPrecisionAgreement(args: Array(args.dropFirst()))
case "ingest-jpeg": try runIngestBench(args: Array(args.dropFirst()))
case "train-ops": runTrainOpsBench(args: Array(args.dropFirst()))
case "synth-index", "load", "serve-profile":
    do {
        switch args.first {
        case "load": try runLoadBench(args: Array(args.dropFirst()))
        case "serve-profile": try runServeProfile(args: Array(args.dropFirst()))
        default: try runSynthIndex(args: Array(args.dropFirst()))
        }
    } catch let e as BenchUsage {
        FileHandle.standardError.write(Data("kestrel-bench: \(e)\n".utf8))
        exit(2)
    }
default:
    print("usage: kestrel-bench [--omp-passive] (model --model DIR [--precision P] [--text-only] [--repeats N] | kernels [--rows-only] | gemm [--threads N] [--seconds S] [--vit] | gemm-layers [--rows M] [--layers L] [--precision P] [--threads N] [--seconds S] | index-recall [--count N] [--dim D] [--types flat,hnsw,ivf] | faiss-speed [--count N] [--dim D] [--queries Q] [--check-count M] [--threads N] [--write-vectors FILE] [--json] | make-model --out DIR | store-open [--count N] [--dim D] [--dir DIR] [--cold] | precision-agreement --model DIR [--precisions bf16,int8] [--count N] IMAGE_DIR... | ingest-jpeg --model DIR [--count 200] [--dir DIR] [--modes fast,exact] [--threads 0,1,2] | train-ops [--batch 64] [--repeats 5] | synth-index --out DIR [--items 100000] [--model DIR] [--index-type auto] [--seed 1] | serve-profile --index DIR [--queries 400] | load --url http://127.0.0.1:PORT [--clients 8] [--seconds 60] [--warmup 5] [--k 10] [--queries FILE] [--recall --index DIR] [--json FILE])")
}
