import Foundation

// kestrel-bench SUITE [options]: benchmarks that print figures and ratios against a baseline
// measured in the same run. Build with `swift build -c release --product kestrel-bench`.
let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "model": try runModelBench(args: Array(args.dropFirst()))
case "kernels": runKernelBench()
default:
    print("usage: kestrel-bench (model --model DIR | kernels)")
}
