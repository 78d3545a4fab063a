import KappaCore
import KappaStorage
import KappaStream

/// The processor settings `kappa replay` and `kappa process` take as flags, applied over the defaults.
public struct ProcessorTuning: Sendable {
    public var checkpointInterval: Duration
    public var maxBatchRecords: Int
    /// Output settings of the version being written; nil keeps the default.
    public var rollupWidths: [Int64]?
    public var rollupRetention: RollupRetention?
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
        if let rollupRetention { configuration.rollupRetention = rollupRetention }
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

    /// `30d`, `12h`, or `forever` (nil): how long something is kept.
    public static func retention(_ text: String, naming flag: String? = nil) throws(SettingsError) -> Duration? {
        let prefix = flag.map { "\($0): " } ?? ""
        let trimmed = text.trimmed
        if trimmed == "forever" { return nil }
        guard let duration = DurationText.duration(trimmed), duration >= .seconds(1) else {
            throw SettingsError("\(prefix)'\(trimmed)' is not a retention like 30d, 12h or forever.")
        }
        return duration
    }

    /// `1m=30d,1h=400d,1d=forever`: how long each width's rollups are kept; widths not named keep
    /// ``RollupRetention/defaultRetention(ofWidth:)``.
    public static func rollupRetention(_ text: String, naming flag: String? = "--rollup-retention") throws(SettingsError) -> RollupRetention {
        let prefix = flag.map { "\($0): " } ?? ""
        var explicit: [Int64: Duration?] = [:]
        for untrimmed in text.split(separator: ",") {
            let part = String(untrimmed).trimmed
            let sides = part.split(separator: "=", omittingEmptySubsequences: false)
            guard sides.count == 2 else { throw SettingsError("\(prefix)'\(part)' is not width=retention, like 1m=30d or 1d=forever.") }
            let widths = try rollupWidths(String(sides[0]), naming: flag)
            guard widths.count == 1 else { throw SettingsError("\(prefix)'\(part)' names more than one width.") }
            guard explicit[widths[0]] == nil else { throw SettingsError("\(prefix)'\(part)': the width \(sides[0]) is given twice.") }
            explicit[widths[0]] = try retention(String(sides[1]), naming: flag)
        }
        return RollupRetention(explicit)
    }

    /// `site,line`: tag keys shown as columns of the series dictionary and the rollup views.
    public static func tagColumns(_ texts: [String], naming flag: String? = "--tag-columns") throws(SettingsError) -> [String] {
        let prefix = flag.map { "\($0): " } ?? ""
        var keys: [String] = []
        for text in texts.flatMap({ $0.split(separator: ",") }).map({ String($0).trimmed }) where !text.isEmpty {
            guard RollupViews.isValidTagColumn(text) else {
                throw SettingsError("\(prefix)'\(text)' cannot be a column: use lower-case letters, digits and underscores, starting with a letter, and no name a rollup view already has (\(RollupViews.reservedNames.sorted().joined(separator: ", "))).")
            }
            guard !keys.contains(text) else { throw SettingsError("\(prefix)'\(text)' is given twice.") }
            keys.append(text)
        }
        return keys
    }
}
