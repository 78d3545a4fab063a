import KappaCore
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a ground-truth file is written (see `GroundTruthLabel`).
public enum LabelFileFormat: String, Sendable, CaseIterable {
    /// One JSON object per line.
    case jsonLines = "jsonl"
    /// A header row, then one row per label.
    case csv

    /// CSV for a path ending in `.csv` (any case), JSON Lines otherwise.
    public init(path: String) {
        self = path.lowercased().hasSuffix(".csv") ? .csv : .jsonLines
    }
}

/// Appends ground-truth labels to a file on a serial queue of its own, so the publishing task never waits on
/// the disk.
public final class LabelFileWriter: Sendable {
    // The FILE pointer is only used on `queue`; held as a bit pattern, so the class is plainly Sendable.
    private let file: Int
    private let queue = DispatchQueue(label: "kappa-sim.labels")
    public let path: String
    public let format: LabelFileFormat

    /// Creates (or truncates) the file; `format` nil chooses by the path's extension.
    public init(path: String, format: LabelFileFormat? = nil) throws {
        guard let handle = fopen(path, "w") else {
            throw SimulatorError(code: .fileAccess, message: "cannot write the labels file '\(path)': \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.file = Int(bitPattern: handle)
        self.format = format ?? LabelFileFormat(path: path)
        if self.format == .csv {
            let header = GroundTruthLabel.csvHeader + "\n"
            queue.async { _ = fputs(header, self.handle) }
        }
    }

    private var handle: UnsafeMutablePointer<FILE> { UnsafeMutablePointer(bitPattern: file)! }

    public func write(_ labels: [GroundTruthLabel]) {
        guard !labels.isEmpty else { return }
        let text = format == .csv ? labels.map { $0.csvLine + "\n" }.joined() : labels.map { $0.jsonLine + "\n" }.joined()
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
