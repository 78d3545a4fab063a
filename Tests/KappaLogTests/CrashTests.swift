import Foundation
import KappaCore
import KappaTestSupport
import Testing
@testable import KappaLog

/// Runs `kappa log append-test` as a child process and kills it with SIGKILL mid-append.
///
/// Needs the `kappa` executable built next to the test bundle (`swift build --build-tests`, as CI does, or
/// `swift build --product kappa` before `swift test`).
@Suite struct CrashTests {
    private static var kappaExecutable: String? { try? KappaProcess.executable() }

    @Test(.timeLimit(.minutes(2)), arguments: [1, 7])
    func sigkillMidAppendLosesNothingReportedAsAppended(batch: Int) throws {
        let executable = try #require(Self.kappaExecutable, "build the kappa executable first: swift build --product kappa")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["log", "append-test", "--data-dir", directory.path, "--count", "100000000", "--batch", "\(batch)", "--partitions", "3"]
        let output = Pipe()
        child.standardOutput = output
        try child.run()

        var reported: [(number: Int, partition: Int, offset: Int64)] = []
        var pending = [UInt8]()
        var killed = false
        let descriptor = output.fileHandleForReading.fileDescriptor
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            pending += chunk[..<count]
            // Only complete lines count: the last one may have been cut by the kill.
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let fields = pending[..<newline].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
                pending.removeSubrange(...newline)
                if fields.count == 3, let number = Int(fields[0]), let partition = Int(fields[1]), let offset = Int64(fields[2]) {
                    reported.append((number, partition, offset))
                }
            }
            if !killed, reported.count >= 20_000 {
                kill(child.processIdentifier, SIGKILL)
                killed = true
            }
        }
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)
        #expect(reported.count >= 20_000)

        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        defer { log.close() }
        let stream = try log.openStream(named: "append-test")
        var stored: [[Int64: String]] = []
        for partition in 0..<stream.partitionCount {
            var byOffset: [Int64: String] = [:]
            for record in try readAll(stream, partition: partition) { byOffset[record.offset] = String(decoding: record.value, as: UTF8.self) }
            stored.append(byOffset)
        }
        var missing = 0
        for entry in reported where stored[entry.partition][entry.offset] != "record \(entry.number)" {
            missing += 1
        }
        #expect(missing == 0, "\(missing) of \(reported.count) reported records are not in the log")
        #expect(stored.map(\.count).reduce(0, +) >= reported.count)
    }
}
