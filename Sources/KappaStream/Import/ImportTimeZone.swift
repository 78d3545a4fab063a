import Foundation
public import KappaCore

/// The zone that timestamps written without one are in: `UTC`, a fixed offset (`+03:00`, `-0530`) or an
/// IANA name (`Europe/Moscow`), whose offset (daylight saving included) is looked up for each local time.
///
/// Foundation earns its place here: it carries the time-zone database, and the lookup happens only for
/// zone-less timestamps of import files, not on the live path.
public struct ImportTimeZone: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    private let fixedOffsetSeconds: Int?
    private let zone: TimeZone?

    public static let utc = ImportTimeZone(description: "UTC", fixedOffsetSeconds: 0, zone: nil)

    private init(description: String, fixedOffsetSeconds: Int?, zone: TimeZone?) {
        self.description = description
        self.fixedOffsetSeconds = fixedOffsetSeconds
        self.zone = zone
    }

    /// nil when the text is neither UTC/Z, an offset, nor a zone name the system knows.
    public init?(_ text: String) {
        if text == "UTC" || text == "Z" || text == "utc" {
            self = .utc
        } else if let offset = Self.offsetSeconds(text) {
            self.init(description: text, fixedOffsetSeconds: offset, zone: nil)
        } else if let zone = TimeZone(identifier: text) {
            self.init(description: text, fixedOffsetSeconds: nil, zone: zone)
        } else {
            return nil
        }
    }

    /// `+03:00`, `-05:30`, `+0300`.
    private static func offsetSeconds(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        let digits = bytes.dropFirst().filter { $0 != UInt8(ascii: ":") }
        guard digits.count == 4, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        let values = digits.map { Int($0 - 48) }
        let hours = values[0] * 10 + values[1], minutes = values[2] * 10 + values[3]
        guard hours <= 23, minutes <= 59 else { return nil }
        return (sign == UInt8(ascii: "-") ? -1 : 1) * (hours * 3_600 + minutes * 60)
    }

    /// The instant of a local wall-clock time in this zone. In a zone name's repeated hour (clocks set back)
    /// the first occurrence is taken; in its skipped hour, the offset in force before the change.
    public func instant(ofLocal local: CivilTime) -> Timestamp? {
        guard let asUTC = local.timestamp else { return nil }
        if let fixedOffsetSeconds {
            return Timestamp(nanosecondsSinceEpoch: asUTC.nanosecondsSinceEpoch - Int64(fixedOffsetSeconds) * 1_000_000_000)
        }
        guard let zone else { return asUTC }
        // The offset at the instant the local time would be if it were UTC, then corrected once: exact except
        // within a few hours of a change of offset, where the second look settles it.
        let guess = Double(asUTC.nanosecondsSinceEpoch / 1_000_000_000)
        let first = zone.secondsFromGMT(for: Date(timeIntervalSince1970: guess))
        let second = zone.secondsFromGMT(for: Date(timeIntervalSince1970: guess - Double(first)))
        return Timestamp(nanosecondsSinceEpoch: asUTC.nanosecondsSinceEpoch - Int64(max(first, second)) * 1_000_000_000)
    }
}
