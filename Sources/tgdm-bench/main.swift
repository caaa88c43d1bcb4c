// `tgdm-bench [suite ...]`: the benchmark suites without the rest of the CLI (same code as `tgdm bench`).
import Benchmarks
import Foundation
import Torch

Torch.ensurePassiveWaitPolicy()
DistributedBenchmark.runWorkerIfRequested()   // a rank of the distributed suite: measures and exits
setvbuf(stdout, nil, _IOLBF, 0)
let names = CommandLine.arguments.dropFirst()
var suites: [BenchmarkSuite] = []
for name in names.isEmpty ? ["all"] : Array(names) {
    if name == "all" { suites += BenchmarkSuite.allCases; continue }
    guard let s = BenchmarkSuite(rawValue: name) else {
        FileHandle.standardError.write(Data("error: unknown suite '\(name)' (\(BenchmarkSuite.allCases.map(\.rawValue).joined(separator: ", ")), all)\n".utf8))
        exit(2)
    }
    suites.append(s)
}
Torch.configureThreads()
do {
    for s in suites {
        print("== \(s.rawValue)")
        try s.run(options: BenchmarkOptions()) { print($0) }
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
