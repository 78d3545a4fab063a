/// Appends the primitives of the log's binary records: LEB128 varints, little-endian fixed-width
/// numbers, and length-prefixed UTF-8 strings and byte strings.
@usableFromInline
struct RecordWriter {
    @inline(__always)
    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        Varint.append(value, to: &bytes)
    }

    @inline(__always)
    static func appendFixed64(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func appendString(_ string: String, to bytes: inout [UInt8]) {
        var string = string
        string.withUTF8 { utf8 in
            appendVarint(UInt64(utf8.count), to: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }

    @inline(__always)
    static func appendBytes(_ data: [UInt8], to bytes: inout [UInt8]) {
        appendVarint(UInt64(data.count), to: &bytes)
        bytes.append(contentsOf: data)
    }
}

/// Reads what `RecordWriter` wrote, checking every length against what is left.
@usableFromInline
struct RecordReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(RecordDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw RecordDecodingError(code: .truncated, offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(RecordDecodingError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            // The tenth byte may only carry the top bit of a 64-bit value.
            guard shift < 63 || (shift == 63 && next <= 1) else {
                throw RecordDecodingError(code: .invalidVarint, offset: start)
            }
            value |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return value }
            shift += 7
        }
    }

    mutating func fixed64() throws(RecordDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw RecordDecodingError(code: .truncated, offset: offset) }
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 8)])) }
        offset += 8
        return UInt64(littleEndian: value)
    }

    mutating func fixed32() throws(RecordDecodingError) -> UInt32 {
        guard remaining >= 4 else { throw RecordDecodingError(code: .truncated, offset: offset) }
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4)])) }
        offset += 4
        return UInt32(littleEndian: value)
    }

    /// A length prefix, checked against the bytes left so that a garbage length cannot ask for more.
    mutating func length() throws(RecordDecodingError) -> Int {
        let start = offset
        let length = try varint()
        guard length <= UInt64(remaining) else { throw RecordDecodingError(code: .truncated, offset: start) }
        return Int(length)
    }

    mutating func string() throws(RecordDecodingError) -> String {
        let count = try length()
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        // ASCII is the norm (device ids, metric names); validate only what is not.
        if slice.contains(where: { $0 >= 0x80 }),
           let bad = UTF8Validation.firstInvalidOffset(in: slice, from: 0, to: count) {
            throw RecordDecodingError(code: .invalidUTF8, offset: offset + bad)
        }
        offset += count
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func byteArray() throws(RecordDecodingError) -> [UInt8] {
        let count = try length()
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    func finish() throws(RecordDecodingError) {
        guard offset == bytes.count else { throw RecordDecodingError(code: .trailingBytes, offset: offset) }
    }
}
