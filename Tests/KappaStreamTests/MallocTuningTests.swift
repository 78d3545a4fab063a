#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import KappaStream
import KappaTestSupport
import Testing

/// `kappa run`'s allocator settings (``MallocTuning``). They are process-wide, and a block is mapped on its own
/// only when no free block of the heap can hold it, so they are checked in a fresh process (this test bundle
/// again, running only ``probeInAFreshProcess()``), where the heap holds no large free block yet.
@Suite struct MallocTuningTests {
    static let probeVariable = "KAPPA_MALLOC_TUNING_PROBE"

    /// By default glibc raises its mmap threshold to the size of each mapped block freed (up to 32 MiB), and
    /// blocks below it then come from the heap, whose freed ranges stay resident. Fixed, a block above the
    /// threshold is mapped on its own (and given back when freed) whatever was freed before it.
    @Test func aBlockAboveTheThresholdIsMappedAfterALargerOneWasFreed() async throws {
        #if canImport(Glibc)
        let directory = try TemporaryDirectory.make(prefix: "kappa-malloc-probe")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/probe.log"
        let probe = try KappaProcess(
            executablePath: CommandLine.arguments[0],
            arguments: ["--testing-library", "swift-testing", "--filter", "probeInAFreshProcess"],
            environment: [Self.probeVariable: "1"], outputFile: output
        )
        let status = await probe.waitForExit(timeout: .seconds(120))
        #expect(status == 0, "\(probe.output.suffix(2_000))")
        #expect(probe.output.contains("mapped on its own: true"), "\(probe.output.suffix(2_000))")
        #endif
    }

    /// Run by the test above, in its own process only.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KAPPA_MALLOC_TUNING_PROBE"] != nil))
    func probeInAFreshProcess() throws {
        #if canImport(Glibc)
        #expect(MallocTuning.fixThresholds())
        let large = try #require(malloc(8 << 20))
        // Left to glibc, freeing this mapped block would raise the threshold to 8 MiB.
        free(large)
        let block = try #require(malloc(4 * MallocTuning.mappedFrom))
        defer { free(block) }
        let mapped = MallocTuning.isMappedOnItsOwn(block)
        print("mapped on its own: \(mapped)")
        #expect(mapped)
        #endif
    }
}
