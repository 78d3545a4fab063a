import KappaCore

/// The timestamps an import file's time column may hold: RFC 3339; a local date and time without a zone
/// (`2020-03-09 10:14:33`, `T` or space, optional fraction), read in the import's time zone; or epoch
/// seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.
enum ImportTimestamp {
    static func parse(_ text: String, zone: ImportTimeZone) -> Timestamp? {
        epoch(text) ?? Timestamp(rfc3339: text) ?? zoneless(text).flatMap { zone.instant(ofLocal: $0) }
    }

    /// Whole numbers up to 11 digits are seconds (to the year 5138), up to 14 milliseconds, up to 17
    /// microseconds, longer nanoseconds; a fraction is allowed on seconds only, and read exactly.
    static func epoch(_ text: String) -> Timestamp? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let wholeText = parts[0]
        guard !wholeText.isEmpty, wholeText.allSatisfy(\.isASCIIDigit), wholeText.count <= 19, let whole = Int64(wholeText) else { return nil }
        let digits = wholeText.drop { $0 == "0" }.count
        guard digits <= 11 else {
            guard parts.count == 1 else { return nil }
            let scale: Int64 = digits <= 14 ? 1_000_000 : digits <= 17 ? 1_000 : 1
            let (product, overflow) = whole.multipliedReportingOverflow(by: scale)
            return overflow ? nil : Timestamp(nanosecondsSinceEpoch: product)
        }
        var nanoseconds: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1].prefix(9)
            guard !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit), let value = Int64(fraction) else { return nil }
            nanoseconds = value * Self.powersOfTen[9 - fraction.count]
        }
        return Timestamp(nanosecondsSinceEpoch: whole * 1_000_000_000 + nanoseconds)
    }

    private static let powersOfTen: [Int64] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000]

    /// `YYYY-MM-DD hh:mm[:ss[.fraction]]` with a space or `T`, and nothing after it.
    static func zoneless(_ text: String) -> CivilTime? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 16, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2), let minute = number(14, 2)
        else { return nil }
        var second = 0, nanosecond = 0, index = 16
        if index < bytes.count {
            guard bytes[index] == UInt8(ascii: ":"), let value = number(index + 1, 2) else { return nil }
            second = value
            index += 3
        }
        if index < bytes.count {
            guard bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: ","), index + 1 < bytes.count else { return nil }
            var digits = 0
            for byte in bytes[(index + 1)...] {
                guard (48...57).contains(byte) else { return nil }
                if digits < 9 { nanosecond = nanosecond * 10 + Int(byte - 48) }
                digits += 1
            }
            if digits < 9 { nanosecond *= Int(powersOfTen[9 - digits]) }
        }
        return CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanosecond)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
