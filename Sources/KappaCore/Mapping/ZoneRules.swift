#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A named time zone's offsets from UTC, read once from the tz database's compiled file (TZif, RFC 8536, as
/// the `tzdata` package installs it under /usr/share/zoneinfo, or `TZDIR`), so that a zone-less local time
/// (`2026-05-01T14:00:00` from a Tasmota device in Berlin) is read in a zone with daylight saving.
///
/// The file lists the zone's transitions; its footer (a POSIX TZ rule such as `CET-1CEST,M3.5.0,M10.5.0/3`)
/// gives the offsets after the last one. A local time at a transition is resolved as follows:
/// - in the hour that happens twice when clocks go back, the earlier instant (still daylight saving time);
/// - in the hour skipped when clocks go forward, the time is moved forward by the gap (02:30 on the spring
///   day in Berlin is read as 03:30 summer time, 01:30 UTC).
/// (The rules of java.time's `ZonedDateTime.ofLocal` and of Python's `zoneinfo` with `fold=0`.)
public struct ZoneRules: Hashable, Sendable {
    public let name: String
    /// Instants (seconds since the epoch, ascending) at which the offset changes, and the offset from each on.
    private let transitions: [Int64]
    private let offsets: [Int]
    /// The offset before the first transition.
    private let initialOffset: Int
    /// The offsets after the last transition; nil: the last offset holds.
    private let rule: PosixRule?

    public static func == (lhs: ZoneRules, rhs: ZoneRules) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// Reads zone `name` (`Europe/Berlin`) from `directory`, by default `TZDIR` or /usr/share/zoneinfo.
    public init(named name: String, directory: String? = nil) throws(PayloadMappingError) {
        let directory = directory ?? Self.defaultDirectory
        let allowed = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "/_+-".utf8.contains(byte)
        }
        guard allowed, !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(where: { $0.isEmpty }) else {
            throw PayloadMappingError("time zone '\(name)' is not a zone name such as Europe/Berlin")
        }
        guard let bytes = Self.contents(of: "\(directory)/\(name)") else {
            throw PayloadMappingError("no time zone '\(name)' in \(directory) (is the tzdata package installed?)")
        }
        guard let parsed = Self.parse(bytes) else {
            throw PayloadMappingError("\(directory)/\(name) is not a time zone file this gateway can read (TZif with a POSIX rule of M-dates)")
        }
        self.name = name
        (transitions, offsets, initialOffset, rule) = parsed
    }

    static var defaultDirectory: String {
        if let value = getenv("TZDIR"), value.pointee != 0 { return String(cString: value) }
        return "/usr/share/zoneinfo"
    }

    /// The offset from UTC in seconds at an instant.
    public func offset(atSecondsSinceEpoch instant: Int64) -> Int {
        if let rule, transitions.last.map({ instant >= $0 }) ?? true {
            return rule.offset(at: instant)
        }
        guard let first = transitions.first, instant >= first else { return initialOffset }
        var low = 0, high = transitions.count - 1  // the last transition at or before `instant`
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= instant { low = middle } else { high = middle - 1 }
        }
        return offsets[low]
    }

    /// The instant of a local wall-clock time given as seconds since the epoch as if it were UTC, with the
    /// transition rules above.
    public func secondsSinceEpoch(ofLocal local: Int64) -> Int64 {
        // Offsets a day either side cover any transition near `local`; each is right where it maps back to itself.
        let before = offset(atSecondsSinceEpoch: local - 86_400)
        let after = offset(atSecondsSinceEpoch: local + 86_400)
        let earlier = local - Int64(max(before, after)), later = local - Int64(min(before, after))
        if offset(atSecondsSinceEpoch: earlier) == Int(local - earlier) { return earlier }
        if offset(atSecondsSinceEpoch: later) == Int(local - later) { return later }
        // In a gap: with the offset in force before it, which lands as far past the gap's end as `local` is into it.
        return local - Int64(before)
    }

    private static func contents(of path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count <= 0 { break }
            bytes += chunk[..<count]
            if bytes.count > 1 << 20 { return nil }  // zone files are a few KB
        }
        return bytes
    }

    /// RFC 8536: a version 1 block of 32-bit times, then (version 2 and later) the same with 64-bit times and
    /// a footer holding the POSIX rule for later instants.
    private static func parse(_ bytes: [UInt8]) -> (transitions: [Int64], offsets: [Int], initial: Int, rule: PosixRule?)? {
        var reader = BigEndianReader(bytes: bytes)
        guard let header = reader.header() else { return nil }
        var timeSize = 4
        var counts = header.counts
        if header.version >= 2 {
            reader.position += counts.blockSize(timeSize: 4)
            guard let second = reader.header() else { return nil }
            counts = second.counts
            timeSize = 8
        }
        var transitions: [Int64] = []
        for _ in 0..<counts.times {
            guard let time = timeSize == 8 ? reader.int64() : reader.int32().map(Int64.init) else { return nil }
            transitions.append(time)
        }
        var typeIndexes: [Int] = []
        for _ in 0..<counts.times {
            guard let index = reader.byte() else { return nil }
            typeIndexes.append(Int(index))
        }
        var typeOffsets: [Int] = []
        for _ in 0..<counts.types {
            guard let offset = reader.int32(), reader.byte() != nil, reader.byte() != nil else { return nil }
            typeOffsets.append(Int(offset))
        }
        guard !typeOffsets.isEmpty, typeIndexes.allSatisfy({ $0 < typeOffsets.count }) else { return nil }
        reader.position += counts.characters + counts.leapSeconds * (timeSize + 4) + counts.standardIndicators + counts.utIndicators
        var rule: PosixRule?
        if header.version >= 2, reader.byte() == UInt8(ascii: "\n") {
            let footer = reader.rest.prefix { $0 != UInt8(ascii: "\n") }
            if !footer.isEmpty {
                guard let parsed = PosixRule(String(decoding: footer, as: UTF8.self)) else { return nil }
                rule = parsed
            }
        }
        return (transitions, typeIndexes.map { typeOffsets[$0] }, typeOffsets[0], rule)
    }
}

/// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`): a standard offset and, optionally, a daylight saving
/// offset between two yearly dates given as "day d of week w of month m" (week 5 is the last).
struct PosixRule: Sendable {
    struct Change: Sendable {
        var month: Int, week: Int, weekday: Int
        /// Seconds after local midnight (may be negative or past 24 h, RFC 8536).
        var time: Int

        /// The change's local date-time in `year`, as seconds since the epoch as if it were UTC.
        func local(in year: Int) -> Int64 {
            let firstOfMonth = CivilTime.days(fromCivil: year, month, 1)
            let firstWeekday = Int(((firstOfMonth + 4) % 7 + 7) % 7)  // 1970-01-01 was a Thursday
            var day = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
            let length = CivilTime.daysIn(month: month, year: year)
            while day > length { day -= 7 }
            return (firstOfMonth + Int64(day - 1)) * 86_400 + Int64(time)
        }
    }

    var standardOffset: Int
    var daylight: (offset: Int, start: Change, end: Change)?

    init?(_ text: String) {
        var scanner = PosixScanner(text: Array(text.utf8))
        guard scanner.skipName(), let standard = scanner.offset() else { return nil }
        standardOffset = -standard  // POSIX offsets count west of Greenwich
        if scanner.atEnd {
            daylight = nil
            return
        }
        guard scanner.skipName() else { return nil }
        var daylightOffset = standardOffset + 3_600
        if !scanner.peek(",") {
            guard let given = scanner.offset() else { return nil }
            daylightOffset = -given
        }
        guard scanner.take(","), let start = scanner.change(), scanner.take(","), let end = scanner.change(), scanner.atEnd else { return nil }
        daylight = (daylightOffset, start, end)
    }

