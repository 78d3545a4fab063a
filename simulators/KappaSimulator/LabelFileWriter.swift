import KappaCore
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends ground-truth labels to a JSON Lines file on a serial queue of its own, so the publishing task
/// never waits on the disk.
public final class LabelFileWriter: Sendable {
    // The FILE pointer is only used on `queue`; held as a bit pattern, so the class is plainly Sendable.
    private let file: Int
    private let queue = DispatchQueue(label: "kappa-sim.labels")
    public let path: String

    public init(path: String) throws {
        guard let handle = fopen(path, "w") else {
            throw SimulatorError(code: .fileAccess, message: "cannot write the labels file '\(path)': \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.file = Int(bitPattern: handle)
    }

    private var handle: UnsafeMutablePointer<FILE> { UnsafeMutablePointer(bitPattern: file)! }

    public func write(_ labels: [GroundTruthLabel]) {
        guard !labels.isEmpty else { return }
        let text = labels.map { $0.jsonLine + "\n" }.joined()
        queue.async {
            _ = fputs(text, self.handle)
        }
    }

    /// Flushes and closes the file; waits for every earlier write.
    public func close() async throws {
        let failed = try await Blocking.run {
            self.queue.sync { fclose(self.handle) != 0 }
        }
        if failed {
            throw SimulatorError(code: .fileAccess, message: "writing the labels file '\(path)' failed: \(String(cString: strerror(errno)))")
        }
    }
}
