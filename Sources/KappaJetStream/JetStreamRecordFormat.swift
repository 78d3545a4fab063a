public import KappaCore

/// One log record as the body of one JetStream message: a kind byte, the event time, the key, the value.
///
/// Big-endian, length-prefixed key, the value to the end. JetStream checks the bytes it stores and sends, so
/// unlike the disk format there is no CRC here. The kind byte leaves room for records that are not readings
/// (a marker for offsets recorded as lost) without a format change.
public enum JetStreamRecordFormat {
    static let recordKind: UInt8 = 1
    static let headerSize = 1 + 8 + 4

    public static func encode(key: [UInt8], eventTime: Timestamp, value: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + key.count + value.count)
        bytes.append(recordKind)
        let time = UInt64(bitPattern: eventTime.nanosecondsSinceEpoch)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: time >> UInt64(shift))) }
        let keyLength = UInt32(key.count)
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: keyLength >> UInt32(shift))) }
        bytes += key
        bytes += value
        return bytes
    }

    /// Where the parts of one message body lie inside `buffer` (which may hold several bodies).
    struct Layout {
        var eventTime: Timestamp
        var key: Range<Int>
        var value: Range<Int>
    }

    /// Nil when the body is not a record this version understands.
    static func decode(_ buffer: [UInt8], body: Range<Int>) -> Layout? {
        guard body.count >= headerSize, buffer[body.lowerBound] == recordKind else { return nil }
        var time: UInt64 = 0
        for index in (body.lowerBound + 1)..<(body.lowerBound + 9) { time = time << 8 | UInt64(buffer[index]) }
        var keyLength = 0
        for index in (body.lowerBound + 9)..<(body.lowerBound + 13) { keyLength = keyLength << 8 | Int(buffer[index]) }
        let keyStart = body.lowerBound + headerSize
        guard keyLength <= body.upperBound - keyStart else { return nil }
        return Layout(
            eventTime: Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: time)),
            key: keyStart..<(keyStart + keyLength),
            value: (keyStart + keyLength)..<body.upperBound
        )
    }
}
