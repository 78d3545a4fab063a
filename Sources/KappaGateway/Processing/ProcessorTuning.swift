import KappaCore
import KappaStream

/// The processor settings `kappa replay` and `kappa process` take as flags, applied over the defaults.
public struct ProcessorTuning: Sendable {
    public var checkpointInterval: Duration
    public var maxBatchRecords: Int
    /// Output settings of the version being written; nil keeps the default.
    public var rollupWidths: [Int64]?
    public var deviceOfflineAfterSeconds: Int?
    /// Days of raw readings the archive keeps; 0 keeps all; nil keeps the default.
    public var archiveRetentionDays: Int?
    public var threadNiceness: Int32?
    public var outputVersion: String?

    public init(checkpointInterval: Duration, maxBatchRecords: Int) {
        self.checkpointInterval = checkpointInterval
        self.maxBatchRecords = maxBatchRecords
    }

    public var configuration: ProcessorConfiguration {
        var configuration = ProcessorConfiguration()
        if let outputVersion { configuration.outputVersion = outputVersion }
        configuration.checkpointInterval = checkpointInterval
        configuration.maxBatchRecords = maxBatchRecords
        if let threadNiceness { configuration.threadNiceness = threadNiceness }
        if let rollupWidths { configuration.rollupWidths = rollupWidths }
        if let deviceOfflineAfterSeconds { configuration.deviceOfflineAfter = .seconds(deviceOfflineAfterSeconds) }
        if let archiveRetentionDays {
            configuration.archiveRetention = archiveRetentionDays > 0 ? .seconds(Int64(archiveRetentionDays) * 86_400) : nil
        }
        return configuration
    }

    /// The widest rollup bucket: a year (a wider one would hold everything in one bucket, and the
    /// arithmetic on bucket starts must not overflow).
    public static let maximumRollupWidthSeconds: Int64 = 366 * 86_400

    /// `1m,5m,1h` in whole seconds (any duration ``DurationText`` reads, up to 366 days), each once.
    /// - Parameter flag: named at the start of an error (a setting's error names the setting itself).
    public static func rollupWidths(_ text: String, naming flag: String? = "--rollup-widths") throws(SettingsError) -> [Int64] {
        let prefix = flag.map { "\($0): " } ?? ""
        var widths: [Int64] = []
        for untrimmed in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = String(untrimmed).trimmed
            let notAWidth = SettingsError("\(prefix)'\(part)' is not a width like 30s, 1m, 1h or 1d.")
            let tooWide = SettingsError("\(prefix)'\(part)' is wider than 366d.")
            let width: Duration
            do {
                width = try DurationText.parse(part)
            } catch .tooLong {
                throw tooWide
            } catch {
                throw notAWidth
            }
            let (seconds, fraction) = width.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
            guard seconds > 0, fraction == 0 else { throw notAWidth }
            guard seconds <= maximumRollupWidthSeconds else { throw tooWide }
            // Two equal widths would be two rows for one bucket in the same checkpoint.
            guard !widths.contains(seconds) else { throw SettingsError("\(prefix)'\(part)' is the same width as another.") }
            widths.append(seconds)
        }
        return widths
    }
}
