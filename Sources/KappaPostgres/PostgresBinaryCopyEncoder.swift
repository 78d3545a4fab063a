import KappaCore

/// Rows in PostgreSQL's binary COPY format (`COPY … FROM STDIN (FORMAT binary)`), built in memory.
///
/// Layout: the 11-byte `PGCOPY\n\377\r\n\0` signature, flags and header-extension length (both 0); per row an
/// int16 field count, then per field an int32 length (-1 for NULL) and the value in the column type's binary
/// form; an int16 -1 trailer. Binary fields must match the column type exactly: `Int64` for `bigint`, `Int32`
/// for `integer`, `Double` for `double precision`, `Timestamp` for `timestamptz`, `String` for `text`/`varchar`.
///
/// Pure bytes, no I/O: ``PostgresCopyWriter`` streams what this builds to the server in chunks.
public struct PostgresBinaryCopyEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var fieldsLeftInRow = 0

    private static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    /// An encoder that starts with the header.
    public init() {
        bytes.append(contentsOf: Self.signature)
        bytes.appendBigEndian(Int32(0))  // flags: no OIDs
        bytes.appendBigEndian(Int32(0))  // header extension length
    }

    /// Starts a row of `fieldCount` fields; the previous row must be complete.
    public mutating func beginRow(fieldCount: Int) {
        precondition(fieldsLeftInRow == 0, "the previous COPY row has \(fieldsLeftInRow) fields missing")
        fieldsLeftInRow = fieldCount
        bytes.appendBigEndian(Int16(fieldCount))
    }

    public mutating func appendNull() {
        field(length: -1)
    }

    public mutating func append(_ value: Bool) {
        field(length: 1)
        bytes.append(value ? 1 : 0)
    }

    public mutating func append(_ value: Int16) {
        field(length: 2)
        bytes.appendBigEndian(value)
    }

    public mutating func append(_ value: Int32) {
        field(length: 4)
        bytes.appendBigEndian(value)
    }

    public mutating func append(_ value: Int64) {
        field(length: 8)
        bytes.appendBigEndian(value)
    }

    /// A `double precision` (float8) field.
    public mutating func append(_ value: Double) {
        field(length: 8)
        bytes.appendBigEndian(value.bitPattern)
    }

    /// A `real` (float4) field.
    public mutating func append(_ value: Float) {
        field(length: 4)
        bytes.appendBigEndian(value.bitPattern)
    }

    /// A `text`/`varchar` field (UTF-8; the binary form of text is its bytes).
    public mutating func append(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            field(length: utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    /// A `bytea` field. Contiguous bytes (an array, a slice) go in as one copy: called from another module this
    /// is not specialized, and a byte-by-byte append cost a rollup row's sketch about 1,100 instructions.
    public mutating func append(bytes value: some Collection<UInt8>) {
        let copied: Void? = value.withContiguousStorageIfAvailable { append(bytes: UnsafeRawBufferPointer($0)) }
        guard copied == nil else { return }
        field(length: value.count)
        bytes.append(contentsOf: value)
    }

    /// A `bytea` field from raw bytes: one copy.
    public mutating func append(bytes value: UnsafeRawBufferPointer) {
        field(length: value.count)
        bytes.append(contentsOf: value)
    }

    /// An array's bytes, without the generic form's dispatch: a rollup checkpoint writes a sketch per row this way
    /// (about 160 instructions a row fewer than through the generic form, callgrind on RollupProcessorBenchmark).
    public mutating func append(bytes value: [UInt8]) {
        value.withUnsafeBytes { append(bytes: $0) }
    }

    /// A `timestamptz` (or `timestamp`) field, floored to the microsecond.
    public mutating func append(_ value: Timestamp) {
        field(length: 8)
        bytes.appendBigEndian(value.microsecondsSinceEpoch &- PostgresEpoch.microsecondsFromUnixEpoch)
    }

    /// A `jsonb` field from JSON text (binary jsonb is a version byte, 1, then the text).
    public mutating func append(jsonb value: String) {
        field(length: value.utf8.count + 1)
        bytes.append(1)
        bytes.append(contentsOf: value.utf8)
    }

    /// `fieldCount` fields already in their binary form (each an int32 length, then the value), appended as one
    /// block: a writer with many fixed-width fields per row fills them on the stack and copies once, instead of
    /// two appends per field.
    public mutating func appendEncodedFields(_ fields: UnsafeRawBufferPointer, count fieldCount: Int) {
        precondition(fieldsLeftInRow >= fieldCount, "more COPY fields than beginRow(fieldCount:) announced")
        fieldsLeftInRow -= fieldCount
        bytes.append(contentsOf: fields)
    }

    /// A field from a ``PostgresValue``: `.int64` needs a `bigint` column, `.text` and `.untyped` a text one.
    public mutating func append(_ value: PostgresValue) {
        switch value {
        case .null: appendNull()
        case .bool(let value): append(value)
        case .int64(let value): append(value)
        case .double(let value): append(value)
        case .text(let value), .untyped(let value): append(value)
        case .bytea(let value): append(bytes: value)
        case .timestamptz(let value): append(value)
        case .jsonb(let value): append(jsonb: value)
        }
    }

    /// A whole row of values.
    public mutating func appendRow(_ values: [PostgresValue]) {
        beginRow(fieldCount: values.count)
        for value in values { append(value) }
    }

    /// The trailer that ends the data.
    public mutating func appendTrailer() {
        precondition(fieldsLeftInRow == 0, "the last COPY row has \(fieldsLeftInRow) fields missing")
        bytes.appendBigEndian(Int16(-1))
    }

    /// Hands out the bytes so far and starts an empty buffer (same capacity); the header is not repeated.
    public mutating func takeBytes() -> [UInt8] {
        var taken: [UInt8] = []
        taken.reserveCapacity(bytes.capacity)
        swap(&taken, &bytes)
        return taken
    }

    private mutating func field(length: Int) {
        precondition(fieldsLeftInRow > 0, "more COPY fields than beginRow(fieldCount:) announced")
        fieldsLeftInRow -= 1
        bytes.appendBigEndian(Int32(length))
    }
}
