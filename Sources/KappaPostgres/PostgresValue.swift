import KappaCore

/// A typed query parameter or COPY field.
///
/// Each case is sent with its explicit type OID, so the server never has to guess. Fixed-width types go in
/// PostgreSQL's binary format (exact: no decimal round trip for doubles, microseconds for times); strings go as
/// text. Literals work too: `[42, "sensor-7", 21.5, true, nil]`.
public enum PostgresValue: Sendable, Hashable {
    /// SQL NULL without a type; the server infers it from the context.
    case null
    case bool(Bool)
    case int64(Int64)
    case double(Double)
    case text(String)
    case bytea([UInt8])
    /// A `timestamptz`; PostgreSQL keeps microseconds, so nanoseconds are floored to the microsecond.
    case timestamptz(Timestamp)
    /// JSON text sent as `jsonb` (the server parses and validates it).
    case jsonb(String)
    /// Text whose type the server infers from the context (`numeric`, an enum, `interval`…): sent with OID 0.
    case untyped(String)

    public init(_ value: Bool?) { self = value.map { .bool($0) } ?? .null }
    public init(_ value: Int64?) { self = value.map { .int64($0) } ?? .null }
    public init(_ value: Int?) { self = value.map { .int64(Int64($0)) } ?? .null }
    public init(_ value: Double?) { self = value.map { .double($0) } ?? .null }
    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    public init(_ value: [UInt8]?) { self = value.map { .bytea($0) } ?? .null }
    public init(_ value: Timestamp?) { self = value.map { .timestamptz($0) } ?? .null }
}

extension PostgresValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .text(value) }
}

/// PostgreSQL type OIDs this library sends or names in errors (from `pg_type.dat`; they never change).
enum PostgresTypeOID {
    static let unspecified: UInt32 = 0
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let text: UInt32 = 25
    static let float4: UInt32 = 700
    static let float8: UInt32 = 701
    static let timestamptz: UInt32 = 1184
    static let jsonb: UInt32 = 3802

    static func name(_ oid: UInt32) -> String {
        switch oid {
        case 16: "bool"
        case 17: "bytea"
        case 18: "char"
        case 19: "name"
        case 20: "int8"
        case 21: "int2"
        case 23: "int4"
        case 25: "text"
        case 26: "oid"
        case 114: "json"
        case 700: "float4"
        case 701: "float8"
        case 1042: "bpchar"
        case 1043: "varchar"
        case 1082: "date"
        case 1114: "timestamp"
        case 1184: "timestamptz"
        case 1186: "interval"
        case 1700: "numeric"
        case 2950: "uuid"
        case 3802: "jsonb"
        default: "oid \(oid)"
        }
    }
}

/// PostgreSQL's binary `timestamptz` counts microseconds from 2000-01-01 00:00:00 UTC.
enum PostgresEpoch {
    static let microsecondsFromUnixEpoch: Int64 = 946_684_800 * 1_000_000
}

extension PostgresValue {
    /// The OID sent with the value.
    var typeOID: UInt32 {
        switch self {
        case .null, .untyped: PostgresTypeOID.unspecified
        case .bool: PostgresTypeOID.bool
        case .int64: PostgresTypeOID.int8
        case .double: PostgresTypeOID.float8
        case .text: PostgresTypeOID.text
        case .bytea: PostgresTypeOID.bytea
        case .timestamptz: PostgresTypeOID.timestamptz
        case .jsonb: PostgresTypeOID.jsonb
        }
    }

    /// Whether the value travels in binary format (otherwise text).
    var isBinary: Bool {
        switch self {
        case .bool, .int64, .double, .bytea, .timestamptz: true
        case .null, .text, .jsonb, .untyped: false
        }
    }

    /// Appends the value's wire bytes (binary or text, without any length prefix); false for NULL.
    func appendWireBytes(to bytes: inout [UInt8]) -> Bool {
        switch self {
        case .null:
            return false
        case .bool(let value):
            bytes.append(value ? 1 : 0)
        case .int64(let value):
            bytes.appendBigEndian(value)
        case .double(let value):
            bytes.appendBigEndian(value.bitPattern)
        case .text(let value), .untyped(let value), .jsonb(let value):
            bytes.append(contentsOf: value.utf8)
        case .bytea(let value):
            bytes.append(contentsOf: value)
        case .timestamptz(let value):
            bytes.appendBigEndian(value.microsecondsSinceEpoch &- PostgresEpoch.microsecondsFromUnixEpoch)
        }
        return true
    }
}

extension [UInt8] {
    @inlinable
    mutating func appendBigEndian<Integer: FixedWidthInteger>(_ value: Integer) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
