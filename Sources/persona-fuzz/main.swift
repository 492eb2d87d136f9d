import Foundation
import PersonaFuzz
import PersonaKit

/// Usage: persona-fuzz [--seconds N] [--seeds DIR] [--seed N] [--crashes DIR]
///
/// Feeds mutated inputs through every decoder, adapter and parser for about N seconds (60 by
/// default), seeded from the recorded provider responses in DIR (`../shared/fixtures/wire` by
/// default) and from built-in config, persona and price-list samples. Before each case its input
/// is written to `<crashes>/<target>.last`: should a case trap, that file is the input to keep as
/// a regression case under `Tests/FuzzRegressions/`. Prints how many cases each target ran.
var seconds = 60.0
var seedsDirectory = "../shared/fixtures/wire"
var seed: UInt64 = UInt64(Date().timeIntervalSince1970)
var crashes = FileManager.default.temporaryDirectory.appendingPathComponent("persona-fuzz").path
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next() else { break }
    switch flag {
    case "--seconds": seconds = Double(value) ?? seconds
    case "--seeds": seedsDirectory = value
    case "--seed": seed = UInt64(value) ?? seed
    case "--crashes": crashes = value
    default: FileHandle.standardError.write(Data("persona-fuzz: unknown option \(flag)\n".utf8)); exit(2)
    }
}
try FileManager.default.createDirectory(atPath: crashes, withIntermediateDirectories: true)

let corpus = FuzzCorpus.load(wire: seedsDirectory)
print("persona-fuzz: seed \(seed), \(corpus.recordedCount) recorded responses from \(seedsDirectory), \(String(format: "%.0f", seconds)) s")
var mutator = Mutator(seed: seed)
let targets = FuzzTarget.allCases
// Streams get most of the time: they read what providers send.
let shares = targets.map { $0.rawValue.hasSuffix("stream") ? 3.0 : 1.0 }
var total = 0
for (target, share) in zip(targets, shares) {
    let seeds = corpus.seeds[target] ?? [[]]
    let budget = seconds * share / shares.reduce(0, +)
    let last = URL(fileURLWithPath: crashes).appendingPathComponent("\(target.rawValue).last").path
    // One open file, rewritten in place before each case: the page cache outlives a crash.
    let file = open(last, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
    guard file >= 0 else { fatalError("persona-fuzz: cannot write \(last)") }
    let started = Date()
    var cases = 0
    while Date().timeIntervalSince(started) < budget {
        let input = mutator.mutate(seeds[mutator.below(seeds.count)], other: seeds[mutator.below(seeds.count)])
        ftruncate(file, 0)
        _ = input.withUnsafeBytes { pwrite(file, $0.baseAddress, $0.count, 0) }
        target.run(input)
        cases += 1
    }
    close(file)
    unlink(last)
    total += cases
    let name = target.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
    print("\(name) \(String(repeating: " ", count: max(0, 8 - String(cases).count)))\(cases) cases from \(seeds.count) seeds")
}
print("persona-fuzz: \(total) cases, no crash")
