import KappaCore

/// One value of a result row, in PostgreSQL's text format, with typed accessors.
///
/// The accessors throw a ``PostgresError`` with code `.decoding` that names the column, its type and the value
/// (shortened) when the value is NULL or does not parse as the type asked for. Use ``isNull`` or
/// ``decode(_:)`` with an `Optional` type for nullable columns: `try row["tags"].decode(String?.self)`.
public struct PostgresCell: Sendable {
    public let columnName: String
    /// The column's type OID; 0 for a column that does not exist in the result.
    public let typeOID: UInt32
    /// The value's text-format bytes as the server sent them; nil for NULL.
    public let rawBytes: ArraySlice<UInt8>?
    private let isMissingColumn: Bool

    init(column: PostgresRows.Column, bytes: ArraySlice<UInt8>?) {
        self.columnName = column.name
        self.typeOID = column.typeOID
        self.rawBytes = bytes
        self.isMissingColumn = false
    }

    init(missingColumn name: String) {
        self.columnName = name
        self.typeOID = 0
        self.rawBytes = nil
        self.isMissingColumn = true
    }

    public var isNull: Bool { rawBytes == nil }

    public var string: String {
        get throws(PostgresError) { String(decoding: try present("String"), as: UTF8.self) }
    }

    public var int64: Int64 {
        get throws(PostgresError) {
            let text = try present("Int64")
            guard let value = Int64(String(decoding: text, as: UTF8.self)) else { throw failure("Int64") }
            return value
        }
    }

    public var int: Int {
        get throws(PostgresError) { Int(try int64) }
    }

    /// A `float8`/`float4`/integer/`numeric` value; `NaN`, `Infinity` and `-Infinity` included.
    public var double: Double {
        get throws(PostgresError) {
            let text = String(decoding: try present("Double"), as: UTF8.self)
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard let value = Double(text), value.isFinite else { throw failure("Double") }
                return value
            }
        }
    }

    public var bool: Bool {
        get throws(PostgresError) {
            switch Array(try present("Bool")) {
            case [UInt8(ascii: "t")]: return true
            case [UInt8(ascii: "f")]: return false
            default: throw failure("Bool")
            }
        }
    }

    /// A `bytea` value (hex output format, PostgreSQL's default), decoded to its bytes.
    public var bytes: [UInt8] {
        get throws(PostgresError) {
            let text = try present("[UInt8]")
            guard let decoded = PostgresTextFormat.decodeHexBytea(text) else { throw failure("[UInt8]") }
            return decoded
        }
    }

    /// A `timestamptz` (or `timestamp`, read as UTC; or `date`, at midnight UTC) to the microsecond.
    public var timestamp: Timestamp {
        get throws(PostgresError) {
            let text = try present("Timestamp")
            guard let value = PostgresTextFormat.parseTimestamp(text) else { throw failure("Timestamp") }
            return value
        }
    }

    /// Decodes the value as `type`; `Optional` types give nil for NULL instead of throwing.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self) throws(PostgresError) -> Value {
        try Value(from: self)
    }

    private func present(_ swiftType: String) throws(PostgresError) -> ArraySlice<UInt8> {
        guard !isMissingColumn else {
            throw PostgresError(code: .decoding, message: "the result has no column \"\(columnName)\"")
        }
        guard let rawBytes else {
            throw PostgresError(
                code: .decoding,
                message: "column \"\(columnName)\" (\(PostgresTypeOID.name(typeOID))) is NULL, expected \(swiftType)"
            )
        }
        return rawBytes
    }

    private func failure(_ swiftType: String) -> PostgresError {
        let text = String(decoding: rawBytes ?? [], as: UTF8.self)
        let shown = text.count > 64 ? text.prefix(64) + "…" : Substring(text)
        return PostgresError(
            code: .decoding,
            message: "column \"\(columnName)\" (\(PostgresTypeOID.name(typeOID))): cannot decode \"\(shown)\" as \(swiftType)"
        )
    }
}

/// A Swift type a ``PostgresCell`` can be decoded as.
public protocol PostgresDecodable {
    init(from cell: PostgresCell) throws(PostgresError)
}

extension Int64: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.int64 }
}

extension Int: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.int }
}

extension Double: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.double }
}

extension String: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.string }
}

extension Bool: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.bool }
}

extension [UInt8]: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.bytes }
}

extension Timestamp: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) { self = try cell.timestamp }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        self = cell.isNull ? nil : try Wrapped(from: cell)
    }
}
