/// A point in time as nanoseconds since the Unix epoch (UTC).
///
/// Nanoseconds because devices may send them; 64 bits cover the years 1677 to 2262. PostgreSQL keeps
/// microseconds, so values written there are truncated to the microsecond.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    @inlinable
    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    @inlinable
    public init(microsecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = microsecondsSinceEpoch &* 1_000
    }

    @inlinable
    public init(millisecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = millisecondsSinceEpoch &* 1_000_000
    }

    @inlinable
    public init(secondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = secondsSinceEpoch &* 1_000_000_000
    }

    @inlinable
    public var microsecondsSinceEpoch: Int64 {
        // Floor division, so times before 1970 round towards the past like PostgreSQL does.
        let (quotient, remainder) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    @inlinable
    public var secondsSinceEpoch: Double {
        Double(nanosecondsSinceEpoch) / 1e9
    }

    /// The wall clock now (CLOCK_REALTIME).
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanosecondsSinceEpoch: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    @inlinable
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    @inlinable
    public func adding(nanoseconds: Int64) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch &+ nanoseconds)
    }

    public var description: String { CivilTime(self).rfc3339 }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
