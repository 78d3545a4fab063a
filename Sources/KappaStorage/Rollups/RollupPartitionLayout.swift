import KappaCore
import KappaStream

/// How a rollups version table is cut into partitions: by width (LIST), then each width by bucket start
/// (RANGE) in spans of whole buckets, so retention per width drops whole partitions and a query for one series'
/// recent buckets reads one or two of them.
///
/// A width under an hour gets partitions of 1440 buckets (a day of 1m, five days of 5m); wider widths get about
/// 30 days (rounded up to whole buckets), so 1h and 1d tables are not cut into thousands of tiny partitions.
/// Spans start at multiples of themselves from the epoch, like buckets, so a bucket always lies in one
/// partition. Migration 13 uses the same rules in SQL; the writer finds partitions by their bounds, not names.
public enum RollupPartitionLayout {
    /// The span of one range partition of `width` (seconds).
    public static func spanSeconds(ofWidth width: Int64) -> Int64 {
        if width < 3600 { return width * 1440 }
        let month: Int64 = 30 * 86_400
        return (month + width - 1) / width * width
    }

    /// The start (µs since the epoch) of the partition holding the bucket starting at `bucket` (µs).
    public static func partitionStart(bucket: Int64, width: Int64) -> Int64 {
        RollupProcessor.floor(bucket, spanSeconds(ofWidth: width) * 1_000_000)
    }

    /// `rollups_v1_1m`: the partition of `table` holding one width.
    public static func widthPartitionName(table: String, width: Int64) -> String {
        table + "_" + RollupWidths.label(width)
    }

    /// `rollups_v1_1m_p20261201`: the range partition starting at `start` (µs); with the time of day when the
    /// span is not whole days (`rollups_v1_30s_p20261201_120000`).
    public static func rangePartitionName(table: String, width: Int64, start: Int64) -> String {
        let civil = CivilTime(Timestamp(microsecondsSinceEpoch: start))
        var suffix = digits(civil.year, 4) + digits(civil.month, 2) + digits(civil.day, 2)
        if spanSeconds(ofWidth: width) % 86_400 != 0 {
            suffix += "_" + digits(civil.hour, 2) + digits(civil.minute, 2) + digits(civil.second, 2)
        }
        return widthPartitionName(table: table, width: width) + "_p" + suffix
    }

    private static func digits(_ number: Int, _ width: Int) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