    func offset(at instant: Int64) -> Int {
        guard let daylight else { return standardOffset }
        let standardTime = instant + Int64(standardOffset)
        let year = CivilTime.civil(fromDays: standardTime >= 0 ? standardTime / 86_400 : (standardTime - 86_399) / 86_400).year
        // The start is given in standard time, the end in daylight saving time.
        let start = daylight.start.local(in: year) - Int64(standardOffset)
        let end = daylight.end.local(in: year) - Int64(daylight.offset)
        let inDaylight = start < end ? (instant >= start && instant < end) : (instant >= start || instant < end)
        return inDaylight ? daylight.offset : standardOffset
    }
}

private struct PosixScanner {
    var text: [UInt8]
    var position = 0

    var atEnd: Bool { position == text.count }

    func peek(_ character: Unicode.Scalar) -> Bool {
        position < text.count && text[position] == UInt8(ascii: character)
    }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard peek(character) else { return false }
        position += 1
        return true
    }

    /// `CET` or `<+03>`.
    mutating func skipName() -> Bool {
        if take("<") {
            while position < text.count && text[position] != UInt8(ascii: ">") { position += 1 }
            return take(">")
        }
        let start = position
        while position < text.count, (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(text[position] & 0xDF) { position += 1 }
        return position - start >= 3
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    mutating func offset() -> Int? {
        var sign = 1
        if take("-") { sign = -1 } else { _ = take("+") }
        guard let hours = number() else { return nil }
        var seconds = hours * 3_600
        if take(":") {
            guard let minutes = number() else { return nil }
            seconds += minutes * 60
            if take(":") {
                guard let more = number() else { return nil }
                seconds += more
            }
        }
        return sign * seconds
    }

    /// `Mm.w.d[/time]`; the Julian-day forms (`Jn`, `n`) are not used by the zones in tzdata today.
    mutating func change() -> PosixRule.Change? {
        guard take("M"), let month = number(), take("."), let week = number(), take("."), let weekday = number(),
              (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday) else { return nil }
        var time = 7_200
        if take("/") {
            guard let given = offset() else { return nil }
            time = given
        }
        return PosixRule.Change(month: month, week: week, weekday: weekday, time: time)
    }

    private mutating func number() -> Int? {
        let start = position
        var value = 0
        while position < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[position]), position - start < 4 {
            value = value * 10 + Int(text[position] - UInt8(ascii: "0"))
            position += 1
        }
        return position > start ? value : nil
    }
}

private struct BigEndianReader {
    struct Counts {
        var utIndicators = 0, standardIndicators = 0, leapSeconds = 0, times = 0, types = 0, characters = 0

        func blockSize(timeSize: Int) -> Int {
            times * timeSize + times + types * 6 + characters + leapSeconds * (timeSize + 4) + standardIndicators + utIndicators
        }
    }

    let bytes: [UInt8]
    var position = 0

    var rest: ArraySlice<UInt8> { bytes[min(position, bytes.count)...] }

    mutating func header() -> (version: Int, counts: Counts)? {
        guard position + 44 <= bytes.count, bytes[position..<(position + 4)].elementsEqual("TZif".utf8) else { return nil }
        let versionByte = bytes[position + 4]
        let version = versionByte == 0 ? 1 : Int(versionByte) - Int(UInt8(ascii: "0"))
        position += 20
        var values: [Int] = []
        for _ in 0..<6 {
            guard let value = int32(), value >= 0 else { return nil }
            values.append(Int(value))
        }
        return (version, Counts(utIndicators: values[0], standardIndicators: values[1], leapSeconds: values[2], times: values[3], types: values[4], characters: values[5]))
    }

    mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func int32() -> Int32? {
        guard position + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 8 | UInt32(bytes[position + offset]) }
        position += 4
        return Int32(bitPattern: value)
    }

    mutating func int64() -> Int64? {
        guard position + 8 <= bytes.count else { return nil }
        var value: UInt64 = 0
        for offset in 0..<8 { value = value << 8 | UInt64(bytes[position + offset]) }
        position += 8
        return Int64(bitPattern: value)
    }
}
