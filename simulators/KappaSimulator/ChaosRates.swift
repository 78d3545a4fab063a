/// How often each transport fault is injected: probabilities per message (duplicate, out of order, late)
/// or per device tick (clock skew episodes, extra malformed and oversized messages). All zero by default.
public struct ChaosRates: Hashable, Sendable {
    public var duplicate: Double
    public var outOfOrder: Double
    public var late: Double
    public var clockSkew: Double
    public var malformed: Double
    public var oversized: Double

    public init(duplicate: Double = 0, outOfOrder: Double = 0, late: Double = 0, clockSkew: Double = 0, malformed: Double = 0, oversized: Double = 0) {
        self.duplicate = duplicate
        self.outOfOrder = outOfOrder
        self.late = late
        self.clockSkew = clockSkew
        self.malformed = malformed
        self.oversized = oversized
    }

    public static let none = ChaosRates()

    public var isNone: Bool { self == .none }
}
