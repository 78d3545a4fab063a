#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import KappaStream
import Testing

@Suite("Processor executor")
struct ProcessorExecutorTests {
    /// The calling thread's nice value.
    private static func currentNice() -> Int32 {
        #if os(Linux)
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        return getpriority(PRIO_PROCESS, 0)
        #endif
    }

    @Test func workPreferringTheExecutorRunsOnItsLoweredThreadsAndThePoolStaysAsItWas() async throws {
        let poolBefore = Self.currentNice()
        let executor = ProcessorExecutor.shared(niceness: 7)
        let inside = await withTaskExecutorPreference(executor) {
            // A child task and a suspension: both come back to the executor's threads.
            async let child = Self.currentNice()
            try? await Task.sleep(for: .milliseconds(1))
            return (await child, Self.currentNice())
        }
        #if os(Linux)
        #expect(inside.0 == 7)
        #expect(inside.1 == 7)
        #endif
        let poolAfter = await Task.detached { Self.currentNice() }.value
        #expect(poolAfter == poolBefore)
    }

    @Test func oneExecutorPerNiceValue() {
        #expect(ProcessorExecutor.shared(niceness: 3) === ProcessorExecutor.shared(niceness: 3))
        #expect(ProcessorExecutor.shared(niceness: 3) !== ProcessorExecutor.shared(niceness: 4))
    }
}
